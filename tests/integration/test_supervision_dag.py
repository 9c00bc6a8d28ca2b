"""The supervision DAGs end to end with dag.test(): rescore + alert + deliver to a real member-unit receiver,
and the monthly report for the month before the run."""

from __future__ import annotations

from pathlib import Path

import pendulum
import pytest
import sqlalchemy as sa

from ggzy.airflow_env import dags_folder
from ggzy.workflows.testing import activate_test_airflow
from tests.integration.test_supervision import S, build_rows

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="session")
def supervision_dags(server_url: str, hub_home: Path):
    """The two supervision DAGs as parsed from dags/."""
    activate_test_airflow(server_url, hub_home, migrate=True)
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dags_folder()))
    assert not {k: v for k, v in bag.import_errors.items() if "supervision" in k or "monthly" in k}
    return bag.dags["ggzy_supervision"], bag.dags["ggzy_monthly_report"]


def test_supervision_and_monthly_report_dags(hub, db, supervision_dags, tmp_path) -> None:
    from ggzy.delivery.units import sync_units
    from ggzy.jurisdictions import load_profile
    from standins.member_units import MemberUnitReceiver, UnitConfig

    supervision, monthly = supervision_dags
    build_rows(db, "2025-03")
    with MemberUnitReceiver(data_dir=tmp_path / "receiver") as receiver:
        for unit in sync_units(db, load_profile("jiaozuo"), receiver.endpoint_for):
            if unit["mode"] == "push":
                receiver.add_unit(UnitConfig(code=unit["code"], secret=unit["secret"], acknowledge=False))
        run = supervision.test()
        assert str(run.state) == "success", {t.task_id: str(t.state) for t in run.get_task_instances()}
        with db.connect() as conn:
            delivered = conn.execute(sa.text(
                "SELECT a.bid_section_code, o.unit_code, o.status FROM core.alert a JOIN delivery.event e"
                " ON e.record_type = 'project_alert' AND e.record_id = a.id JOIN delivery.outbox o ON o.event_id = e.id"
                " ORDER BY 1")).all()  # fmt: skip
        assert [tuple(r) for r in delivered] == [(S[1], "JZ-ZJ", "delivered"), (S[4], "JZ-FGW", "delivered")]

        report_run = monthly.test(run_after=pendulum.datetime(2025, 4, 1, 6, tz="Asia/Shanghai"))
        assert str(report_run.state) == "success", {
            t.task_id: str(t.state) for t in report_run.get_task_instances()
        }
    with db.connect() as conn:
        report = conn.execute(sa.text("SELECT month, pdf_path FROM supervision.monthly_report")).one()
    assert report.month.isoformat() == "2025-03-01" and Path(report.pdf_path).read_bytes().startswith(b"%PDF")
