"""Smoke test of `ggzy run`'s supervisor: the whole hub in a subprocess, the first ingest, a clean stop.

Real everything: its own embedded PostgreSQL under a temporary GGZY_HOME, Airflow's four components, the
hub API and the receiver, exchange-centre and Credit China stand-ins on free 127.0.0.1 ports. About 1.5-2 minutes on 2 cores.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.airflow

READY_TIMEOUT_SECONDS = 420.0
STOP_TIMEOUT_SECONDS = 90.0


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_run(length: int, start: int = 20000) -> int:
    """The first port p >= start with p .. p+length-1 all free on 127.0.0.1."""
    port = start + (os.getpid() % 500) * 10
    while not all(_free(port + i) for i in range(length)):
        port += length
    return port


def wait_for_output(process: subprocess.Popen, log: Path, pattern: str, timeout: float) -> str:
    """Wait until the supervisor's output matches pattern; fail with the output if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8", errors="replace")
        if re.search(pattern, text):
            return text
        assert process.poll() is None, f"the supervisor exited with {process.returncode}:\n{text[-4000:]}"
        time.sleep(1)
    pytest.fail(f"no {pattern!r} within {timeout:.0f} s:\n{log.read_text(errors='replace')[-4000:]}")


def test_run_hub_starts_everything_ingests_and_stops_without_orphans(tmp_path_factory) -> None:
    """Start the supervisor, wait for the first ingest run, SIGTERM it: every child and PostgreSQL are gone."""
    import psutil

    from ggzy.cli import app

    if "api" not in {group.name for group in app.registered_groups}:
        pytest.skip("`ggzy api serve` (the hub API child) is not registered in ggzy/cli.py yet")

    home = tmp_path_factory.mktemp("run")  # short: the PostgreSQL socket path must stay under 107 bytes
    base = free_port_run(8)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GGZY_", "AIRFLOW"))} | {
        "GGZY_HOME": str(home / "home"),
        "GGZY_API_PORT": str(base),
        "GGZY_RECEIVER_PORT": str(base + 1),
        "GGZY_AIRFLOW_PORT": str(base + 3),  # and the two ports after it
        "GGZY_EXCHANGE_STANDIN_PORT": str(base + 6),
        "GGZY_CREDIT_STANDIN_PORT": str(base + 7),
        "COLUMNS": "200",
    }
    log = home / "supervisor.log"
    started = time.monotonic()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ggzy.services"], env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        text = wait_for_output(process, log, r"ggzy_penalty_ingest run \w+", READY_TIMEOUT_SECONDS)
        ready_after = time.monotonic() - started
        assert "ggzy_penalty_ingest run success" in text, text[-4000:]
        # The exchange-centre and Credit China stand-ins were started and pulled from; then supervision ran.
        for dag_id in ("ggzy_trading_api_pull", "ggzy_credit", "ggzy_supervision"):
            text = wait_for_output(process, log, rf"{dag_id} run \w+", READY_TIMEOUT_SECONDS)
            assert f"{dag_id} run success" in text, text[-4000:]
        assert re.search(r"trading since start: \d+ datasets, \d+ batches; rows in [\d,]+, .*conserved ✓", text), text[-4000:]
        socket_dir = home / "home" / "pgdata"
        warehouse = sa.create_engine(f"postgresql+psycopg2://postgres@/ggzy?host={socket_dir}")
        with warehouse.connect() as conn:
            batches = conn.execute(
                sa.text(
                    "SELECT dataset, status, rows_in, rows_loaded, rows_quarantined, rows_duplicate FROM ops.batch"
                )
            ).all()
            bids = conn.scalar(sa.text("SELECT count(*) FROM core.bid"))
            restrictions = conn.scalar(sa.text("SELECT count(*) FROM core.restriction"))
        warehouse.dispose()
        datasets = {b.dataset for b in batches}
        assert sum(b.dataset == "penalty_decision" for b in batches) >= 4, "the departments' demo files were ingested"
        assert bids > 0 and restrictions > 0 and len(datasets) > 10, (bids, restrictions, datasets)
        assert all(b.status == "loaded" and b.rows_in == b.rows_loaded + b.rows_quarantined + b.rows_duplicate
                   for b in batches), batches  # fmt: skip

        tree = psutil.Process(process.pid).children(recursive=True)
        postmaster = psutil.Process(int((socket_dir / "postmaster.pid").read_text().splitlines()[0]))
        assert len(tree) >= 6
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=STOP_TIMEOUT_SECONDS) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    survivors = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert survivors == [], [" ".join(p.cmdline()[:4]) for p in survivors]
    # pg_ctl returns once the pid file is gone; the postmaster exits a moment later.
    _, still_running = psutil.wait_procs([postmaster], timeout=10)
    assert still_running == [], "the embedded PostgreSQL this run started is stopped"
    print(f"supervisor: first ingest after {ready_after:.0f} s, total {time.monotonic() - started:.0f} s")
