"""DAG integrity: the dags/ folder loads with no import errors, and each DAG has the exact expected shape.

Parsing only (no task runs). Airflow is imported inside fixtures, after the test environment is set.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ggzy.airflow_env import dags_folder
from ggzy.workflows.testing import activate_test_airflow

EXPECTED_STRUCTURE = {
    "ggzy_penalty_ingest": {
        "ingest_drop_folder": {"check_row_conservation"},
        "check_row_conservation": {"announce_penalty_decisions"},
        "announce_penalty_decisions": set(),
    },
    "ggzy_penalty_delivery": {"deliver_outbox": set()},
    "ggzy_delivery_overdue_report": {"write_overdue_report": set()},
    "ggzy_credit": {
        "pull": {"validate_merge"},
        "validate_merge": {"check_row_conservation"},
        "check_row_conservation": {"propagate"},
        "propagate": set(),
    },
    "ggzy_supervision": {"rescore": {"deliver"}, "deliver": set()},
    "ggzy_monthly_report": {"write_report": {"deliver"}, "deliver": set()},
}
TRADING_CODES = ("500", "501", "502", "503", "507", "508", "510", "513", "512", "519", "9010", "9011", "302", "303",
                 "402", "404")  # fmt: skip
for _dag_id in ("ggzy_trading_api_pull", "ggzy_trading_db_pull", "ggzy_trading_file_ingest"):
    EXPECTED_STRUCTURE[_dag_id] = {
        "pull": {"check_row_conservation"},
        "check_row_conservation": {f"announce_{code}" for code in TRADING_CODES},
        **{f"announce_{code}": set() for code in TRADING_CODES},
    }
PENALTY_ASSET_URI = "ggzy://warehouse/core/penalty_decision"


@pytest.fixture(scope="session")
def dag_bag(server_url: str, hub_home: Path):
    """The DagBag of the repo's dags/ folder, parsed once per session."""
    activate_test_airflow(server_url, hub_home, migrate=False)
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(dags_folder()))


def test_dag_bag_has_no_import_errors(dag_bag) -> None:
    """Every loader file imports cleanly."""
    assert dag_bag.import_errors == {}


def test_each_dag_has_the_exact_expected_structure(dag_bag) -> None:
    """{dag_id: {task_id: downstream ids}} matches exactly: no missing, extra or re-wired tasks."""
    actual = {
        dag_id: {task.task_id: set(task.downstream_task_ids) for task in dag.tasks}
        for dag_id, dag in dag_bag.dags.items()
    }
    assert actual == EXPECTED_STRUCTURE


def test_every_dag_follows_the_house_conventions(dag_bag) -> None:
    """Owner, allow-listed tags, bilingual doc_md, no catchup, one active run."""
    from ggzy.workflows.dags import ALLOWED_TAGS, OWNER

    for dag_id, dag in dag_bag.dags.items():
        assert {task.owner for task in dag.tasks} == {OWNER}, dag_id
        assert dag.tags and set(dag.tags) <= ALLOWED_TAGS, (dag_id, dag.tags)
        assert dag.doc_md and "中文" in dag.doc_md and "English" in dag.doc_md, dag_id
        assert dag.catchup is False, dag_id
        assert dag.max_active_runs == 1, dag_id


def test_schedules_and_asset_wiring(dag_bag) -> None:
    """Ingest every 10 min and emits the penalty asset; delivery on that asset OR every 5 min; report daily."""
    from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable

    ingest = dag_bag.dags["ggzy_penalty_ingest"]
    assert isinstance(ingest.timetable, CronTriggerTimetable)
    assert ingest.timetable.expression == "*/10 * * * *"
    outlets = {task.task_id: [a.uri for a in task.outlets] for task in ingest.tasks}
    assert outlets == {
        "ingest_drop_folder": [], "check_row_conservation": [], "announce_penalty_decisions": [PENALTY_ASSET_URI],
    }  # fmt: skip

    delivery = dag_bag.dags["ggzy_penalty_delivery"].timetable
    assert isinstance(delivery, AssetOrTimeSchedule)
    assert delivery.asset_condition.uri == PENALTY_ASSET_URI
    assert delivery.timetable.expression == "*/5 * * * *"
    # Delivery retries come from the outbox's next_attempt_at, never from Airflow.
    assert [task.retries for task in dag_bag.dags["ggzy_penalty_delivery"].tasks] == [0]

    report = dag_bag.dags["ggzy_delivery_overdue_report"].timetable
    assert isinstance(report, CronTriggerTimetable) and report.expression == "0 8 * * *"


def test_dag_files_are_thin_loaders() -> None:
    """A file in dags/ only imports a factory and calls it: no functions, classes or other statements."""
    files = sorted(dags_folder().glob("*.py"))
    assert len(files) == len(EXPECTED_STRUCTURE)
    for path in files:
        body = ast.parse(path.read_text(encoding="utf-8")).body
        kinds = [type(node).__name__ for node in body]
        assert kinds == ["Expr", "ImportFrom", "Assign"], (path.name, kinds)
        assert body[1].module.startswith("ggzy.workflows."), path.name
