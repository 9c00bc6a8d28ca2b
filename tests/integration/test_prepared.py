"""database.fetch_prepared: a hot lookup prepared once per pooled connection, answering like the plain query."""

from __future__ import annotations

import sqlalchemy as sa

from ggzy import database

SQL = "SELECT relname, relkind FROM pg_class WHERE relnamespace = %(schema)s::regnamespace AND relkind = %(kind)s ORDER BY relname"


def _plain(engine: sa.Engine, params: dict) -> list[tuple]:
    """The same statement run unprepared through the driver."""
    connection = engine.raw_connection()
    try:
        with connection.dbapi_connection.cursor() as cursor:
            cursor.execute(SQL, params)
            return cursor.fetchall()
    finally:
        connection.close()


def _prepared_names(engine: sa.Engine) -> list[str]:
    """Statements prepared on the connection the pool hands out next (the pool has one)."""
    connection = engine.raw_connection()
    try:
        with connection.dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT name FROM pg_prepared_statements ORDER BY name")
            return [name for (name,) in cursor.fetchall()]
    finally:
        connection.close()


def test_prepared_once_per_connection_and_again_on_a_new_one(hub):
    """Same rows as the plain query; PREPARE happens once per connection, and again after a reconnect."""
    engine = sa.create_engine(database.warehouse_url(hub), pool_size=1, max_overflow=0)
    try:
        for params in ({"schema": "core", "kind": "r"}, {"schema": "ops", "kind": "r"}, {"schema": "core", "kind": "S"}):
            names, rows = database.fetch_prepared(engine, "test_tables", SQL, params)
            assert names == ["relname", "relkind"]
            assert rows == _plain(engine, params) and rows
        assert _prepared_names(engine) == ["test_tables"]  # three calls, one PREPARE on the one connection

        # The parameters bind by name, whatever order the dict lists them in.
        _, reordered = database.fetch_prepared(engine, "test_tables", SQL, {"kind": "r", "schema": "ops"})
        assert reordered == _plain(engine, {"schema": "ops", "kind": "r"})

        engine.pool.dispose()  # the server connection is replaced: its statements are gone, the record too
        assert _prepared_names(engine) == []
        _, again = database.fetch_prepared(engine, "test_tables", SQL, {"schema": "core", "kind": "r"})
        assert again == _plain(engine, {"schema": "core", "kind": "r"})
        assert _prepared_names(engine) == ["test_tables"]
    finally:
        engine.dispose()
