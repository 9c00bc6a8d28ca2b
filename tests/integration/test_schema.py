"""Schema rules: USCC check and spec times in SQL, the audit append function, the API role's limits, batch references."""

import itertools
from datetime import datetime

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


def _python_spec_time(value: str | None) -> datetime | None:
    """What core.spec_time must answer: strptime on 8 or 14 ASCII digits, else nothing."""
    if value is None or len(value) not in (8, 14) or not (value.isascii() and value.isdigit()):
        return None
    try:
        return datetime.strptime(value, "%Y%m%d%H%M%S" if len(value) == 14 else "%Y%m%d")
    except ValueError:
        return None


def test_sql_spec_time_agrees_with_python_on_every_edge(db: sa.Engine) -> None:
    """Each field at and past its bounds (leap years, month ends, 24:00, :60), both lengths, and non-times."""
    years, months = ("0000", "0001", "1900", "2000", "2023", "2024", "2100", "2200", "9999"), ("00", "01", "02", "04", "06",
                    "09", "11", "12", "13", "1a")  # fmt: skip
    days = ("00", "01", "28", "29", "30", "31", "32")
    values = [
        "".join(parts)
        for parts in itertools.product(years, months, days, ("", "00", "23", "24"), ("00", "59", "60"), ("00", "59", "60"))
        if parts[3] or parts[4:] == ("00", "00")  # yyyyMMdd once, not once per minute and second
    ]
    values += [None, "", "2024", "202401011", "2024010112000", "202401011200001", "２０２４０１０１", "2024-1-01",
               " 20240101", "20240101 ", "+0240101", "-0240101", "2024010１"]  # fmt: skip
    with db.connect() as conn:
        got = dict(conn.execute(sa.text("SELECT v, core.spec_time(v) FROM unnest(CAST(:v AS text[])) v"), {"v": values}).all())
    wrong = {v: (got[v], _python_spec_time(v)) for v in values if got[v] != _python_spec_time(v)}
    assert not wrong, list(wrong.items())[:5]
    assert sum(got[v] is not None for v in values) > 1000  # the grid holds real moments, not only rejects


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


DECISION = (
    "INSERT INTO core.penalty_decision (authority_code, decision_no, party_name, party_category, violation_type,"
    " penalty_categories, decision_date, authority_name, source_format, content_hash, first_batch_id, last_batch_id)"
    " VALUES ('11410800005000000X', :no, '某公司', '法人及非法人组织', '串通投标', '{罚款}', '2026-01-05', '焦作市住建局',"
    " 'current', md5(:no), :b, :b) RETURNING id"
)
VERSION = (
    "INSERT INTO core.penalty_decision_version (penalty_id, version, batch_id, content_hash, record)"
    " VALUES (:p, 1, :b, 'h', '{}')"
)


def test_a_published_decision_is_never_deleted_and_what_names_it_must_exist(db: sa.Engine) -> None:
    with db.begin() as conn:
        batch = _new_batch(conn)
        decision = conn.scalar(sa.text(DECISION), {"no": "焦住建罚〔2026〕1号", "b": batch})
        conn.execute(sa.text(VERSION), {"p": decision, "b": batch})
    for statement in ("DELETE FROM core.penalty_decision", "TRUNCATE core.penalty_decision CASCADE",
                      "UPDATE core.penalty_decision SET id = id + 1000"):  # fmt: skip
        with pytest.raises(sa.exc.DBAPIError, match="never deleted or re-keyed"):
            with db.begin() as conn:
                conn.execute(sa.text(statement))
    with pytest.raises(sa.exc.IntegrityError, match=f"penalty_id = {decision + 1}, which is not in core.penalty_decision"):
        with db.begin() as conn:
            conn.execute(sa.text(VERSION.replace("1, :b", "2, :b")), {"p": decision + 1, "b": batch})
    with pytest.raises(sa.exc.IntegrityError, match="event names penalty decision"):
        with db.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO delivery.event (event_type, penalty_id, penalty_version, batch_id, document, document_hash)"
                        " VALUES ('penalty.created', :p, 1, :b, '{}', 'h')"),
                {"p": decision + 7, "b": batch},
            )  # fmt: skip
    with db.begin() as conn:  # a change of content is a new version, still allowed
        conn.execute(sa.text("UPDATE core.penalty_decision SET version = 2 WHERE id = :p"), {"p": decision})
        conn.execute(sa.text(VERSION.replace("1, :b", "2, :b")), {"p": decision, "b": batch})
    with db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM core.penalty_decision_version WHERE penalty_id = :p"), {"p": decision}) == 2
