# ruff: noqa: F811 (the shared Airflow fixtures are imported from test_dags and requested by name)
"""The trading DAGs run with dag.test() against the exchange-centre stand-in: assets announced per changed dataset."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ggzy.settings import Settings, get_settings
from tests.integration.test_dags import airflow_metadata, count, hub_dags, run_dag  # noqa: F401 (fixtures)

pytestmark = pytest.mark.airflow


def events(metadata: sa.Engine, code: str) -> int:
    """Asset events recorded for one trading dataset."""
    return count(
        metadata,
        "SELECT count(*) FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.uri = :uri",
        uri=f"ggzy://warehouse/trading/{code}",
    )


def test_api_dag_pulls_announces_changed_datasets_and_reruns_quietly(
    hub: Settings,
    db: sa.Engine,
    hub_dags,
    airflow_metadata,
    monkeypatch,
) -> None:
    """First run: every dataset with rows announced once; rerun with nothing new: all announce tasks skipped."""
    from connectors.trading import TRADING_DATASETS
    from standins.exchange_centre import ExchangeCentreServer, TradingYear

    year = TradingYear(seed=9, sections=30)
    present = {code for code in TRADING_DATASETS if year.count(code)}
    before = {code: events(airflow_metadata, code) for code in TRADING_DATASETS}
    with ExchangeCentreServer(year, api_key="dag-key") as server:
        monkeypatch.setenv("GGZY_EXCHANGE_API_URL", server.base_url)
        monkeypatch.setenv("GGZY_EXCHANGE_API_KEY", "dag-key")
        get_settings.cache_clear()  # settings are read once per process
        states = run_dag(hub_dags["ggzy_trading_api_pull"])
        assert states["pull"] == states["check_row_conservation"] == "success"
        assert {c for c in TRADING_DATASETS if states[f"announce_{c}"] == "success"} == present
        assert {c: events(airflow_metadata, c) - before[c] for c in TRADING_DATASETS} == {
            c: int(c in present) for c in TRADING_DATASETS
        }
        rerun = run_dag(hub_dags["ggzy_trading_api_pull"])
        assert {s for t, s in rerun.items() if t.startswith("announce_")} == {"skipped"}
    with db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM core.bid")) > 0


def test_file_and_database_dags_skip_cleanly_when_not_configured(
    hub: Settings,
    hub_dags,
    monkeypatch,
) -> None:
    """No database URL and an empty drop folder: the runs succeed, nothing announced."""
    monkeypatch.delenv("GGZY_EXCHANGE_DB_URL", raising=False)
    get_settings.cache_clear()  # settings are read once per process
    for dag_id in ("ggzy_trading_db_pull", "ggzy_trading_file_ingest"):
        states = run_dag(hub_dags[dag_id])
        assert states["pull"] == "success"
        assert {s for t, s in states.items() if t.startswith("announce_")} == {"skipped"}
