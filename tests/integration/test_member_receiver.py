"""The member-unit receiver stand-in as a real HTTP peer, alone and end to end with the hub API (127.0.0.1)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from delivery_seed import PULL_C, PUSH_A, PUSH_B, outbox, seed_events, small_profile

from ggzy.delivery import outbox as worker
from ggzy.delivery import report, units, webhooks
from standins.member_units import MemberUnitReceiver

SECRET = webhooks.new_secret()
PAYLOAD = {"type": "penalty.created", "message_id": "msg_1", "data": {"document_hash": "ab" * 32}}


@pytest.fixture
def receiver(tmp_path):
    with MemberUnitReceiver({"U1": SECRET}, data_dir=tmp_path / "r") as server:
        yield server


def post(receiver, code, message_id="msg_1", *, secret=SECRET, at=None, payload=PAYLOAD, timeout=5.0):
    body = webhooks.encode_body(payload)
    headers = webhooks.sign_headers(secret, message_id, body, timestamp=at)
    return httpx.post(receiver.webhook_url(code), content=body, headers=headers, timeout=timeout)


def test_verifies_deduplicates_and_stores(receiver):
    first, second = post(receiver, "U1"), post(receiver, "U1")
    assert first.status_code == second.status_code == 200
    assert (first.json()["duplicate"], second.json()["duplicate"]) == (False, True)
    assert post(receiver, "U1", "msg_2").json()["duplicate"] is False
    stats = httpx.get(f"{receiver.base_url}/units/U1/stats").json()
    assert (stats["stored"], stats["deliveries"], stats["duplicates"]) == (2, 3, 1)
    messages = httpx.get(f"{receiver.base_url}/units/U1/messages").json()
    assert [m["message_id"] for m in messages] == ["msg_1", "msg_2"]
    assert messages[0]["payload"] == PAYLOAD and messages[0]["deliveries"] == 2
    assert messages[0]["ack_status"] == "off"  # no hub configured: nothing to acknowledge to


def test_refuses_bad_signatures_stale_timestamps_and_unknown_units(receiver):
    wrong = post(receiver, "U1", secret=webhooks.new_secret())
    assert wrong.status_code == 401 and wrong.json()["error"] == "signature_invalid"
    stale = post(receiver, "U1", at=datetime.now(UTC) - timedelta(minutes=6))
    assert stale.status_code == 401 and stale.json()["error"] == "signature_stale"
    assert post(receiver, "U9").status_code == 404
    assert receiver.stats("U1")["stored"] == 0 and receiver.stats("U1")["rejected"] == 2


def test_failure_modes_switch_over_http(receiver):
    control = f"{receiver.base_url}/control/U1"
    assert httpx.post(control, json={"mode": "500"}).json()["mode"] == "500"
    assert post(receiver, "U1").status_code == 500
    httpx.post(control, json={"mode": "410"})
    assert post(receiver, "U1").status_code == 410
    httpx.post(control, json={"mode": "down"})
    with pytest.raises(httpx.RemoteProtocolError):
        post(receiver, "U1")
    httpx.post(control, json={"mode": "slow", "slow_seconds": 1})
    with pytest.raises(httpx.ReadTimeout):
        post(receiver, "U1", timeout=0.3)
    assert httpx.post(control, json={"mode": "sideways"}).status_code == 400
    httpx.post(control, json={"mode": "ok", "acknowledge": False})
    assert receiver.units["U1"].acknowledge is False
    assert post(receiver, "U1").json()["duplicate"] is True  # the slow request was stored before the sleep
    assert receiver.stats("U1")["stored"] == 1 and receiver.stats("U1")["failed_on_purpose"] == 4


def test_end_to_end_push_pull_receipts_and_overdue(db, hub, live_api, tmp_path):
    """Hub pushes, the stand-in stores and acknowledges through the real API; one unit never acknowledges."""
    with MemberUnitReceiver(data_dir=tmp_path / "r", hub_url=live_api) as receiver:
        units.sync_units(db, small_profile(), receiver.endpoint_for)
        assert receiver.host_warehouse_units(db) == sorted(
            [PUSH_A, PUSH_B, PULL_C]
        )  # secrets + member tokens
        assert receiver.units[PULL_C].delivery == "pull" and receiver.units[PUSH_A].token
        receiver.set_acknowledge(PUSH_B, False)
        seed_events(db, 3, ack_due=date(2026, 11, 27))

        summary = worker.deliver_until_idle(db, hub, max_seconds=20)
        assert summary.delivered == 6
        assert receiver.pull_feed(PULL_C, limit=2) == 3
        assert receiver.wait_for_acks(timeout=20)

        assert {r["status"] for r in outbox(db, PUSH_A)} == {"acknowledged"}
        assert {(r["status"], r["delivered_via"]) for r in outbox(db, PULL_C)} == {("acknowledged", "pull")}
        assert {r["status"] for r in outbox(db, PUSH_B)} == {"delivered"}
        assert all(r["receipt"]["document_hash"] for r in outbox(db, PUSH_A))
        assert receiver.stats(PUSH_A)["acknowledged"] == 3 and receiver.stats(PUSH_B)["acknowledged"] == 0

    status = report.delivery_status(db)
    assert (status["expected"], status["delivered"], status["acknowledged"]) == (9, 9, 6)
    overdue = report.overdue_report(db, date(2026, 12, 1))
    assert [(u["unit"], u["reason"], u["overdue"]) for u in overdue] == [
        (PUSH_B, "delivered_not_acknowledged", 3)
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_serves_from_a_config_file(tmp_path):
    """`ggzy standins members serve` is a real process answering on its port."""
    config = tmp_path / "members.json"
    config.write_text(json.dumps({"data_dir": str(tmp_path / "data"), "units": {"U1": {"secret": SECRET}}}))
    port = _free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "ggzy"),
            "standins",
            "members",
            "serve",
            "--port",
            str(port),
            "--config",
            str(config),
        ],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "the receiver did not start"
                time.sleep(0.1)
        body = webhooks.encode_body(PAYLOAD)
        sent = httpx.post(
            f"{base}/units/U1/webhook", content=body, headers=webhooks.sign_headers(SECRET, "msg_9", body)
        )
        assert sent.status_code == 200
        assert [m["message_id"] for m in httpx.get(f"{base}/units/U1/messages").json()] == ["msg_9"]
    finally:
        process.terminate()
        process.wait(timeout=10)
