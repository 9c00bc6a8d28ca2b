"""The ggzy_credit DAG end to end with dag.test(): pull from the Credit China stand-in, validate and merge,
check row conservation, propagate (cross-checks + delivery to the member-unit receiver stand-in)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from ggzy.airflow_env import dags_folder
from ggzy.settings import get_settings
from ggzy.workflows.testing import activate_test_airflow

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="session")
def credit_dag_object(server_url: str, hub_home: Path):
    """The ggzy_credit DAG as parsed from dags/ (no import errors in the folder)."""
    activate_test_airflow(server_url, hub_home, migrate=True)
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dags_folder()))
    assert bag.import_errors == {}
    return bag.dags["ggzy_credit"]


def count(engine: sa.Engine, sql: str) -> int:
    """One integer from SQL."""
    with engine.connect() as conn:
        return conn.scalar(sa.text(sql))


def test_credit_dag_pulls_merges_and_delivers_removals(hub, db, credit_dag_object, monkeypatch, tmp_path):
    """Two runs: the second (after the channel's clock moves) brings the removal, which is delivered."""
    from ggzy.delivery.units import sync_units
    from ggzy.jurisdictions import load_profile
    from standins.credit_china import KNOWN_HISTORY, CreditChinaFeed, CreditChinaServer
    from standins.member_units import MemberUnitReceiver, UnitConfig

    feed = CreditChinaFeed(seed=0, clock=datetime(2025, 6, 1))
    with CreditChinaServer(feed) as channel, MemberUnitReceiver(data_dir=tmp_path / "receiver") as receiver:
        for unit in sync_units(db, load_profile(), receiver.endpoint_for):
            if unit["mode"] == "push":
                receiver.add_unit(UnitConfig(code=unit["code"], secret=unit["secret"], acknowledge=False))
        monkeypatch.setenv("GGZY_CREDIT_CHINA_URL", channel.base_url)
        monkeypatch.setenv("GGZY_CREDIT_CHINA_APP_KEY", channel.app_key)
        monkeypatch.setenv("GGZY_CREDIT_CHINA_APP_SECRET", channel.app_secret)
        get_settings.cache_clear()  # settings are read once per process

        first = credit_dag_object.test()
        assert str(first.state) == "success", {t.task_id: str(t.state) for t in first.get_task_instances()}
        assert count(db, "SELECT count(*) FROM ops.batch WHERE status = 'loaded' AND dataset LIKE 'credit_%'") == 2
        assert count(db, "SELECT count(*) FROM ops.batch WHERE rows_in <> rows_loaded + rows_quarantined"
                         " + rows_duplicate") == 0
        removed_before = count(db, "SELECT count(*) FROM delivery.event WHERE event_type = 'restriction.removed'")

        feed.advance(30)
        second = credit_dag_object.test()
        assert str(second.state) == "success"
        entry = KNOWN_HISTORY["serious_dishonesty"]["entry_id"]
        assert count(db, "SELECT count(*) FROM delivery.event WHERE event_type = 'restriction.removed'") > removed_before
        pushed = [m for code in receiver.units for m in receiver.messages(code)
                  if m["event_type"] == "restriction.removed" and m["payload"]["data"]["document"]["source_key"] == entry]
        assert len(pushed) == len(receiver.units)  # every push unit received the removal of the scripted entry
    assert not list((Path(hub.home) / "credit" / "pulls").glob("*.json"))  # every pull document loaded
