"""Schema rules: USCC check in SQL, the audit append function, the API role's limits, batch references."""

import pytest
import sqlalchemy as sa

from ggzy import database
from ggzy.identifiers import uscc_check_digit_ok


@pytest.mark.parametrize(
    "code",
    ["91350100M000100Y43", "91350100M000100Y4Z", "92340602MA2PBMEM24", "91350211M0000XUF46", "00000000000000000X"],
)
def test_sql_uscc_check_agrees_with_python(db: sa.Engine, code: str) -> None:
    with db.connect() as conn:
        in_sql = conn.scalar(sa.text("SELECT coalesce(quality.uscc_check_digit_ok(:c), false)"), {"c": code})
    assert in_sql == uscc_check_digit_ok(code)


def test_api_role_cannot_touch_audit_rows_but_can_append(hub) -> None:
    api = database.api_engine(hub)
    with api.begin() as conn:
        seq = conn.scalar(
            sa.text("SELECT audit.append('officer', 'ORG', 'oversight', NULL, 'CASE-1', 'p', 'GET /x', '{}', 1, 'h', '127.0.0.1')")
        )
    assert seq == 1
    for statement in ("SELECT * FROM audit.event", "DELETE FROM audit.event", "UPDATE audit.chain_head SET seq = 0"):
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            with api.begin() as conn:
                conn.execute(sa.text(statement))


def _new_batch(conn: sa.Connection) -> str:
    """A landed batch row (what every pipeline writes before its rows)."""
    return str(
        conn.scalar(
            sa.text(
                "INSERT INTO ops.batch (dataset, source, sha256, byte_size, raw_path)"
                " VALUES ('test', 'test', md5(random()::text), 0, '/dev/null') RETURNING id"
            )
        )
    )


def _quarantined(batch_id: str, source_row: int = 1) -> dict:
    """Parameters of QUARANTINE_ROW."""
    return {"b": batch_id, "r": source_row}


QUARANTINE_ROW = (
    "INSERT INTO quality.quarantine_row (batch_id, dataset, source_row, rules, errors, raw_record)"
    " VALUES (:b, 'test', :r, '{rule}', '[]', '{}')"
)


def test_every_former_batch_foreign_key_is_checked_per_statement(db: sa.Engine) -> None:
    with db.connect() as conn:
        foreign_keys = conn.scalar(
            sa.text("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND confrelid = 'ops.batch'::regclass")
        )
        registered = conn.execute(
            sa.text("SELECT table_name::text, column_name, on_delete FROM ops.batch_reference")
        ).all()
        triggers = conn.scalar(
            sa.text(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid IN (SELECT table_name FROM ops.batch_reference)"
                " AND tgname IN ('batch_refs_inserted', 'batch_refs_updated')"
            )
        )
    assert foreign_keys == 0
    names = {(table, column) for table, column, _ in registered}
    assert {("core.penalty_decision", "first_batch_id"), ("core.penalty_decision", "last_batch_id"),
            ("core.bid", "last_batch_id"), ("delivery.event", "batch_id")} <= names  # fmt: skip
    assert ("raw.penalty_row", "batch_id", "cascade") in registered
    tables = {table for table, _ in names}
    assert triggers == 2 * len(tables)  # one INSERT and one UPDATE trigger per table, covering all its columns


def test_rows_naming_a_batch_that_does_not_exist_are_refused(db: sa.Engine) -> None:
    with db.begin() as conn:
        batch = _new_batch(conn)
        conn.execute(sa.text(QUARANTINE_ROW), [_quarantined(batch, 1), _quarantined(batch, 2)])
    ghost = "00000000-0000-4000-8000-000000000001"
    with pytest.raises(sa.exc.IntegrityError, match=f"quarantine_row .*batch_id = {ghost} is not in ops.batch"):
        with db.begin() as conn:
            conn.execute(sa.text(QUARANTINE_ROW), [_quarantined(batch, 3), _quarantined(ghost, 4)])
    with pytest.raises(sa.exc.IntegrityError, match=f"batch_id = {ghost} is not in ops.batch"):
        with db.begin() as conn:
            conn.execute(sa.text("UPDATE quality.quarantine_row SET batch_id = :g WHERE source_row = 2"), {"g": ghost})
    with db.connect() as conn:  # the refused statements left nothing behind
        assert conn.scalar(sa.text("SELECT array_agg(source_row ORDER BY source_row) FROM quality.quarantine_row")) == [1, 2]
        assert conn.scalar(sa.text("SELECT count(DISTINCT batch_id) FROM quality.quarantine_row")) == 1


def test_a_named_batch_cannot_be_deleted_and_raw_rows_go_with_their_batch(db: sa.Engine) -> None:
    with db.begin() as conn:
        named, raw_only = _new_batch(conn), _new_batch(conn)
        conn.execute(sa.text(QUARANTINE_ROW), [_quarantined(named)])
        conn.execute(
            sa.text("INSERT INTO raw.penalty_row (batch_id, source_row, source_format) VALUES (:b, 1, 'current'), (:b, 2, 'current')"),
            {"b": raw_only},
        )
    with pytest.raises(sa.exc.IntegrityError, match=f"ops.batch {named} is still named by quality.quarantine_row.batch_id"):
        with db.begin() as conn:
            conn.execute(sa.text("DELETE FROM ops.batch WHERE id = :b"), {"b": named})
    with pytest.raises(sa.exc.IntegrityError, match="still named by"):
        with db.begin() as conn:
            conn.execute(sa.text("UPDATE ops.batch SET id = gen_random_uuid() WHERE id = :b"), {"b": named})
    with db.begin() as conn:
        conn.execute(sa.text("UPDATE ops.batch SET status = 'failed' WHERE id = :b"), {"b": named})  # not a re-key
        conn.execute(sa.text("DELETE FROM ops.batch WHERE id = :b"), {"b": raw_only})
    with db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM raw.penalty_row")) == 0
        assert conn.scalar(sa.text("SELECT status FROM ops.batch WHERE id = :b"), {"b": named}) == "failed"
