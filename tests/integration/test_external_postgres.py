"""The warehouse on an external PostgreSQL (the machine's server on 127.0.0.1:5432), as a deployment runs it.

Skips with the reason when no server answers there. Everything else is the same code path as the embedded
default: Alembic migration, the penalty pipeline over TCP, the API role logging in with its password.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from ggzy import database
from ggzy.audit import verify_chain
from ggzy.pipelines.penalties import ingest_bytes
from ggzy.settings import Settings
from standins.departments import broken_file

pytestmark = pytest.mark.external

EXTERNAL_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def external_url(tmp_path):
    """A fresh database on the machine's PostgreSQL; dropped afterwards."""
    admin = sa.create_engine(EXTERNAL_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            version = conn.scalar(sa.text("SHOW server_version"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432 (a machine service; start it to run this test): {exc}")
    name = f"ggzy_ext_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    yield make_url(EXTERNAL_ADMIN_URL).set(database=name).render_as_string(hide_password=False), version
    database.dispose_engines()
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def test_migrate_ingest_and_api_role_on_an_external_server(external_url, tmp_path):
    url, version = external_url
    settings = Settings(home=tmp_path / "home", database_url=url)
    database.migrate(settings)
    database.migrate(settings)  # a second migrate is a no-op
    engine = database.engine(settings)

    generated = broken_file("csv", rows=25, seed=11)
    report = ingest_bytes(generated.data, generated.filename, source="test", submitted_by=None,
                          settings=settings, engine=engine)  # fmt: skip
    assert report.status == "loaded" and report.conserved
    assert report.rows_quarantined == generated.count("quarantined")

    api_url = make_url(database.api_url(settings))
    assert api_url.host == "127.0.0.1" and api_url.password, "the API role logs in over TCP with a password"
    with engine.connect() as conn:  # the owner here is a superuser, so it may read pg_authid
        assert conn.scalar(sa.text("SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'ggzy_api'"))
    api = database.api_engine(settings)
    with api.connect() as conn:
        assert conn.scalar(sa.text("SELECT current_user")) == "ggzy_api"
        assert conn.scalar(sa.text("SELECT count(*) FROM core.penalty_decision")) == report.rows_loaded
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            conn.execute(sa.text("DELETE FROM audit.event"))
    assert verify_chain(engine).ok
    print(f"external PostgreSQL {version}: {report.rows_loaded} rows loaded")
