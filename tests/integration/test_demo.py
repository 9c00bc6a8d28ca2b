"""`ggzy demo --json` as a new user runs it: a real process, its own demo database, stand-ins on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow  # slow: two to three minutes on 2 cores


def test_demo_prints_conservation_deliveries_overdue_units_and_a_verified_audit_chain(hub):
    env = {**os.environ, "COLUMNS": "120"}  # the hub fixture exported GGZY_HOME and GGZY_DATABASE_URL
    done = subprocess.run(
        [str(Path(sys.executable).with_name("ggzy")), "demo", "--json"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    summary = json.loads(done.stdout)

    penalties = summary["datasets"]["penalty_decision"]
    assert penalties["rows_in"] == penalties["rows_loaded"] + penalties["rows_quarantined"] + penalties["rows_duplicate"]
    assert penalties["rows_quarantined"] > 0 and penalties["rows_warned"] > 0 and penalties["rows_duplicate"] > 0
    assert {"required:cf_wsh", "date_order:decision_after_validity", "vocabulary:cf_cflb",
            "amount_negative:cf_nr_wfff"} <= set(summary["quarantine_rules"])  # fmt: skip

    for name, figures in summary["datasets"].items():
        assert figures["rows_in"] == figures["rows_loaded"] + figures["rows_quarantined"] + figures["rows_duplicate"], name
    assert {"trading_507", "trading_519", "trading_502", "credit_dishonest_debtor"} <= set(summary["datasets"])
    assert summary["credit"]["active_restrictions"] > 0 and summary["credit"]["removals_processed"] > 0
    assert summary["supervision"]["sections"] > 0 and summary["supervision"]["raised"] > 0
    report = summary["monthly_report"]
    assert Path(report["pdf"]).read_bytes().startswith(b"%PDF") and Path(report["html"]).exists()

    deliveries = summary["deliveries"]
    owed = deliveries["owed_per_unit"]
    assert len(owed) == deliveries["units"] and deliveries["expected"] == sum(owed.values()) > 0
    assert deliveries["delivered"] == deliveries["expected"]
    assert (deliveries["pending"], deliveries["failed"]) == (0, 0)
    assert deliveries["first_pass_retrying"] > 0, "a unit was down during the first pass"
    assert deliveries["every_unit_holds_every_decision_once"]
    assert deliveries["acknowledged"] == deliveries["expected"] - owed[deliveries["unit_not_acknowledging"]]
    assert [u["unit"] for u in summary["overdue"]["units"]] == [deliveries["unit_not_acknowledging"]]

    assert summary["oversight"]["without_case_reference"] == 400
    assert summary["oversight"]["rows_returned"] > 0
    assert summary["audit"]["verified"] and summary["audit"]["events"] > 0
    assert Path(summary["home"]).is_relative_to(hub.home)
