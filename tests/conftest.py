"""Shared fixtures: a real embedded PostgreSQL for the session, and a fresh migrated database per test.

The session starts one pgserver under a temporary GGZY_HOME and migrates a template database once;
each test that asks for `hub` gets its own database cloned from that template (CREATE DATABASE ...
TEMPLATE is fast), with GGZY_* variables pointing at it. Nothing here mocks our database or API.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from ggzy import database  # noqa: E402
from ggzy.settings import Settings, get_settings  # noqa: E402

TEMPLATE_DB = "ggzy_template"


@pytest.fixture(scope="session")
def hub_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GGZY_HOME for the whole session (embedded server, keys, raw zone)."""
    return tmp_path_factory.mktemp("ggzy-home")


@pytest.fixture(scope="session")
def server_url(hub_home: Path) -> Iterator[str]:
    """Admin URL of the session's embedded PostgreSQL (maintenance database 'postgres'); stopped at the end."""
    settings = Settings(home=hub_home)
    url = make_url(database.start_embedded(settings)).set(database="postgres")
    yield url.render_as_string(hide_password=False)
    database.dispose_engines()
    database.stop_embedded(settings)


@pytest.fixture(scope="session")
def template_url(server_url: str, hub_home: Path) -> str:
    """A database migrated to head once per session; per-test databases are cloned from it."""
    url = make_url(server_url).set(database=TEMPLATE_DB)
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}"))
        conn.execute(sa.text(f"CREATE DATABASE {TEMPLATE_DB}"))
    admin.dispose()
    rendered = url.render_as_string(hide_password=False)
    database.migrate(Settings(home=hub_home, database_url=rendered))
    database.dispose_engines()
    return rendered


def _clone_database(server_url: str, template_url: str) -> str:
    name = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE {make_url(template_url).database}"))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(server_url: str, url: str) -> None:
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {make_url(url).database} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def hub(
    hub_home: Path, server_url: str, template_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Settings]:
    """Settings for a fresh, migrated warehouse database; GGZY_* env vars point every component at it."""
    url = _clone_database(server_url, template_url)
    home = tmp_path / "home"
    home.mkdir()
    # Share the session's hub secret so derived passwords and keyed hashes are stable.
    (home / "keys").mkdir()
    Settings(home=hub_home).hub_secret()
    (home / "keys" / "hub.secret").write_bytes((hub_home / "keys" / "hub.secret").read_bytes())
    monkeypatch.setenv("GGZY_HOME", str(home))
    monkeypatch.setenv("GGZY_DATABASE_URL", url)
    get_settings.cache_clear()
    settings = get_settings()
    yield settings
    database.dispose_engines()
    get_settings.cache_clear()
    _drop_database(server_url, url)


@pytest.fixture
def db(hub: Settings) -> sa.Engine:
    """The owner engine of the test's fresh warehouse database."""
    return database.engine(hub)


@pytest.fixture
def live_api(hub: Settings) -> Iterator[str]:
    """The real hub API (api.app.create_app) served by uvicorn in a thread on a free 127.0.0.1 port; yields its base URL."""
    from api.server import BackgroundAPI

    with BackgroundAPI(hub) as api:
        yield api.url
