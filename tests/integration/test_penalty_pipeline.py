"""The penalty pipeline end to end on real PostgreSQL: department stand-in files in, warehouse rows out.

Each generated file knows, row by row, what validation must report (GeneratedFile.expected), so these tests
compare the warehouse against the generator's ground truth rather than against numbers typed here.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ggzy.delivery.units import sync_units
from ggzy.jurisdictions import load_profile
from ggzy.pipelines.penalties import ingest_bytes
from standins.departments import (
    broken_file,
    departments_from_profile,
    gbk_csv_file,
    good_file,
    legacy_file,
)

PROFILE = load_profile("jiaozuo")
DEPARTMENT = departments_from_profile(PROFILE)[0]


def ingest(generated, hub, db, submitted_by=None):
    """Ingest a generated file as its department would submit it."""
    return ingest_bytes(
        generated.data, generated.filename, source="test", submitted_by=submitted_by or generated.department.code,
        settings=hub, engine=db,
    )  # fmt: skip


def scalar(db, sql, **params):
    with db.connect() as conn:
        return conn.scalar(sa.text(sql), params)


def quarantined_rules(db, batch_id) -> dict[int, list[str]]:
    with db.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT source_row, rules FROM quality.quarantine_row WHERE batch_id = :b"), {"b": batch_id}
        ).all()
    return {row: sorted(rules) for row, rules in rows}


@pytest.mark.parametrize(
    "make",
    [
        lambda: broken_file("xlsx", department=DEPARTMENT, rows=30, seed=1),
        lambda: broken_file("json", department=DEPARTMENT, rows=30, seed=2),
        lambda: gbk_csv_file(department=DEPARTMENT, rows=30, seed=3),
        lambda: legacy_file(department=DEPARTMENT, rows=30, seed=4),
    ],
    ids=["xlsx-broken", "json-broken", "csv-gbk", "csv-legacy"],
)
def test_each_file_loads_good_rows_quarantines_bad_ones_with_rule_names(make, hub, db):
    generated = make()
    report = ingest(generated, hub, db)
    expected = generated.summary()

    assert report.status == "loaded" and report.conserved
    for figure in ("rows_in", "rows_loaded", "rows_quarantined", "rows_duplicate", "rows_warned"):
        assert getattr(report, figure) == expected[figure], figure
    errors = {row: sorted(r for r in rules if not r.startswith(("uscc_check_digit:", "id_number_check_digit:")))
              for row, rules in generated.expected_rules().items()}  # fmt: skip
    assert quarantined_rules(db, report.batch_id) == {row: rules for row, rules in errors.items() if rules}
    batch = dict(scalar_row(db, "SELECT * FROM ops.batch WHERE id = :b", b=report.batch_id))
    assert batch["rows_in"] == batch["rows_loaded"] + batch["rows_quarantined"] + batch["rows_duplicate"]
    assert scalar(db, "SELECT count(*) FROM core.penalty_decision WHERE first_batch_id = :b", b=report.batch_id) \
        == expected["rows_loaded"]  # fmt: skip


def scalar_row(db, sql, **params):
    with db.connect() as conn:
        return conn.execute(sa.text(sql), params).mappings().one()


def test_quarantine_keeps_the_raw_row_and_bilingual_messages_naming_file_row_field(hub, db):
    generated = broken_file("csv", department=DEPARTMENT, rows=20, seed=5)
    report = ingest(generated, hub, db)
    row = scalar_row(
        db,
        "SELECT source_row, errors, raw_record FROM quality.quarantine_row WHERE batch_id = :b"
        " AND 'required:cf_wsh' = ANY(rules)",
        b=report.batch_id,
    )
    error = next(e for e in row["errors"] if e["rule"] == "required:cf_wsh")
    assert error["field"] == "cf_wsh" and error["zh"] and error["en"]
    assert row["raw_record"], "the row as received is kept"
    assert report.quarantined and all("row" in q and q["rules"] for q in report.quarantined)


def test_checksum_only_failure_is_loaded_with_a_warning_flag(hub, db):
    generated = gbk_csv_file(department=DEPARTMENT, rows=20, seed=6)
    report = ingest(generated, hub, db)
    assert report.rows_warned == generated.count("warned") >= 1
    warned = scalar(
        db, "SELECT count(*) FROM core.penalty_decision WHERE 'uscc_check_digit:cf_xdr_shxym' = ANY(warnings)"
    )
    assert warned == generated.count("warned")


def test_legacy_rows_take_the_authority_from_the_submitting_unit(hub, db):
    generated = legacy_file(department=DEPARTMENT, rows=15, seed=7)
    report = ingest(generated, hub, db)
    assert report.rows_loaded > 0
    codes = {r for (r,) in scalar_rows(db, "SELECT DISTINCT authority_code FROM core.penalty_decision")}
    assert codes == {PROFILE.unit(DEPARTMENT.code).uscc}


def scalar_rows(db, sql, **params):
    with db.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def test_a_category_containing_the_enumeration_comma_is_stored_whole(hub, db):
    generated = good_file("csv", department=DEPARTMENT, rows=5, seed=8)
    text = generated.data.decode("utf-8")
    first = generated.records[0]
    patched = text.replace(first["cf_cflb"], "警告;法律、行政法规规定的其他行政处罚", 1)
    report = ingest_bytes(patched.encode(), "patched.csv", source="test", submitted_by=DEPARTMENT.code,
                          settings=hub, engine=db)  # fmt: skip
    assert report.rows_quarantined == 0
    stored = scalar(db, "SELECT penalty_categories FROM core.penalty_decision WHERE decision_no = :n",
                    n=first["cf_wsh"])  # fmt: skip
    assert stored == ["警告", "法律、行政法规规定的其他行政处罚"]


def test_rerun_is_idempotent_and_a_changed_decision_keeps_its_history(hub, db):
    sync_units(db, PROFILE, lambda unit: None)
    generated = good_file("csv", department=DEPARTMENT, rows=10, seed=9)
    first = ingest(generated, hub, db)
    again = ingest(generated, hub, db)
    assert again.already_processed and again.batch_id == first.batch_id
    assert scalar(db, "SELECT count(*) FROM core.penalty_decision") == 10
    units = len(PROFILE.units)
    assert scalar(db, "SELECT count(*) FROM delivery.outbox") == 10 * units

    record = generated.records[0]
    changed = generated.data.decode("utf-8").replace(record["cf_sy"], record["cf_sy"] + "（更正）", 1)
    update = ingest_bytes(changed.encode(), "corrected.csv", source="test", submitted_by=DEPARTMENT.code,
                          settings=hub, engine=db)  # fmt: skip
    assert (update.rows_updated, update.rows_duplicate, update.rows_inserted) == (1, 9, 0)
    versions = scalar_rows(
        db,
        "SELECT v.version FROM core.penalty_decision_version v JOIN core.penalty_decision d ON d.id = v.penalty_id"
        " WHERE d.decision_no = :n ORDER BY v.version",
        n=record["cf_wsh"],
    )
    assert [v for (v,) in versions] == [1, 2]
    assert scalar(db, "SELECT count(*) FROM delivery.event WHERE event_type = 'penalty.updated'") == 1
    assert scalar(db, "SELECT count(*) FROM delivery.outbox") == 11 * units

    # Re-sending the original text never flips the decision back: it is a duplicate of version 1.
    back = ingest_bytes(generated.data + b"\n", "resent.csv", source="test", submitted_by=DEPARTMENT.code,
                        settings=hub, engine=db)  # fmt: skip
    assert (back.rows_duplicate, back.rows_loaded) == (10, 0)


def test_a_failure_mid_merge_leaves_no_half_loaded_batch_and_a_rerun_completes(hub, db):
    """A real database error during the merge (a trigger refusing one row) rolls the whole batch back."""
    sync_units(db, PROFILE, lambda unit: None)
    generated = good_file("csv", department=DEPARTMENT, rows=12, seed=10)
    victim = generated.records[7]["cf_wsh"]
    with db.begin() as conn:
        conn.execute(sa.text(
            "CREATE FUNCTION core.test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" IF NEW.decision_no = '{victim}' THEN RAISE EXCEPTION 'disk full (simulated by test)'; END IF;"
            " RETURN NEW; END $$"
        ))  # fmt: skip
        conn.execute(sa.text(
            "CREATE TRIGGER test_refuse BEFORE INSERT ON core.penalty_decision"
            " FOR EACH ROW EXECUTE FUNCTION core.test_refuse()"
        ))  # fmt: skip
    with pytest.raises(sa.exc.DBAPIError, match="disk full"):
        ingest(generated, hub, db)
    assert scalar(db, "SELECT status FROM ops.batch") == "failed"
    for table in ("core.penalty_decision", "core.penalty_decision_version", "delivery.event", "delivery.outbox",
                  "quality.quarantine_row"):  # fmt: skip
        assert scalar(db, f"SELECT count(*) FROM {table}") == 0, table

    with db.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER test_refuse ON core.penalty_decision"))
    rerun = ingest(generated, hub, db)
    assert rerun.status == "loaded" and rerun.rows_loaded == 12 and rerun.conserved
    assert scalar(db, "SELECT count(*) FROM ops.batch") == 1
    assert scalar(db, "SELECT count(*) FROM delivery.outbox") == 12 * len(PROFILE.units)


def test_unreadable_file_is_rejected_with_a_bilingual_reason_and_kept(hub, db):
    report = ingest_bytes(b"\x00\x01 not a spreadsheet", "garbage.xlsx", source="test",
                          submitted_by=DEPARTMENT.code, settings=hub, engine=db)  # fmt: skip
    assert report.status == "rejected"
    assert report.error["message"]["zh"] and report.error["message"]["en"]
    assert scalar(db, "SELECT raw_path FROM ops.batch WHERE id = :b", b=report.batch_id)
