"""The trading pipeline end to end against the exchange-centre stand-in (HTTP API, databases, file drops).

Figures are checked against the stand-in itself: its record counts per dataset and its planted faults.
Tests slower than 20 s carry the `airflow` (slow) mark, as the house style asks.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from connectors.trading import TRADING_DATASETS
from ggzy.errors import HubError
from ggzy.pipelines.trading import layout, pull_api, pull_database, status
from quality.trading_rules import RULES_READ_CORE, trading_rules
from standins.exchange_centre import ExchangeCentreServer, TradingYear, seed_database
from tests.integration.test_trading_files import plaintext_locations

KEY = "test-key"
SECTIONS = 120
# The rule a planted fault must be reported under: quarantined (error) or loaded with the flag (warning).
FAULT_RULES = {
    "section_code_not_prefixed": ("error", "code_hierarchy:BID_SECTION_CODE"),
    "result_before_opening": ("error", "event_order:result_before_opening"),
    "contract_before_result": ("error", "event_order:contract_before_result"),
    "invalid_enum": ("error", "enumeration:{field}"),
    "malformed_time": ("error", "time_format:{field}"),
    "malformed_amount": ("error", "amount:{field}"),
    "bad_uscc_check_digit": ("warning", "uscc_check_digit:{field}"),
    "bad_id_check_digit": ("warning", "id_number_check_digit:{field}"),
}


def conserved(reports: dict) -> None:
    """Every dataset's figures satisfy rows_in = loaded + quarantined + duplicate."""
    for name, r in reports.items():
        assert r["rows_in"] == r["rows_loaded"] + r["rows_quarantined"] + r["rows_duplicate"], (name, r)


def accounted(db: sa.Engine, year: TradingYear) -> dict[str, tuple[int, int]]:
    """Per dataset: (source records, core + quarantined + waiting rows)."""
    tables = layout(db)
    out = {}
    with db.connect() as conn:
        for code, ds in TRADING_DATASETS.items():
            held = conn.scalar(
                sa.text(
                    f"SELECT (SELECT count(*) FROM core.{tables[code].table})"
                    " + (SELECT count(DISTINCT natural_key) FROM quality.quarantine_row WHERE dataset = :n)"
                    " + (SELECT count(*) FROM ops.trading_waiting WHERE dataset = :c)"
                ),
                {"n": ds.name, "c": code},
            )
            out[code] = (year.count(code), held)
    return out


@pytest.mark.airflow  # slow (> 20 s)
def test_api_pull_lands_every_dataset_quarantines_faults_and_is_idempotent(hub, db) -> None:
    """All datasets land with conservation; planted faults get their rules; a rerun loads nothing."""
    year = TradingYear(seed=5, sections=SECTIONS)
    with ExchangeCentreServer(year, api_key=KEY) as server:
        first = pull_api(hub, server.base_url, KEY, page_size=500)
        conserved(first)
        assert set(first) == {ds.name for ds in TRADING_DATASETS.values() if year.count(ds.code)}
        assert sum(r["rows_in"] for r in first.values()) == sum(year.count(c) for c in TRADING_DATASETS)
        assert {c: n for c, (n, held) in accounted(db, year).items() if n != held} == {}

        second = pull_api(hub, server.base_url, KEY, page_size=500)
        assert all(r["rows_in"] == 0 and r["rows_loaded"] == 0 for r in second.values()), second

    with db.connect() as conn:
        quarantined = conn.execute(
            sa.text("SELECT dataset, natural_key, rules FROM quality.quarantine_row")
        ).all()
        flagged = {
            (code, rule) for code, ds in TRADING_DATASETS.items()
            for rule in conn.execute(sa.text(
                f"SELECT DISTINCT unnest(warnings) FROM core.{layout(db)[code].table}")).scalars()
        }  # fmt: skip
        unit = conn.execute(
            sa.text(
                "SELECT count(*) FILTER (WHERE price_unit_received = '1'),"
                " count(*) FILTER (WHERE price_unit_received = '1' AND bid_price_yuan < 10000) FROM core.bid"
            )
        ).one()
    errors = {(q.dataset.removeprefix("trading_"), rule) for q in quarantined for rule in q.rules}
    for fault in year.faults():
        if fault["fault"] not in FAULT_RULES:
            continue
        severity, rule = FAULT_RULES[fault["fault"]]
        rule = rule.format(field=fault["field"])
        assert (fault["dataset"], rule) in (errors if severity == "error" else flagged), fault
    assert unit[0] > 0 and unit[1] == 0  # 万元 bids normalised to 元
    messages = [e for q in quarantined for e in q.rules]
    assert messages
    assert plaintext_locations(db, hub.raw_zone, _an_expert_id(year)) == []


def _an_expert_id(year: TradingYear) -> str:
    return next(r["ID_CARD"] for r in year.records("508") if r.get("ID_CARD"))


def test_quarantine_messages_name_dataset_key_field_and_rule(hub, db) -> None:
    """Each quarantined row explains itself in Chinese and English with dataset, key, field and rule."""
    year = TradingYear(seed=5, sections=SECTIONS)
    with ExchangeCentreServer(year, api_key=KEY) as server:
        pull_api(hub, server.base_url, KEY, codes=["500", "501", "502", "503", "507"])
    with db.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT natural_key, errors FROM quality.quarantine_row WHERE 'amount:BID_PRICE' = ANY(rules) LIMIT 1"
            )
        ).one()
    error = next(e for e in row.errors if e["rule"] == "amount:BID_PRICE")
    for text in (error["zh"], error["en"]):
        assert (
            "507" in text and row.natural_key in text and "BID_PRICE" in text and "amount:BID_PRICE" in text
        )


@pytest.mark.airflow  # slow (> 20 s)
def test_incremental_pulls_take_only_new_rows_and_release_waiting_children(hub, db) -> None:
    """Clock mid-year: pull (sections held back), advance, pull: only the new rows come; children parked
    while their section was missing load once it arrives."""
    year = TradingYear(seed=5, sections=SECTIONS, clock="20250401000000")
    with ExchangeCentreServer(year, api_key=KEY) as server:
        first = pull_api(hub, server.base_url, KEY, codes=[c for c in TRADING_DATASETS if c != "502"])
        conserved(first)
        before = {c: n for c, n in ((c, year.count(c)) for c in TRADING_DATASETS if c != "502")}
        httpx.post(f"{server.base_url}/control/advance", json={"days": 400}).raise_for_status()
        second = pull_api(hub, server.base_url, KEY)
        conserved(second)
        for code, ds in TRADING_DATASETS.items():
            got = second.get(ds.name, {"rows_in": 0})["rows_in"]
            assert got == year.count(code) - before.get(code, 0), code
        assert {c: n for c, (n, held) in accounted(db, year).items() if n != held} == {}
    released = sum(r["rows_released"] for r in second.values())
    waited = sum(r["rows_waiting"] for r in first.values())
    assert waited > 0 and released > 0
    assert status(db, waiting_days=7)["watermarks"]


def test_kill_mid_page_then_rerun_ends_with_exactly_the_source_rows(hub, db) -> None:
    """The stand-in drops the connection mid-page; the rerun resumes from the last committed page."""
    year = TradingYear(seed=5, sections=SECTIONS)
    codes = ["500", "501", "502", "507"]
    with ExchangeCentreServer(year, api_key=KEY) as server:
        pull_api(hub, server.base_url, KEY, codes=codes[:3])
        server.fail_after(650)
        with pytest.raises(HubError) as killed:
            pull_api(hub, server.base_url, KEY, codes=["507"], page_size=300)
        assert killed.value.code == "source_unavailable"
        with db.connect() as conn:
            staged = conn.scalar(sa.text("SELECT count(*) FROM raw.trading_row"))
            assert staged == 600  # two whole pages committed, the cut third one not
        rerun = pull_api(hub, server.base_url, KEY, codes=["507"], page_size=300)
        assert rerun["trading_507"]["rows_in"] == year.count("507")  # one batch: 600 staged + the rest
        conserved(rerun)
    assert accounted(db, year)["507"] == (year.count("507"),) * 2
    with db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM raw.trading_row")) == 0


def batch_statuses(db: sa.Engine, dataset: str) -> dict[str, int]:
    """How many of a dataset's batches are in each status (ops.batch)."""
    with db.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT status, count(*) FROM ops.batch WHERE dataset = :d GROUP BY status"), {"d": dataset}
        )
        return dict(rows.all())


# Killed with os._exit (no cleanup, like SIGKILL) from the progress callback of its second page: that page
# closed batch 2 (chunk_rows = page size), whose merge had not been queued yet.
_KILLED_AFTER_TWO_PAGES = """
import os, sys
from ggzy.settings import get_settings
from ggzy.pipelines.trading import pull_api
pages = []
def progress(code, rows):
    pages.append(rows)
    if len(pages) == 2:
        os._exit(9)
pull_api(get_settings(), sys.argv[1], sys.argv[2], codes=["507"], page_size=300, chunk_rows=300, progress=progress)
"""


def test_batches_closed_but_not_merged_when_the_run_dies_are_merged_by_the_next_pull(hub, db) -> None:
    """Batches are merged in the background while the next pages land; a run dying in between loses nothing."""
    year = TradingYear(seed=5, sections=SECTIONS)
    with ExchangeCentreServer(year, api_key=KEY) as server:
        pull_api(hub, server.base_url, KEY, codes=["500", "501", "502"])
        killed = subprocess.run(
            [sys.executable, "-c", _KILLED_AFTER_TWO_PAGES, server.base_url, KEY], timeout=300, check=False
        )
        assert killed.returncode == 9
        left = batch_statuses(db, "trading_507")
        with db.connect() as conn:
            open_batch = conn.scalar(
                sa.text("SELECT open_batch_id FROM ops.trading_watermark WHERE dataset = '507'")
            )
        # batch 2 at least: closed, owed a merge, named by no watermark
        assert sum(left.values()) == 2 and left.get("landed", 0) >= 1
        assert open_batch is None
        rerun = pull_api(hub, server.base_url, KEY, codes=["507"], page_size=300, chunk_rows=300)
        conserved(rerun)
    assert accounted(db, year)["507"] == (year.count("507"),) * 2
    with db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM raw.trading_row")) == 0
    assert batch_statuses(db, "trading_507") == {"loaded": -(-year.count("507") // 300)}


def test_a_failed_background_merge_fails_the_pull_and_the_next_pull_merges_its_batches(hub, db) -> None:
    """A merge failing in the background (core.bid locked, lock_timeout) is raised by the pull, nothing is lost."""
    year = TradingYear(seed=5, sections=SECTIONS)
    impatient = sa.create_engine(db.url, connect_args={"options": "-c lock_timeout=300"})
    try:
        with ExchangeCentreServer(year, api_key=KEY) as server:
            pull_api(hub, server.base_url, KEY, codes=["500", "501", "502"])
            with db.connect() as holder:
                holder.execute(sa.text("LOCK TABLE core.bid IN ACCESS EXCLUSIVE MODE"))
                with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
                    pull_api(
                        hub, server.base_url, KEY, codes=["507"], page_size=300, chunk_rows=300, engine=impatient
                    )
                holder.rollback()
            with db.connect() as conn:
                assert conn.scalar(sa.text("SELECT count(*) FROM core.bid")) == 0
            assert set(batch_statuses(db, "trading_507")) == {"landed"}  # landed, not merged: owed a merge
            rerun = pull_api(hub, server.base_url, KEY, codes=["507"], page_size=300, chunk_rows=300)
            conserved(rerun)
    finally:
        impatient.dispose()
    assert accounted(db, year)["507"] == (year.count("507"),) * 2
    with db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM raw.trading_row")) == 0


def test_the_core_tables_rules_read_are_declared(db) -> None:
    """A batch is validated while the one before it merges, unless its rules read core: that must be declared."""
    read = {}
    for code, table in layout(db).items():
        queries = [r.params["query"] for r in trading_rules(table, TRADING_DATASETS[code].key) if r.kind == "sql"]
        # core.<name> not followed by "(": a table, not a function such as core.spec_time()
        tables = {name for q in queries for name in re.findall(r"\bcore\.(\w+)\b(?!\s*\()", q)}
        if tables:
            read[code] = tuple(sorted(tables))
    assert read == RULES_READ_CORE


def _core_digest(db: sa.Engine) -> dict[str, int]:
    """Row counts and a content fingerprint of every core trading table."""
    out = {}
    with db.connect() as conn:
        for code, table in layout(db).items():
            out[code] = conn.execute(
                sa.text(
                    f"SELECT count(*), md5(string_agg(content_hash, ',' ORDER BY content_hash)) FROM core.{table.table}"
                )
            ).one()
    return out


def _pull_db(hub, db, url: str, year: TradingYear) -> dict[str, int]:
    seed_database(url, year)
    reports = pull_database(hub, url, page_size=700)
    conserved(reports)
    assert {c: n for c, (n, held) in accounted(db, year).items() if n != held} == {}
    return _core_digest(db)


@pytest.fixture
def centre_postgres(server_url: str):
    """A 'centre database' on the session's embedded PostgreSQL (its own database)."""
    url = sa.make_url(server_url).set(database="centre_pg")
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS centre_pg WITH (FORCE)"))
        conn.execute(sa.text("CREATE DATABASE centre_pg"))
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS centre_pg WITH (FORCE)"))
    admin.dispose()


MARIADB = "mysql+pymysql://root@127.0.0.1:3306"


@pytest.fixture
def centre_mariadb():
    """A 'centre database' on the machine's MariaDB (skips when it is not there)."""
    try:
        admin = sa.create_engine(MARIADB, poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.execute(sa.text("DROP DATABASE IF EXISTS ggzy_centre_test"))
            conn.execute(sa.text("CREATE DATABASE ggzy_centre_test CHARACTER SET utf8mb4"))
    except Exception as exc:  # noqa: BLE001 (any failure to reach it means: absent)
        pytest.skip(f"MariaDB not reachable at {MARIADB} (root, no password): {exc}")
    yield f"{MARIADB}/ggzy_centre_test?charset=utf8mb4"
    with admin.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS ggzy_centre_test"))


@pytest.mark.external
@pytest.mark.airflow  # slow (> 20 s)
def test_database_pull_reads_the_same_data_from_mariadb_and_postgresql(
    hub, db, centre_postgres, centre_mariadb, server_url
) -> None:
    """Seed both engines with the same year; each pull (into a fresh warehouse state) loads identical rows."""
    year = TradingYear(seed=5, sections=60)
    from_postgres = _pull_db(hub, db, centre_postgres, year)
    with db.begin() as conn:  # empty the warehouse's trading side, then pull from MariaDB
        tables = ", ".join(f"core.{t.table}" for t in layout(db).values())
        conn.execute(
            sa.text(
                f"TRUNCATE {tables}, core.market_entity, ops.trading_waiting, ops.trading_watermark,"
                " quality.quarantine_row"
            )
        )
    from_mariadb = _pull_db(hub, db, centre_mariadb, year)
    assert from_postgres == from_mariadb
    assert Counter(k for k, (n, _) in from_postgres.items() if n) == Counter(
        k for k, (n, _) in from_mariadb.items() if n
    )


@pytest.mark.airflow  # slow (> 20 s)
def test_database_pull_from_postgresql_is_incremental(hub, db, centre_postgres) -> None:
    """A second database pull with nothing new loads nothing; new rows after advance are the only ones pulled."""
    year = TradingYear(seed=5, sections=60, clock="20250601000000")
    _pull_db(hub, db, centre_postgres, year)
    again = pull_database(hub, centre_postgres)
    assert all(r["rows_in"] == 0 for r in again.values())
    before = {c: year.count(c) for c in TRADING_DATASETS}
    year.advance(400)
    seed_database(centre_postgres, year, replace=False)
    later = pull_database(hub, centre_postgres)
    for code, ds in TRADING_DATASETS.items():
        assert later.get(ds.name, {"rows_in": 0})["rows_in"] == year.count(code) - before[code], code


@pytest.mark.airflow  # slow (> 20 s): one batch per day file
@pytest.mark.parametrize("fmt", ["json", "xml", "csv"])
def test_file_drops_in_every_format_load_the_same_rows(hub, db, tmp_path: Path, fmt: str) -> None:
    """write_files in JSON, XML and CSV: every record accounted for; re-ingesting loads nothing."""
    from ggzy.pipelines.trading import ingest_files
    from standins.exchange_centre import write_files

    year = TradingYear(seed=5, sections=12)
    write_files(tmp_path / "drop", year, fmt)
    reports = ingest_files(hub, tmp_path / "drop")
    conserved(reports)
    assert {c: n for c, (n, held) in accounted(db, year).items() if n != held} == {}
    again = ingest_files(hub, tmp_path / "drop")
    assert all(r["already_processed"] and r["rows_loaded"] == 0 for r in again.values())


@pytest.mark.airflow  # slow (> 20 s)
def test_demo_pull_reports_every_dataset_with_row_conservation(hub, db) -> None:
    """The lead's demo hook: a small stand-in year, every dataset with rows_in = loaded + quarantined + duplicate."""
    from ggzy.pipelines.trading import demo_pull

    figures = demo_pull(hub, db, sections=15)
    assert {"trading_500", "trading_502", "trading_507", "trading_519", "trading_513"} <= set(figures)
    for name, f in figures.items():
        assert f["rows_in"] == f["rows_loaded"] + f["rows_quarantined"] + f["rows_duplicate"], name
        assert f["rows_in"] > 0, name


@pytest.mark.airflow  # slow (> 20 s)
def test_cli_pull_and_status(hub, db) -> None:
    """`ggzy trading pull --api --key --json` then `ggzy trading status --json` on the same warehouse."""
    import json

    from typer.testing import CliRunner

    from ggzy.cli import app

    year = TradingYear(seed=5, sections=10)
    runner = CliRunner()
    with ExchangeCentreServer(year, api_key=KEY) as server:
        result = runner.invoke(app, ["trading", "pull", "--api", server.base_url, "--key", KEY, "--json"])
        assert result.exit_code == 0, result.output
        reports = json.loads(result.stdout)
        assert reports["trading_507"]["rows_in"] == year.count("507")
        wrong = runner.invoke(app, ["trading", "pull", "--api", server.base_url, "--key", "nope"])
        assert wrong.exit_code == 2
    shown = runner.invoke(app, ["trading", "status", "--json"])
    assert shown.exit_code == 0, shown.output
    marks = json.loads(shown.stdout)["watermarks"]
    assert {m["dataset"] for m in marks} >= {"500", "507"} and all(not m["in_progress"] for m in marks)
