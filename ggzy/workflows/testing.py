"""Test support for the hub's DAGs: point this process's Airflow at a throwaway metadata database.

Airflow reads its configuration once, when first imported; every test module that touches Airflow
calls `activate_test_airflow` with the session's server before importing it, so they all agree.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from ggzy import database
from ggzy.airflow_env import airflow_environment, ensure_airflow_db
from ggzy.settings import Settings

TEST_AIRFLOW_DB = "airflow_test"


def airflow_test_settings(server_url: str, home: Path) -> Settings:
    """Settings whose Airflow metadata database is 'airflow_test' on the given server (created if missing)."""
    url = make_url(server_url).set(database=TEST_AIRFLOW_DB)
    database.ensure_database(url)
    return Settings(
        home=home, database_url=server_url, airflow_database_url=url.render_as_string(hide_password=False)
    )


def activate_test_airflow(server_url: str, home: Path, *, migrate: bool) -> dict[str, str]:
    """Export the AIRFLOW_* variables for this process (not GGZY_*: tests set those per test); returns them."""
    settings = airflow_test_settings(server_url, home)
    env = {key: value for key, value in airflow_environment(settings).items() if not key.startswith("GGZY_")}
    if "airflow.settings" in sys.modules:
        configured = sys.modules["airflow.settings"].SQL_ALCHEMY_CONN
        if configured != env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]:
            raise RuntimeError(
                f"Airflow was imported before the test environment was set (it uses {configured!r}); "
                "import airflow only inside tests or fixtures that call activate_test_airflow()"
            )
    os.environ.update(env)
    if migrate:
        ensure_airflow_db(settings)
    return env
