"""Airflow for the hub: one environment for every Airflow process, its admin user and its metadata database.

Airflow reads its configuration from AIRFLOW__SECTION__KEY environment variables when it is first
imported, so every Airflow process the hub starts (scheduler, dag-processor, triggerer, api-server,
`airflow db migrate`) and every in-process `dag.test()` gets the mapping `airflow_environment()`
returns: AIRFLOW_HOME under GGZY_HOME, the metadata database 'airflow' on the warehouse server, the
repo's dags/ folder, LocalExecutor, secrets derived from the hub secret (so every process agrees on
the JWT secret without a shared file), and the GGZY_* variables so tasks reach the same warehouse.
Nothing here imports Airflow.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from ggzy import database
from ggzy.errors import HubError
from ggzy.settings import Settings, get_settings

ADMIN_USER = "admin"
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
MIGRATED_MARKER = ".db-migrated.json"
QUIET_LOGGERS = "sqlalchemy=WARNING alembic=WARNING httpx=WARNING httpcore=WARNING great_expectations=WARNING"


def dags_folder() -> Path:
    """The repo's dags/ folder (the package is installed editable, so it sits next to ggzy/)."""
    import ggzy

    folder = Path(ggzy.__file__).resolve().parent.parent / "dags"
    if not folder.is_dir():
        raise HubError(
            "dags_folder_missing",
            f"找不到 DAG 目录 {folder}：请以可编辑方式安装本仓库（pip install -e .）",
            f"DAGs folder {folder} not found: install this repository editable (pip install -e .)",
        )
    return folder


def _derived_secret(settings: Settings, purpose: str) -> bytes:
    """A 32-byte secret derived from the hub secret, stable across processes and restarts."""
    return hmac.new(settings.hub_secret(), f"ggzy-airflow:{purpose}".encode(), hashlib.sha256).digest()


def async_url(sync_url: str) -> str:
    """The asyncpg form of a psycopg2 URL; a unix-socket directory stays in the `host` query parameter.

    asyncpg takes `host=/socket/dir` (it appends .s.PGSQL.<port>) and spells sslmode as `ssl`.
    """
    url = make_url(sync_url).set(drivername="postgresql+asyncpg")
    query = dict(url.query)
    if "sslmode" in query:
        query["ssl"] = query.pop("sslmode")
    return url.set(query=query).render_as_string(hide_password=False)


def ggzy_environment(settings: Settings) -> dict[str, str]:
    """GGZY_* variables reproducing `settings` in a child process (tasks reach the same warehouse)."""
    env = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is not None:
            env[f"GGZY_{name.upper()}"] = str(value)
    return env


def admin_password_file(settings: Settings) -> Path:
    """Where the simple auth manager keeps the admin password (plain JSON, mode 0600)."""
    return settings.airflow_home / PASSWORDS_FILE


def admin_credentials(settings: Settings | None = None) -> tuple[str, str, Path]:
    """(user, password, file) of Airflow's admin; the password is generated once and kept under AIRFLOW_HOME."""
    settings = settings or get_settings()
    path = admin_password_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    passwords: dict[str, str] = {}
    if path.exists():
        passwords = json.loads(path.read_text() or "{}")
    if ADMIN_USER not in passwords:
        passwords[ADMIN_USER] = secrets.token_urlsafe(18)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(passwords) + "\n")
        tmp.replace(path)
    return ADMIN_USER, passwords[ADMIN_USER], path


def airflow_base_url(settings: Settings) -> str:
    """Base URL of the hub's Airflow api-server (UI and REST API)."""
    return f"http://127.0.0.1:{settings.airflow_port}"


def airflow_environment(settings: Settings | None = None) -> dict[str, str]:
    """Environment variables for every Airflow process of the hub and for in-process dag.test()."""
    settings = settings or get_settings()
    home = settings.airflow_home
    sync_url = database.airflow_url(settings)
    base_url = airflow_base_url(settings)
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder()),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(_derived_secret(settings, "fernet")).decode(),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(admin_password_file(settings)),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sync_url,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": async_url(sync_url),
        # The embedded server allows 100 connections, shared with the warehouse and the hub API.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "2",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "4",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__SECRET_KEY": _derived_secret(settings, "api-secret-key").hex(),
        "AIRFLOW__API__EXPOSE_CONFIG": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": _derived_secret(settings, "jwt").hex(),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(settings.home / "logs" / "airflow"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW__LOGGING__NAMESPACE_LEVELS": QUIET_LOGGERS,
        "AIRFLOW__LOGGING__UVICORN_LOGGING_LEVEL": "WARNING",
        "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(settings.airflow_port + 1),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(settings.airflow_port + 2),
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "60",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "GX_ANALYTICS_ENABLED": "False",
    }
    # Everything the hub talks to is on loopback: never send it through a configured HTTP proxy.
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = ",".join(filter(None, [os.environ.get(name), "127.0.0.1,localhost"]))
    env.update(ggzy_environment(settings))
    return env


def airflow_command(*args: str) -> list[str]:
    """The command line of an Airflow CLI call with this interpreter (no reliance on PATH)."""
    return [sys.executable, "-m", "airflow", *args]


def _migrated_marker(settings: Settings) -> Path:
    return settings.airflow_home / MIGRATED_MARKER


def _current_revision(sync_url: str) -> str | None:
    """Alembic revision of Airflow's metadata database, or None when it was never migrated."""
    engine = sa.create_engine(sync_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if not conn.scalar(sa.text("SELECT to_regclass('public.alembic_version') IS NOT NULL")):
                return None
            return conn.scalar(sa.text("SELECT version_num FROM alembic_version LIMIT 1"))
    finally:
        engine.dispose()


def ensure_airflow_db(settings: Settings | None = None, *, force: bool = False) -> dict[str, Any]:
    """Run `airflow db migrate` unless this Airflow version already migrated this database; returns what happened."""
    settings = settings or get_settings()
    env = {**os.environ, **airflow_environment(settings)}
    sync_url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    version = metadata.version("apache-airflow-core")
    marker = _migrated_marker(settings)
    revision = _current_revision(sync_url)
    if not force and revision and marker.exists():
        recorded = json.loads(marker.read_text())
        if recorded.get("airflow_version") == version and recorded.get("revision") == revision:
            return {"migrated": False, "revision": revision, "airflow_version": version, "seconds": 0.0}
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    admin_credentials(settings)
    started = time.monotonic()
    done = subprocess.run(airflow_command("db", "migrate"), env=env, capture_output=True, text=True)
    seconds = round(time.monotonic() - started, 1)
    if done.returncode != 0:
        raise HubError(
            "airflow_migrate_failed",
            f"Airflow 元数据库迁移失败（airflow db migrate 退出码 {done.returncode}）",
            f"Airflow metadata migration failed (airflow db migrate exited {done.returncode})",
            detail={"stderr": done.stderr[-4000:], "stdout": done.stdout[-2000:]},
        )
    revision = _current_revision(sync_url)
    marker.write_text(json.dumps({"airflow_version": version, "revision": revision, "seconds": seconds}))
    return {"migrated": True, "revision": revision, "airflow_version": version, "seconds": seconds}


class AirflowClient:
    """A small client of the hub's Airflow REST API (v2), logged in as the generated admin."""

    def __init__(self, settings: Settings, timeout: float = 30.0) -> None:
        import httpx

        self.base_url = airflow_base_url(settings)
        self._user, self._password, _ = admin_credentials(settings)
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, trust_env=False)
        self._token: str | None = None

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def health(self) -> dict[str, Any]:
        """The api-server's view of the metadata DB, scheduler, triggerer and dag-processor (no login needed)."""
        response = self._http.get("/api/v2/monitor/health")
        response.raise_for_status()
        return response.json()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        """An authenticated call; logs in (again) when there is no token or it expired."""
        for attempt in range(2):
            if self._token is None:
                login = self._http.post(
                    "/auth/token", json={"username": self._user, "password": self._password}
                )
                login.raise_for_status()
                self._token = login.json()["access_token"]
            response = self._http.request(
                method, path, headers={"Authorization": f"Bearer {self._token}"}, **kwargs
            )
            if response.status_code == 401 and attempt == 0:
                self._token = None
                continue
            response.raise_for_status()
            return response.json() if response.content else None
        return None

    def dag_ids(self, prefix: str = "ggzy_") -> set[str]:
        """Ids of the DAGs Airflow has parsed whose id starts with prefix."""
        body = self._request("GET", "/api/v2/dags", params={"dag_id_pattern": prefix, "limit": 100})
        return {dag["dag_id"] for dag in body["dags"] if dag["dag_id"].startswith(prefix)}

    def unpause(self, dag_id: str) -> None:
        """Unpause a DAG so the scheduler runs it."""
        self._request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str) -> str:
        """Trigger a manual run now; returns its run id."""
        return self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None})[
            "dag_run_id"
        ]

    def run_state(self, dag_id: str, run_id: str) -> str:
        """queued | running | success | failed."""
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")["state"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """A task's XCom value, deserialized."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/xcomEntries/{key}"
        return self._request("GET", path, params={"deserialize": True})["value"]
