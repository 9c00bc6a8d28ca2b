"""Trading file drops end to end on hand-made records: conservation, waiting children, protected IDs, faults."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ggzy.pipelines.trading import ingest_files, status
from tests.integration.trading_fixtures import EXPERT_ID, SECTION, small_year, write_json


@pytest.mark.airflow  # slow (> 20 s)
def test_small_year_lands_with_conservation_and_protected_ids(hub, db, tmp_path) -> None:
    """Every dataset loads; IDs are hashed + masked; a child before its parent waits, then loads."""
    year = small_year()
    for code in ("500", "501", "503", "507", "508", "513", "512"):  # 502 (the section) comes later
        write_json(tmp_path / "drop", code, year[code])
    reports = ingest_files(hub, tmp_path / "drop")
    for name, r in reports.items():
        assert r["rows_in"] == r["rows_loaded"] + r["rows_quarantined"] + r["rows_duplicate"], (name, r)
    assert reports["trading_507"]["rows_waiting"] == 4
    assert reports["trading_500"]["rows_inserted"] == 1
    with db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM core.bid")) == 0
        assert conn.scalar(sa.text("SELECT count(*) FROM ops.trading_waiting")) == 7  # 507 x4, 508, 512, 513
    with db.begin() as conn:  # one child has waited ten days: reported as overdue, the others not yet
        conn.execute(
            sa.text(
                "UPDATE ops.trading_waiting SET first_seen = now() - interval '10 days' WHERE dataset = '512'"
            )
        )
    overdue = status(db, waiting_days=7)["overdue_waiting"]
    assert [(w["dataset"], w["parent_dataset"], w["parent_key"]) for w in overdue] == [
        ("512", "502", SECTION)
    ]
    write_json(tmp_path / "drop2", "502", year["502"])
    second = ingest_files(hub, tmp_path / "drop2")
    assert second["trading_502"]["rows_loaded"] == 1
    # the waiting children are released in the same run, once their parent is in
    assert second["trading_507"]["rows_released"] == 4
    assert second["trading_513"]["rows_released"] == 1
    third = ingest_files(hub, tmp_path / "drop")
    assert all(r["already_processed"] and r["rows_released"] == 0 for r in third.values()), third
    with db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM core.bid")) == 4
        assert conn.scalar(sa.text("SELECT count(*) FROM ops.trading_waiting")) == 0
        assert conn.scalar(sa.text("SELECT count(DISTINCT bidder_entity_id) FROM core.bid")) == 4
    with db.connect() as conn:
        price = conn.scalar(sa.text("SELECT contract_reckon_price_yuan FROM core.bid_section"))
        assert float(price) == 5_000_000  # 500 万元
        assert conn.scalar(sa.text("SELECT count(*) FROM raw.trading_row")) == 0
        assert (
            conn.scalar(
                sa.text(
                    "SELECT count(*) FROM core.evaluation_expert WHERE expert_id_hash IS NOT NULL"
                    " AND expert_id_masked LIKE '4108%****%'"
                )
            )
            == 1
        )
    assert plaintext_locations(db, hub.raw_zone, EXPERT_ID) == []


def plaintext_locations(db: sa.Engine, raw_zone, value: str) -> list[str]:
    """Every table (outside protected) and raw-zone file holding `value` in plaintext."""
    found = []
    with db.connect() as conn:
        tables = (
            conn.execute(
                sa.text(
                    "SELECT table_schema || '.' || table_name FROM information_schema.tables"
                    " WHERE table_schema IN ('core', 'raw', 'ops', 'quality', 'delivery') AND table_type = 'BASE TABLE'"
                )
            )
            .scalars()
            .all()
        )
        for table in tables:
            if conn.scalar(
                sa.text(f"SELECT count(*) FROM {table} t WHERE t::text LIKE :v"), {"v": f"%{value}%"}
            ):
                found.append(table)
    found += [str(p) for p in raw_zone.rglob("*") if p.is_file() and value.encode() in p.read_bytes()]
    return found
