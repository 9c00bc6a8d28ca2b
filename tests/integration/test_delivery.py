"""Delivery of penalty events to member units on real PostgreSQL and the real receiver stand-in (127.0.0.1)."""

from __future__ import annotations

import base64
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from delivery_seed import PULL_C, PUSH_A, PUSH_B, make_due_now, outbox, seed_events, small_profile

from ggzy.delivery import feed, receipts, report, units, webhooks
from ggzy.delivery import outbox as worker
from ggzy.errors import HubError
from standins.member_units import MemberUnitReceiver, UnitConfig


@pytest.fixture
def fast(hub):
    """Settings with a short timeout and backoff, so failure paths run in fractions of a second."""
    return hub.model_copy(update={"delivery_timeout_seconds": 0.5, "delivery_backoff_base_seconds": 60.0})


@pytest.fixture
def receiver(tmp_path):
    """The real member-unit receiver on a free 127.0.0.1 port (no hub URL: it does not acknowledge)."""
    with MemberUnitReceiver(data_dir=tmp_path / "receiver") as server:
        yield server


@pytest.fixture
def unit_rows(db, receiver):
    """The small profile's units synced with endpoints on the receiver, which hosts them with their secrets."""
    synced = units.sync_units(db, small_profile(), receiver.endpoint_for)
    for unit in synced:
        receiver.add_unit(UnitConfig(code=unit["code"], secret=unit["secret"], delivery=unit["mode"]))
    return {unit["code"]: unit for unit in synced}


def attempts(db, unit=None):
    with db.connect() as conn:
        return (
            conn.execute(
                sa.text(
                    "SELECT a.*, o.unit_code FROM delivery.attempt a JOIN delivery.outbox o ON o.id = a.outbox_id"
                    " WHERE :unit IS NULL OR o.unit_code = :unit ORDER BY a.id"
                ),
                {"unit": unit},
            )
            .mappings()
            .all()
        )


def test_sync_units_generates_secret_once_and_keeps_endpoints(db):
    first = {
        u["code"]: u
        for u in units.sync_units(db, small_profile(), lambda unit: f"http://127.0.0.1:1/{unit.code}")
    }
    assert set(first) == {PUSH_A, PUSH_B, PULL_C}
    assert first[PULL_C]["endpoint_url"] is None and first[PULL_C]["mode"] == "pull"
    assert all(len(base64.b64decode(u["secret"].removeprefix("whsec_"))) >= 24 for u in first.values())
    again = {u["code"]: u for u in units.sync_units(db, small_profile(), lambda unit: None)}
    assert {c: u["secret"] for c, u in again.items()} == {c: u["secret"] for c, u in first.items()}
    assert again[PUSH_A]["endpoint_url"] == f"http://127.0.0.1:1/{PUSH_A}"  # None keeps the endpoint
    assert "secret" not in units.list_units(db)[0]
    assert units.unit_secret(db, PUSH_B) == first[PUSH_B]["secret"]
    with pytest.raises(HubError) as caught:
        units.get_unit(db, "NOPE")
    assert caught.value.status_code == 404


def test_enqueue_owes_every_unit_once_and_disabled_units_start_disabled(db):
    units.sync_units(db, small_profile(), lambda unit: None)
    units.disable_unit(db, PUSH_B, "operator: endpoint moving")
    (event_id,) = seed_events(db, 1)
    with db.begin() as conn:
        assert worker.enqueue_event(conn, event_id) == 0  # idempotent
    statuses = {row["unit_code"]: row["status"] for row in outbox(db)}
    assert statuses == {PUSH_A: "pending", PUSH_B: "disabled", PULL_C: "pending"}
    assert {row["ack_due"] for row in outbox(db)} == {date(2026, 11, 27)}
    assert len({row["message_id"] for row in outbox(db)}) == 3


def test_acknowledgement_due_counts_working_days():
    # Friday 2026-11-20 + 5 working days = Friday 2026-11-27 (weekend skipped)
    assert worker.acknowledgement_due(date(2026, 11, 20), small_profile()) == date(2026, 11, 27)


def test_down_then_500_then_healthy_delivers_every_message_exactly_once(db, fast, receiver, unit_rows):
    seed_events(db, 3)
    receiver.set_mode(PUSH_A, "down")
    receiver.set_mode(PUSH_B, "500")

    first = worker.deliver_due(db, fast)
    assert (first.claimed, first.delivered, first.retrying) == (6, 0, 6)  # the pull unit is never pushed
    assert first.errors == {"http 500": 3, "RemoteProtocolError": 3}
    assert all(
        r["status"] == "pending" and r["next_attempt_at"] > datetime.now(UTC) for r in outbox(db, PUSH_A)
    )
    assert worker.deliver_due(db, fast).claimed == 0  # retries wait for their backoff

    make_due_now(db)
    receiver.set_mode(PUSH_A, "500")
    receiver.set_mode(PUSH_B, "ok")
    second = worker.deliver_due(db, fast)
    assert (second.delivered, second.retrying) == (3, 3)

    make_due_now(db)
    receiver.set_mode(PUSH_A, "ok")
    third = worker.deliver_due(db, fast)
    assert third.delivered == 3

    for code, expected_attempts in ((PUSH_A, 3), (PUSH_B, 2)):
        rows = outbox(db, code)
        assert [r["status"] for r in rows] == ["delivered"] * 3
        assert {r["attempts"] for r in rows} == {expected_attempts}
        assert {r["delivered_via"] for r in rows} == {"push"}
        stats = receiver.stats(code)
        assert (stats["stored"], stats["duplicates"]) == (3, 0)
        stored_ids = {m["message_id"] for m in receiver.messages(code)}
        assert stored_ids == {r["message_id"] for r in rows}
    assert [r["status"] for r in outbox(db, PULL_C)] == ["pending"] * 3
    assert not attempts(db, PULL_C)
    logged = attempts(db, PUSH_A)
    assert [a["http_status"] for a in logged] == [None] * 3 + [500] * 3 + [200] * 3
    assert logged[0]["error"].startswith("RemoteProtocolError") and logged[3]["error"] == "HTTP 500"
    assert all(a["duration_ms"] is not None for a in logged)
    assert "simulated failure" in logged[3]["response_excerpt"]

    status = report.delivery_status(db)
    assert (status["expected"], status["delivered"], status["pending"], status["failed"]) == (9, 6, 3, 0)
    per_unit = {u["code"]: u for u in status["units"]}
    assert per_unit[PUSH_A]["delivered"] == 3 and per_unit[PULL_C]["pending"] == 3


def test_slow_receiver_times_out_and_the_retry_is_deduplicated(db, fast, receiver, unit_rows):
    seed_events(db, 1)
    receiver.set_mode(PUSH_A, "slow", slow_seconds=2)
    first = worker.deliver_due(db, fast)
    assert first.errors.get("timeout") == 1 and first.delivered == 1  # PUSH_B answered in time
    assert receiver.stats(PUSH_A)["stored"] == 1  # the receiver kept it although the hub gave up waiting
    receiver.set_mode(PUSH_A, "ok")
    make_due_now(db)
    assert worker.deliver_due(db, fast).delivered == 1
    stats = receiver.stats(PUSH_A)
    assert (stats["stored"], stats["deliveries"], stats["duplicates"]) == (1, 2, 1)
    (row,) = outbox(db, PUSH_A)
    assert row["status"] == "delivered" and row["attempts"] == 2


def test_410_disables_the_unit_and_its_rows_are_reported_then_reenabled(db, fast, receiver, unit_rows):
    seed_events(db, 2)
    receiver.set_mode(PUSH_B, "410")
    summary = worker.deliver_due(db, fast)
    assert summary.units_disabled == [PUSH_B] and summary.rows_disabled == 2 and summary.delivered == 2
    unit = units.get_unit(db, PUSH_B)
    assert unit["status"] == "disabled" and "410" in unit["disabled_reason"]
    assert [r["status"] for r in outbox(db, PUSH_B)] == ["disabled", "disabled"]
    seed_events(db, 1)  # a later decision is still owed to the disabled unit, but not pushed
    make_due_now(db)
    assert worker.deliver_until_idle(db, fast, max_seconds=10).delivered == 1
    assert [r["status"] for r in outbox(db, PUSH_B)] == ["disabled"] * 3
    assert len(attempts(db, PUSH_B)) == 2  # no more pushes to a retired endpoint
    status = report.delivery_status(db)
    assert status["disabled"] == 3
    assert {u["code"]: u["status"] for u in status["units"]}[PUSH_B] == "disabled"
    overdue = {u["unit"]: u for u in report.overdue_report(db, date(2026, 12, 1))}
    assert overdue[PUSH_B]["reason"] == "endpoint_disabled" and overdue[PUSH_B]["reasons"] == {
        "endpoint_disabled": 3
    }

    receiver.set_mode(PUSH_B, "ok")
    enabled = units.enable_unit(db, PUSH_B)
    assert enabled["status"] == "active" and enabled["rows_requeued"] == 3
    assert worker.deliver_until_idle(db, fast, max_seconds=10).delivered == 3
    assert receiver.stats(PUSH_B)["stored"] == 3


def test_gives_up_after_max_age_and_reports_failed(db, fast, receiver, unit_rows):
    seed_events(db, 1)
    receiver.set_mode(PUSH_A, "500")
    worker.deliver_due(db, fast)
    (row,) = outbox(db, PUSH_A)
    assert row["next_attempt_at"] <= row["first_attempt_at"] + timedelta(hours=fast.delivery_max_age_hours)
    with db.begin() as conn:  # the first attempt was 73 hours ago
        conn.execute(
            sa.text(
                "UPDATE delivery.outbox SET first_attempt_at = now() - interval '73 hours',"
                " next_attempt_at = now() - interval '1 second' WHERE unit_code = :u"
            ),
            {"u": PUSH_A},
        )
    summary = worker.deliver_due(db, fast)
    assert summary.failed == 1
    (row,) = outbox(db, PUSH_A)
    assert row["status"] == "failed" and row["attempts"] == 2 and row["last_http_status"] == 500
    assert worker.deliver_due(db, fast).claimed == 0  # failed rows are not retried ...
    status = report.delivery_status(db)
    assert status["failed"] == 1 and {u["code"]: u["failed"] for u in status["units"]}[PUSH_A] == 1
    overdue = {u["unit"]: u for u in report.overdue_report(db, date(2026, 12, 1))}
    assert overdue[PUSH_A]["reasons"] == {"failed": 1}
    receiver.set_mode(PUSH_A, "ok")  # ... until the unit is re-enabled, which re-queues them
    assert units.enable_unit(db, PUSH_A)["rows_requeued"] == 1
    assert worker.deliver_due(db, fast).delivered == 1


def test_concurrent_workers_never_claim_the_same_row(db, fast, receiver, unit_rows):
    seed_events(db, 10)
    summaries = []
    threads = [
        threading.Thread(target=lambda: summaries.append(worker.deliver_due(db, fast, limit=7)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(s.claimed for s in summaries) == 20
    assert len(attempts(db)) == 20
    assert receiver.stats(PUSH_A)["duplicates"] == 0 and receiver.stats(PUSH_B)["duplicates"] == 0


def test_pull_feed_pages_with_a_cursor_and_marks_rows_delivered(db, hub):
    units.sync_units(db, small_profile(), lambda unit: None)
    seed_events(db, 5)
    seen, after, pages = [], 0, 0
    while True:
        page = feed.read_feed(db, PULL_C, after, 2)
        pages += 1
        seen += page["items"]
        assert page["next_cursor"] >= after
        after = page["next_cursor"]
        if not page["has_more"]:
            break
    assert pages == 3 and [item["cursor"] for item in seen] == sorted(item["cursor"] for item in seen)
    rows = outbox(db, PULL_C)
    assert [item["message_id"] for item in seen] == [r["message_id"] for r in rows]
    assert {(r["status"], r["delivered_via"]) for r in rows} == {("delivered", "pull")}
    item = seen[0]
    assert (
        item["data"]["unit"] == PULL_C and item["data"]["document"]["party_id_masked"] == "410802********1234"
    )
    assert item["data"]["links"]["receipt"] == f"{hub.api_base_url}/v1/receipts"
    assert item["data"]["ack_due"] == "2026-11-27"
    assert feed.read_feed(db, PULL_C, after, 2) == {
        "unit": PULL_C,
        "items": [],
        "next_cursor": after,
        "has_more": False,
    }
    assert [r["status"] for r in outbox(db, PUSH_A)] == ["pending"] * 5  # other units' rows untouched
    with pytest.raises(HubError) as caught:
        feed.read_feed(db, "NOPE", 0, 2)
    assert caught.value.status_code == 404


def _receipt(db, unit, row, *, document_hash=None, secret=None, at=None):
    with db.connect() as conn:
        real_hash = conn.scalar(
            sa.text("SELECT document_hash FROM delivery.event WHERE id = :e"), {"e": row["event_id"]}
        )
    body = webhooks.encode_body(
        {
            "message_id": row["message_id"],
            "document_hash": document_hash or real_hash,
            "received_at": "2026-11-23T09:30:00+08:00",
            "note": "已签收",
        }
    )
    headers = webhooks.sign_headers(secret or units.unit_secret(db, unit), "rcpt_1", body, timestamp=at)
    return body, headers


def test_receipts_valid_repeat_bad_signature_wrong_hash_other_unit(db):
    units.sync_units(db, small_profile(), lambda unit: None)
    seed_events(db, 1)
    row = outbox(db, PUSH_A)[0]

    with pytest.raises(HubError) as bad_signature:
        receipts.record_receipt(db, PUSH_A, *_receipt(db, PUSH_A, row, secret=units.unit_secret(db, PUSH_B)))
    assert bad_signature.value.status_code == 401
    stale = datetime.now(UTC) - timedelta(minutes=10)
    with pytest.raises(HubError) as stale_receipt:
        receipts.record_receipt(db, PUSH_A, *_receipt(db, PUSH_A, row, at=stale))
    assert stale_receipt.value.code == "signature_stale"
    with pytest.raises(HubError) as wrong_hash:
        receipts.record_receipt(db, PUSH_A, *_receipt(db, PUSH_A, row, document_hash="0" * 64))
    assert wrong_hash.value.status_code == 409 and wrong_hash.value.detail["field"] == "document_hash"
    with pytest.raises(HubError) as other_unit:  # B signs a receipt for A's message with B's own secret
        receipts.record_receipt(db, PUSH_B, *_receipt(db, PUSH_B, row))
    assert other_unit.value.code == "unknown_message" and other_unit.value.status_code == 404
    assert outbox(db, PUSH_A)[0]["status"] == "pending"

    result = receipts.record_receipt(db, PUSH_A, *_receipt(db, PUSH_A, row))
    assert result["status"] == "acknowledged" and result["already_acknowledged"] is False
    stored = outbox(db, PUSH_A)[0]
    assert stored["status"] == "acknowledged" and stored["acknowledged_at"] is not None
    assert stored["delivered_at"] is not None and stored["receipt"]["note"] == "已签收"
    assert stored["receipt"]["receipt_id"] == "rcpt_1"

    again = receipts.record_receipt(db, PUSH_A, *_receipt(db, PUSH_A, row))
    assert again["already_acknowledged"] is True and again["acknowledged_at"] == result["acknowledged_at"]
    status = report.delivery_status(db)
    assert (status["acknowledged"], status["delivered"], status["pending"]) == (1, 1, 2)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"message_id": "msg_x", "document_hash": "ab"}', "received_at"),
        (b'{"message_id": "", "document_hash": "ab", "received_at": "2026-11-23T09:30:00"}', "message_id"),
        (b'{"message_id": "m", "document_hash": "ab", "received_at": "yesterday"}', "received_at"),
        (b"[1, 2]", "-"),
    ],
)
def test_receipt_fields_are_checked_and_named(db, body, field):
    units.sync_units(db, small_profile(), lambda unit: None)
    headers = webhooks.sign_headers(units.unit_secret(db, PUSH_A), "rcpt_2", body)
    with pytest.raises(HubError) as caught:
        receipts.record_receipt(db, PUSH_A, body, headers)
    assert caught.value.code == "invalid_receipt" and caught.value.detail["field"] == field
    assert field in caught.value.zh and field in caught.value.en


def test_overdue_report_names_units_that_did_not_acknowledge(db, hub):
    units.sync_units(db, small_profile(), lambda unit: None)
    seed_events(db, 2, ack_due=date(2026, 11, 27))
    for row in outbox(db, PUSH_A):
        receipts.record_receipt(db, PUSH_A, *_receipt(db, PUSH_A, row))
    feed.read_feed(db, PULL_C, 0, 10)  # read, never acknowledged

    assert report.overdue_report(db, date(2026, 11, 27)) == []  # due today is not overdue yet
    overdue = report.overdue_report(db, date(2026, 12, 2))
    by_unit = {u["unit"]: u for u in overdue}
    assert set(by_unit) == {PUSH_B, PULL_C}
    assert by_unit[PUSH_B]["reason"] == "never_delivered" and by_unit[PUSH_B]["overdue"] == 2
    assert by_unit[PULL_C]["reason"] == "delivered_not_acknowledged"
    assert by_unit[PULL_C]["reason_zh"] == "已送达未签收"
    assert by_unit[PULL_C]["oldest_due"] == "2026-11-27"
    assert by_unit[PULL_C]["working_days_overdue"] == 3  # Mon 30 Nov, Tue 1 Dec, Wed 2 Dec


def test_cli_units_and_delivery_commands(db, hub, receiver):
    """The `ggzy units` and `ggzy delivery` commands on the real warehouse (profile from GGZY_JURISDICTION)."""
    import json

    from typer.testing import CliRunner

    from ggzy.cli import app

    cli = CliRunner()

    def run(*args: str) -> dict | list:
        result = cli.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    synced = run("units", "sync", "--receiver", receiver.base_url, "--json")
    push = [u for u in synced if u["mode"] == "push"]
    assert push and all(u["endpoint_url"] == receiver.webhook_url(u["code"]) for u in push)
    assert all("secret" not in u for u in synced)
    code = push[0]["code"]
    secret = cli.invoke(app, ["units", "secret", code]).stdout.strip()
    assert secret == units.unit_secret(db, code)
    receiver.add_unit(UnitConfig(code=code, secret=secret))
    seed_events(db, 1)
    assert run("units", "disable", code, "--reason", "维护 maintenance", "--json")["rows_disabled"] == 1
    assert run("units", "enable", code, "--json")["rows_requeued"] == 1
    ran = run("delivery", "run", "--json")
    assert ran["delivered"] == 1 and ran["claimed"] == len(push)  # other push units have no stand-in here
    status = run("delivery", "status", "--json")
    assert status["expected"] == len(synced) and status["delivered"] == 1
    overdue = run("delivery", "overdue", "--as-of", "2026-12-01", "--json")
    assert len(overdue["items"]) == len(synced) and overdue["as_of"] == "2026-12-01"
    bad = cli.invoke(app, ["units", "enable", "NOPE", "--json"])
    assert bad.exit_code == 1 and json.loads(bad.stdout)["error"] == "unknown_unit"
    bad_date = cli.invoke(app, ["delivery", "overdue", "--as-of", "1 Dec", "--json"])
    assert bad_date.exit_code == 1 and "--as-of" in json.loads(bad_date.stdout)["message"]["en"]
