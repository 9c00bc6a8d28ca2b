"""End to end: the hub's DAGs run with `dag.test()` against the test warehouse and a real Airflow metadata DB.

The DAGs come from the repo's dags/ folder (as the dag-processor sees them); tasks run in this process,
so the per-test GGZY_* variables of the `hub` fixture point them at the test's fresh warehouse.
Department files come from the department stand-in, member units are the member-unit receiver stand-in.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from ggzy.airflow_env import dags_folder
from ggzy.settings import Settings
from ggzy.workflows.testing import activate_test_airflow

pytestmark = pytest.mark.airflow

PENALTY_ASSET_URI = "ggzy://warehouse/core/penalty_decision"


@pytest.fixture(scope="session")
def airflow_metadata(server_url: str, hub_home: Path) -> sa.Engine:
    """Airflow configured for this session on a migrated 'airflow_test' database; yields an engine on it."""
    env = activate_test_airflow(server_url, hub_home, migrate=True)
    engine = sa.create_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def hub_dags(airflow_metadata):
    """The hub's DAGs as parsed from dags/ (no import errors allowed)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dags_folder()))
    assert bag.import_errors == {}
    return bag.dags


@pytest.fixture
def receiver(tmp_path: Path, db: sa.Engine):
    """The member-unit receiver stand-in, hosting every push unit of the profile (receipts off)."""
    from ggzy.delivery.units import sync_units
    from ggzy.jurisdictions import load_profile
    from standins.member_units import MemberUnitReceiver, UnitConfig

    with MemberUnitReceiver(data_dir=tmp_path / "receiver") as server:
        for unit in sync_units(db, load_profile(), server.endpoint_for):
            if unit["mode"] == "push":
                server.add_unit(UnitConfig(code=unit["code"], secret=unit["secret"], acknowledge=False))
        yield server


def run_dag(dag) -> dict[str, str]:
    """Run one DagRun with dag.test(); returns {task_id: final state}, asserting the run succeeded."""
    run = dag.test()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "success", states
    return states


def count(engine: sa.Engine, sql: str, **params) -> int:
    """One integer from SQL."""
    with engine.connect() as conn:
        return conn.scalar(sa.text(sql), params)


def asset_events(airflow_metadata: sa.Engine) -> int:
    """Events recorded in Airflow for the core.penalty_decision asset."""
    return count(
        airflow_metadata,
        "SELECT count(*) FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.uri = :uri",
        uri=PENALTY_ASSET_URI,
    )


def warehouse_totals(db: sa.Engine) -> dict[str, int]:
    """Row counts that a rerun must not change."""
    tables = ("ops.batch", "core.penalty_decision", "core.penalty_decision_version", "quality.quarantine_row",
              "delivery.event", "delivery.outbox")  # fmt: skip
    return {table: count(db, f"SELECT count(*) FROM {table}") for table in tables}


def test_ingest_dag_loads_the_drop_folder_with_row_conservation_and_is_idempotent(
    hub: Settings, db: sa.Engine, hub_dags, airflow_metadata, receiver
) -> None:
    """Good and broken department files: every batch conserves rows as the stand-in predicts; reruns add nothing."""
    from standins.departments import write_demo_drop

    written = write_demo_drop(hub.drop_folder, seed=7, rows=4)
    expected = {generated.filename: generated.summary() for _, generated in written}
    events_before = asset_events(airflow_metadata)

    states = run_dag(hub_dags["ggzy_penalty_ingest"])
    assert states == {"ingest_drop_folder": "success", "check_row_conservation": "success",
                      "announce_penalty_decisions": "success"}  # fmt: skip
    assert asset_events(airflow_metadata) == events_before + 1

    with db.connect() as conn:
        batches = conn.execute(
            sa.text(
                "SELECT filename, status, rows_in, rows_loaded, rows_quarantined, rows_duplicate, rows_warned"
                " FROM ops.batch ORDER BY filename"
            )
        ).mappings().all()  # fmt: skip
    assert sorted(b["filename"] for b in batches) == sorted(expected)
    for batch in batches:
        assert (
            batch["rows_in"] == batch["rows_loaded"] + batch["rows_quarantined"] + batch["rows_duplicate"]
        ), batch
        want = expected[batch["filename"]]
        got = {key: batch[key] for key in ("rows_in", "rows_loaded", "rows_quarantined", "rows_duplicate")}
        assert got == {key: want[key] for key in got}, batch["filename"]
        assert batch["status"] == "loaded"
    assert count(db, "SELECT count(*) FROM core.penalty_decision") == sum(
        e["rows_loaded"] for e in expected.values()
    )
    # Every new decision version is owed to every member unit.
    assert count(db, "SELECT count(*) FROM delivery.outbox") == count(
        db, "SELECT count(*) FROM delivery.event"
    ) * count(db, "SELECT count(*) FROM delivery.member_unit")
    assert not any(p.is_file() for p in hub.drop_folder.glob("*/*")), "processed files leave the drop folder"

    totals = warehouse_totals(db)
    # Rerun with an empty drop folder, then with the very same files dropped again: nothing new.
    assert run_dag(hub_dags["ggzy_penalty_ingest"])["announce_penalty_decisions"] == "skipped"
    for path, generated in written:
        shutil.copy(next(hub.drop_folder.glob(f"*/processed/*/{generated.filename}")), path)
    assert run_dag(hub_dags["ggzy_penalty_ingest"])["announce_penalty_decisions"] == "skipped"
    assert warehouse_totals(db) == totals
    assert asset_events(airflow_metadata) == events_before + 1


def test_delivery_dag_pushes_every_due_row_and_the_report_dag_names_overdue_units(
    hub: Settings, db: sa.Engine, hub_dags, receiver
) -> None:
    """Delivery sends each decision once to every push unit; the report lists units past their ack_due."""
    from standins.departments import good_file

    generated = good_file("csv", rows=3, seed=11)
    folder = hub.drop_folder / generated.department.code
    folder.mkdir(parents=True)
    (folder / generated.filename).write_bytes(generated.data)
    run_dag(hub_dags["ggzy_penalty_ingest"])
    events = count(db, "SELECT count(*) FROM delivery.event")
    assert events == 3

    assert run_dag(hub_dags["ggzy_penalty_delivery"]) == {"deliver_outbox": "success"}
    push_units = [code for code, unit in receiver.units.items()]
    with db.connect() as conn:
        by_status = dict(
            conn.execute(
                sa.text(
                    "SELECT status, count(*) FROM delivery.outbox WHERE unit_code = ANY(:u) GROUP BY status"
                ),
                {"u": push_units},
            ).all()
        )
    assert by_status == {"delivered": events * len(push_units)}
    for code in push_units:
        assert len(receiver.messages(code)) == events, code
    # A second run finds nothing due and sends nothing twice.
    run_dag(hub_dags["ggzy_penalty_delivery"])
    assert sum(receiver.stats(code)["deliveries"] for code in push_units) == events * len(push_units)

    late_unit = push_units[0]
    with db.begin() as conn:
        conn.execute(
            sa.text("UPDATE delivery.outbox SET ack_due = :due WHERE unit_code = :u"),
            {"due": date(2025, 3, 3), "u": late_unit},
        )
    assert run_dag(hub_dags["ggzy_delivery_overdue_report"]) == {"write_overdue_report": "success"}
    (report_path,) = (hub.home / "reports").glob("overdue-acknowledgements-*.json")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert [unit["unit"] for unit in report["units"]] == [late_unit]
    assert report["units"][0]["overdue"] == events
    assert report["units"][0]["reason"] == "delivered_not_acknowledged"
