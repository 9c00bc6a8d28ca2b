"""The warehouse connection: the embedded PostgreSQL under GGZY_HOME, or any external server."""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from ggzy.settings import Settings, get_settings

log = logging.getLogger(__name__)

WAREHOUSE_DB = "ggzy"
AIRFLOW_DB = "airflow"
API_ROLE = "ggzy_api"

_server_lock = threading.Lock()


def _embedded_server(settings: Settings):
    """Start (or attach to) the embedded PostgreSQL; it keeps running after this process exits."""
    import pgserver  # imported lazily: a heavy import only the embedded path needs

    with _server_lock:
        settings.pgdata.parent.mkdir(parents=True, exist_ok=True)
        return pgserver.get_server(settings.pgdata, cleanup_mode=None)


def start_embedded(settings: Settings | None = None) -> str:
    """Start the embedded server if needed, create the hub's databases, and return the admin URL."""
    settings = settings or get_settings()
    server = _embedded_server(settings)
    for name in (WAREHOUSE_DB, AIRFLOW_DB):
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
        if "(1 row)" not in exists:
            server.psql(f"CREATE DATABASE {name};")
    return _sqlalchemy_url(server.get_uri(WAREHOUSE_DB))


def stop_embedded(settings: Settings | None = None) -> bool:
    """Stop the embedded server; returns False when it was not running."""
    settings = settings or get_settings()
    pid_file = settings.pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    server = _embedded_server(settings)
    # pgserver stops only when the last registered handle leaves; handles of processes that died without
    # running atexit (killed, or uvicorn re-raising SIGTERM) stay listed, so this call is made the last one.
    server.global_process_id_list.put([os.getpid()])
    server.cleanup_mode = "stop"
    server.cleanup()
    return True


def _sqlalchemy_url(uri: str) -> str:
    """pgserver hands out libpq URIs; SQLAlchemy wants the driver named."""
    return uri.replace("postgresql://", "postgresql+psycopg2://", 1)


def warehouse_url(settings: Settings | None = None) -> str:
    """The admin (owner) URL of the warehouse database, starting the embedded server if needed."""
    settings = settings or get_settings()
    if settings.database_url:
        return _sqlalchemy_url(settings.database_url)
    return start_embedded(settings)


def airflow_url(settings: Settings | None = None) -> str:
    """URL of Airflow's metadata database: its own database on the same server by default."""
    settings = settings or get_settings()
    if settings.airflow_database_url:
        return _sqlalchemy_url(settings.airflow_database_url)
    url = make_url(warehouse_url(settings)).set(database=AIRFLOW_DB)
    if settings.database_url:
        ensure_database(url)
    return url.render_as_string(hide_password=False)


def ensure_database(url: sa.URL) -> None:
    """Create the database named in url on its server when it does not exist."""
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}):
                conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    finally:
        admin.dispose()


def api_url(settings: Settings | None = None) -> str:
    """URL for the API's least-privileged role (no UPDATE/DELETE on audit; appends via a function)."""
    settings = settings or get_settings()
    url = make_url(warehouse_url(settings)).set(username=API_ROLE, password=api_role_password(settings))
    return url.render_as_string(hide_password=False)


def role_password(settings: Settings, purpose: bytes) -> str:
    """A login role's password, derived from the hub secret so every process agrees on it."""
    import hashlib

    return hashlib.sha256(purpose + b":" + settings.hub_secret()).hexdigest()[:32]


def api_role_password(settings: Settings) -> str:
    """The API role's password (see role_password)."""
    return role_password(settings, b"ggzy-api-role")


_engines: dict[tuple[Any, ...], Engine] = {}


def _engine(url: str, pool_size: int, max_overflow: int | None = None, **options: Any) -> Engine:
    key = (url, pool_size, max_overflow, *sorted(options.items()))
    if key not in _engines:
        options.setdefault("pool_pre_ping", True)
        overflow = pool_size if max_overflow is None else max_overflow
        _engines[key] = sa.create_engine(url, pool_size=pool_size, max_overflow=overflow, **options)
    return _engines[key]


def engine(settings: Settings | None = None) -> Engine:
    """The owner engine used by pipelines, migrations and the CLI."""
    return _engine(warehouse_url(settings), 5)


def api_engine(settings: Settings | None = None, pool_size: int = 10) -> Engine:
    """The engine the API uses, connected as the least-privileged API role."""
    return _engine(api_url(settings), pool_size)


# Connections kept for the API's one-statement work. Requests beyond it wait for a connection (no overflow:
# opening a backend per request under load cost more than the wait). With the transactional pool (10+10)
# and the library's (16) the API stays well inside PostgreSQL's 100 connections next to Airflow.
API_READ_POOL = 16


def api_read_engine(settings: Settings | None = None) -> Engine:
    """The API role in autocommit, for the one-statement work of every request (token check, lookups).

    One statement is one round trip: no BEGIN, COMMIT or ROLLBACK, and no ping on checkout; a connection
    the server dropped fails one request, and SQLAlchemy then replaces the whole pool.
    """
    return _engine(api_url(settings), API_READ_POOL, 0, isolation_level="AUTOCOMMIT", pool_pre_ping=False)


_NAMED_PARAMETER = re.compile(r"%\((\w+)\)s")


@functools.lru_cache(maxsize=64)
def _positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """The pyformat statement with each %(name)s numbered $1.. by first appearance, and the names in that order."""
    names: list[str] = []
    for name in _NAMED_PARAMETER.findall(sql):
        if name not in names:
            names.append(name)
    return _NAMED_PARAMETER.sub(lambda match: f"${names.index(match.group(1)) + 1}", sql), tuple(names)


def fetch_prepared(engine: Engine, name: str, sql: str, params: dict[str, Any]) -> tuple[list[str], list[tuple]]:
    """Column names and rows of a pyformat SELECT run as a server-side prepared statement.

    The statement is prepared once per pooled connection (remembered in the connection's info, which lives and
    dies with it), so a hot lookup is parsed and planned once instead of on every call. Rows come as tuples
    straight from the driver's cursor (no SQLAlchemy result layer).
    """
    statement, names = _positional(sql)
    connection = engine.raw_connection()
    try:
        prepared: set[str] = connection.info.setdefault("prepared_statements", set())
        with connection.dbapi_connection.cursor() as cursor:
            if name not in prepared:
                cursor.execute(f"PREPARE {name} AS {statement}")
                prepared.add(name)
            cursor.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(names))})", [params[n] for n in names])
            return [column[0] for column in cursor.description], cursor.fetchall()
    finally:
        connection.close()


def dispose_engines() -> None:
    """Close every pooled connection (tests and `ggzy db stop`)."""
    while _engines:
        _engines.popitem()[1].dispose()


def migrations_dir() -> Path:
    """Folder of the Alembic environment (schemas/migrations)."""
    import schemas

    return Path(schemas.__file__).parent / "migrations"


def migrate(settings: Settings | None = None, revision: str = "heads") -> None:
    """Bring the warehouse schema to `revision` with Alembic."""
    from alembic import command
    from alembic.config import Config

    settings = settings or get_settings()
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", warehouse_url(settings).replace("%", "%%"))
    cfg.attributes["settings"] = settings
    command.upgrade(cfg, revision)
    from ggzy.library import SQL_ROLE, sql_role_password

    set_role_password(settings, API_ROLE, api_role_password(settings))
    set_role_password(settings, SQL_ROLE, sql_role_password(settings))


def set_role_password(settings: Settings, role: str, password: str) -> None:
    """Give a login role its derived password, so it can log in over TCP on servers that ask for one."""
    from psycopg2.extensions import QuotedString

    quoted = QuotedString(password).getquoted().decode()
    with engine(settings).begin() as conn:
        conn.execute(sa.text(f"ALTER ROLE {role} PASSWORD {quoted}"))
