"""The transactional outbox: what every member unit is owed, and the worker that pushes it (抄送).

Owed rows: `enqueue_event` / `enqueue_batch` add one delivery.outbox row per member unit for an event, in
the CALLER's transaction (the pipeline's merge), so a decision and what is owed for it commit together.
Rows for a disabled unit start as 'disabled' (reported, re-queued when the unit is enabled). `ack_due` is
the profile's `penalty_acknowledgement` working-day deadline counted from the day of enqueueing.

One worker pass (`deliver_due`):
1. claim: a short transaction picks due rows of active push units with an endpoint
   (`FOR UPDATE SKIP LOCKED`, so concurrent workers never claim the same row), sets a lease
   (`locked_until`) long enough for the whole pass, and commits. An expired lease (crashed worker) makes
   the row claimable again; receivers de-duplicate on `webhook-id`, so a rare double send is harmless.
2. send: outside any transaction, concurrently (httpx, at most `delivery_concurrency` in flight and
   `delivery_concurrency_per_host` to one host, each bounded by `delivery_timeout_seconds`), Standard
   Webhooks-signed full payloads (see webhooks.py).
3. record: one transaction writes every attempt to delivery.attempt and moves the rows on:
   2xx -> 'delivered'; 410 Gone -> the unit is disabled and all its pending rows become 'disabled';
   anything else (status, timeout, connection error) -> retried after an exponential backoff with full
   jitter (uniform(0, min(cap, base * 2^(n-1)))), never later than `delivery_max_age_hours` after the
   first attempt; a row still failing at that age becomes 'failed'. Failed and disabled rows are
   counted by ggzy.delivery.report; nothing is ever deleted.
A row's status only moves forward: a receipt or a pull read that lands while a push is in flight is kept.
Pull-mode units are never pushed; they read the same payloads from ggzy.delivery.feed.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa

from ggzy.delivery.units import disable_unit_in
from ggzy.delivery.webhooks import encode_body, sign_headers
from ggzy.settings import Settings, get_settings

EXCERPT_CHARS = 500
LEASE_MARGIN_SECONDS = 60.0
USER_AGENT = "ggzy-hub-delivery/1.0"

# Everything a message needs, for a push and for the pull feed alike.
MESSAGE_COLUMNS = (
    "o.id, o.message_id, o.unit_code, o.status, o.attempts, o.ack_due, e.id AS event_id, e.event_type,"
    " e.penalty_id, e.penalty_version, e.record_type, coalesce(e.record_id, e.penalty_id) AS record_id,"
    " coalesce(e.record_version, e.penalty_version) AS record_version,"
    " coalesce(e.document, v.record) AS document, e.document_hash, e.created_at AS event_created_at"
)

# Where a unit reads the record an event carries, by record type (formatted with the row and its document).
RECORD_LINKS = {
    "penalty_decision": "/v1/penalties/{record_id}",
    "restriction": "/v1/entities/{entity_key}/credit",
    "project_alert": "/v1/alerts",
    "monthly_report": "/v1/reports/monthly/{record_id}.pdf",
}
# A penalty event's document is the version record it names (migration 0007: stored once, not twice).
MESSAGE_FROM = (
    "FROM delivery.outbox o JOIN delivery.event e ON e.id = o.event_id"
    " LEFT JOIN core.penalty_decision_version v"
    "   ON e.document IS NULL AND v.penalty_id = e.penalty_id AND v.version = e.penalty_version"
)
MESSAGE_SELECT = f"SELECT {MESSAGE_COLUMNS} {MESSAGE_FROM}"

# Rows a pass may claim: pending, due, not leased, of an active push unit with an endpoint. The units come
# in as an array (an InitPlan), so the outbox is read in the order of its index (outbox_due: next_attempt_at,
# id) and a pass stops after its batch; as a join, the planner sorted every pending row of a large outbox
# whenever its estimates drifted (0.5 s of a 0.8 s pass at 300,000 owed rows).
_DUE_WHERE = """
WHERE o.status = 'pending' AND o.next_attempt_at <= now()
  AND (o.locked_until IS NULL OR o.locked_until < now())
  AND o.unit_code = ANY (ARRAY(SELECT u.code FROM delivery.member_unit u
                               WHERE u.mode = 'push' AND u.status = 'active' AND u.endpoint_url IS NOT NULL))
"""


# ---------------------------------------------------------------------------------------------------
# Owed rows


def acknowledgement_due(start: date | None = None, profile: Any = None) -> date | None:
    """The 签收 deadline: the profile's `penalty_acknowledgement` working days after start (default today)."""
    from ggzy.jurisdictions import load_profile
    from ggzy.workdays import add_working_days

    profile = profile or load_profile()
    days = profile.deadlines.get("penalty_acknowledgement")
    return add_working_days(start or date.today(), days) if days else None


def enqueue_event(conn: sa.Connection, event_id: int, *, ack_due: date | None = None) -> int:
    """One outbox row per member unit for one event, in the caller's transaction; returns rows added."""
    return _enqueue(conn, "e.id = :key", event_id, ack_due)


def enqueue_batch(conn: sa.Connection, batch_id: str, *, ack_due: date | None = None) -> int:
    """One outbox row per member unit for every event of a batch, in the caller's transaction."""
    return _enqueue(conn, "e.batch_id = CAST(:key AS uuid)", batch_id, ack_due)


def _enqueue(conn: sa.Connection, where: str, key: Any, ack_due: date | None) -> int:
    """Insert the owed rows (idempotent: an (event, unit) pair is owed once)."""
    due = ack_due if ack_due is not None else acknowledgement_due()
    # A merge enqueues events it has just created, which owe nothing yet: one probe per event shows it, and
    # the plain INSERT then skips ON CONFLICT's speculative insertion (a quarter of the cost per row).
    owes_some = conn.scalar(
        sa.text(
            "SELECT EXISTS (SELECT 1 FROM delivery.event e JOIN delivery.outbox o ON o.event_id = e.id"
            f" WHERE {where})"
        ),
        {"key": key},
    )
    return conn.execute(
        sa.text(
            # The message id is derived from the row's key (migration 0007): no random id, no index of its own,
            # and rows are written in the (event_id, unit_code) order of the unique index they are appended to.
            "INSERT INTO delivery.outbox (event_id, unit_code, status, ack_due, message_id)"
            " SELECT e.id, u.code, CASE WHEN u.status = 'active' THEN 'pending' ELSE 'disabled' END, :due,"
            "        delivery.message_id_for(e.id, u.code)"
            f" FROM delivery.event e CROSS JOIN delivery.member_unit u WHERE {where}"
            " ORDER BY e.id, u.code" + (" ON CONFLICT (event_id, unit_code) DO NOTHING" if owes_some else "")
        ),
        {"key": key, "due": due},
    ).rowcount


# ---------------------------------------------------------------------------------------------------
# Payload


def record_link(row: Mapping[str, Any], base: str) -> str | None:
    """The API URL of the record an event carries (None when its type has no endpoint)."""
    template = RECORD_LINKS.get(row["record_type"])
    document = row["document"] if isinstance(row["document"], Mapping) else {}
    try:
        return base + template.format(record_id=row["record_id"], **document) if template else None
    except (KeyError, IndexError):
        return None


def build_payload(row: Mapping[str, Any], api_base_url: str) -> dict[str, Any]:
    """The message a unit receives (push body or feed item): the masked record, its hash and links."""
    base = api_base_url.rstrip("/")
    created = row["event_created_at"]
    return {
        "type": row["event_type"],
        "timestamp": created.isoformat() if isinstance(created, datetime) else created,
        "message_id": row["message_id"],
        "data": {
            "event_id": row["event_id"],
            "unit": row["unit_code"],
            "record_type": row["record_type"],
            "record_id": row["record_id"],
            "penalty_id": row["penalty_id"],
            "version": row["record_version"],
            "document": row["document"],
            "document_hash": row["document_hash"],
            "ack_due": row["ack_due"].isoformat() if row["ack_due"] else None,
            "links": {
                "self": record_link(row, base),
                "receipt": f"{base}/v1/receipts",
            },
        },
    }


# ---------------------------------------------------------------------------------------------------
# One pass


@dataclass
class DeliveryRunSummary:
    """What one or more worker passes did."""

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    rows_disabled: int = 0
    units_disabled: list[str] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)  # 'http 500', 'ReadTimeout', ... -> attempts
    passes: int = 0
    seconds: float = 0.0

    def add(self, other: DeliveryRunSummary) -> None:
        """Fold another pass into this summary."""
        for name in ("claimed", "delivered", "retrying", "failed", "rows_disabled", "passes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.units_disabled += [u for u in other.units_disabled if u not in self.units_disabled]
        for key, count in other.errors.items():
            self.errors[key] = self.errors.get(key, 0) + count
        self.seconds = round(self.seconds + other.seconds, 3)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view (CLI --json, DAG XCom)."""
        return asdict(self)


@dataclass
class _Job:
    """One claimed row, ready to send."""

    outbox_id: int
    message_id: str
    unit_code: str
    url: str
    secret: str
    attempt_no: int
    body: bytes


@dataclass
class _Result:
    """What happened to one send."""

    job: _Job
    started_at: datetime
    duration_ms: int
    http_status: int | None = None
    error: str | None = None
    excerpt: str | None = None

    @property
    def outcome(self) -> str:
        """'delivered' (2xx), 'gone' (410) or 'retry'."""
        if self.http_status is not None and 200 <= self.http_status < 300:
            return "delivered"
        if self.http_status == 410:
            return "gone"
        return "retry"


def deliver_due(
    engine: sa.Engine, settings: Settings | None = None, *, limit: int | None = None
) -> DeliveryRunSummary:
    """One worker pass: claim due push rows, send them concurrently, record every attempt."""
    settings = settings or get_settings()
    started = time.perf_counter()
    limit = limit or settings.delivery_batch_size
    jobs = _claim(engine, settings, limit)
    summary = DeliveryRunSummary(claimed=len(jobs), passes=1)
    if jobs:
        results = _run(_send_all(jobs, settings))
        _record(engine, settings, results, summary)
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def deliver_until_idle(
    engine: sa.Engine,
    settings: Settings | None = None,
    max_seconds: float = 60.0,
    *,
    on_pass: Callable[[DeliveryRunSummary], None] | None = None,
) -> DeliveryRunSummary:
    """Repeat passes while rows are due now (rows scheduled for later wait for a later run), within max_seconds."""
    settings = settings or get_settings()
    total = DeliveryRunSummary()
    deadline = time.monotonic() + max_seconds
    while True:
        one = deliver_due(engine, settings)
        if one.claimed == 0:
            break
        total.add(one)
        if on_pass:
            on_pass(one)
        if time.monotonic() >= deadline:
            break
    return total


def due_count(engine: sa.Engine) -> int:
    """Rows a pass would claim now (pending, due, not leased, of an active push unit with an endpoint)."""
    with engine.connect() as conn:
        return conn.scalar(sa.text(f"SELECT count(*) FROM delivery.outbox o {_DUE_WHERE}"))


def _claim(engine: sa.Engine, settings: Settings, limit: int) -> list[_Job]:
    """Lease up to `limit` due rows in a short transaction and build their signed requests' bodies."""
    # Worst case every row goes to one host, which takes delivery_concurrency_per_host at a time.
    waves = math.ceil(limit / max(1, min(settings.delivery_concurrency, settings.delivery_concurrency_per_host)))
    lease = settings.delivery_timeout_seconds * (waves + 1) + LEASE_MARGIN_SECONDS
    with engine.begin() as conn:
        # The batch is the first rows of outbox_due's order; when the row estimates of a large, busy outbox
        # drift low, the planner prefers sorting every pending row (see _DUE_WHERE). Not for this claim.
        conn.execute(sa.text("SET LOCAL enable_sort = off"))
        rows = (
            conn.execute(
                sa.text(
                    "WITH due AS (SELECT o.id FROM delivery.outbox o"
                    f" {_DUE_WHERE}"
                    " ORDER BY o.next_attempt_at, o.id LIMIT :limit FOR UPDATE OF o SKIP LOCKED)"
                    " UPDATE delivery.outbox o SET locked_until = now() + make_interval(secs => :lease)"
                    " FROM due WHERE o.id = due.id RETURNING o.id"
                ),
                {"limit": limit, "lease": lease},
            )
            .scalars()
            .all()
        )
        if not rows:
            return []
        messages = (
            conn.execute(
                sa.text(
                    f"SELECT {MESSAGE_COLUMNS}, u.endpoint_url, u.secret {MESSAGE_FROM}"
                    " JOIN delivery.member_unit u ON u.code = o.unit_code WHERE o.id = ANY(:ids) ORDER BY o.id"
                ),
                {"ids": list(rows)},
            )
            .mappings()
            .all()
        )
    base = settings.api_base_url
    return [
        _Job(
            outbox_id=m["id"],
            message_id=m["message_id"],
            unit_code=m["unit_code"],
            url=m["endpoint_url"],
            secret=m["secret"],
            attempt_no=m["attempts"] + 1,
            body=encode_body(build_payload(m, base)),
        )
        for m in messages
    ]


def _run(coroutine: Any) -> Any:
    """Run a coroutine to completion, also when the caller's thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="ggzy-delivery")
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


async def _send_all(jobs: list[_Job], settings: Settings) -> list[_Result]:
    """Send every job, at most delivery_concurrency at a time and delivery_concurrency_per_host to one host.

    Units often share a server (a provincial platform hosting several departments' receivers, or one
    stand-in here); 16 parallel posts to one such host made it slower than posting one at a time.
    """
    concurrency = max(1, settings.delivery_concurrency)
    gate = asyncio.Semaphore(concurrency)
    per_host = max(1, min(settings.delivery_concurrency_per_host, concurrency))
    host_gates = {host: asyncio.Semaphore(per_host) for host in {urlsplit(job.url).netloc for job in jobs}}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    timeout = httpx.Timeout(settings.delivery_timeout_seconds)
    async with httpx.AsyncClient(
        timeout=timeout, limits=limits, follow_redirects=False, trust_env=False
    ) as client:

        async def send(job: _Job) -> _Result:
            async with host_gates[urlsplit(job.url).netloc], gate:
                return await _send_one(client, job, settings.delivery_timeout_seconds)

        return list(await asyncio.gather(*(send(job) for job in jobs)))


async def _send_one(client: httpx.AsyncClient, job: _Job, timeout: float) -> _Result:
    """POST one signed message; never raises (errors become the attempt's record)."""
    started_at = datetime.now(UTC)
    clock = time.perf_counter()
    headers = {
        "content-type": "application/json; charset=utf-8",
        "user-agent": USER_AGENT,
        **sign_headers(job.secret, job.message_id, job.body, timestamp=started_at),
    }
    result = _Result(job=job, started_at=started_at, duration_ms=0)
    try:
        response = await asyncio.wait_for(
            client.post(job.url, content=job.body, headers=headers), timeout * 2
        )
        result.http_status = response.status_code
        result.excerpt = response.text[:EXCERPT_CHARS] or None
        if result.outcome != "delivered":
            result.error = f"HTTP {response.status_code}"
    except (TimeoutError, httpx.TimeoutException) as exc:
        result.error = f"timeout after {timeout:g}s ({type(exc).__name__})"
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:EXCERPT_CHARS]
    result.duration_ms = int((time.perf_counter() - clock) * 1000)
    return result


def backoff_seconds(attempt_no: int, settings: Settings) -> float:
    """Full-jitter exponential backoff before retry number attempt_no + 1."""
    ceiling = min(
        settings.delivery_backoff_cap_seconds, settings.delivery_backoff_base_seconds * 2 ** (attempt_no - 1)
    )
    return random.uniform(0, ceiling)


def _error_key(result: _Result) -> str:
    if result.http_status is not None:
        return f"http {result.http_status}"
    return (result.error or "error").split(" ", 1)[0].rstrip(":")


def _record(
    engine: sa.Engine, settings: Settings, results: list[_Result], summary: DeliveryRunSummary
) -> None:
    """Write every attempt and move each row on, in one transaction."""
    records = [
        {
            "id": r.job.outbox_id,
            "attempt_no": r.job.attempt_no,
            "started_at": r.started_at.isoformat(),
            "duration_ms": r.duration_ms,
            "http_status": r.http_status,
            "error": r.error,
            "excerpt": r.excerpt,
            "outcome": r.outcome,
            "retry_at": (
                r.started_at + timedelta(seconds=backoff_seconds(r.job.attempt_no, settings))
            ).isoformat(),
        }
        for r in results
    ]
    for r in results:
        if r.outcome != "delivered":
            summary.errors[_error_key(r)] = summary.errors.get(_error_key(r), 0) + 1
    recordset = (
        "jsonb_to_recordset(CAST(:records AS jsonb)) AS r(id bigint, attempt_no int, started_at timestamptz,"
        " duration_ms int, http_status int, error text, excerpt text, outcome text, retry_at timestamptz)"
    )
    params = {"records": json.dumps(records), "max_age": settings.delivery_max_age_hours * 3600.0}
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO delivery.attempt (outbox_id, attempt_no, started_at, duration_ms, http_status,"
                " error, response_excerpt)"
                f" SELECT r.id, r.attempt_no, r.started_at, r.duration_ms, r.http_status, r.error, r.excerpt FROM {recordset}"
            ),
            params,
        )
        # Status only moves forward: 'acknowledged' (receipt) or 'delivered' (pull) set meanwhile are kept.
        statuses = conn.execute(
            sa.text(
                "UPDATE delivery.outbox o SET attempts = o.attempts + 1,"
                " first_attempt_at = coalesce(o.first_attempt_at, r.started_at), last_attempt_at = r.started_at,"
                " last_http_status = r.http_status, last_error = r.error, locked_until = NULL,"
                " status = CASE"
                "   WHEN r.outcome = 'delivered' AND o.status IN ('pending', 'failed', 'disabled') THEN 'delivered'"
                "   WHEN r.outcome = 'retry' AND o.status = 'pending'"
                "        AND coalesce(o.first_attempt_at, r.started_at) + make_interval(secs => :max_age) <= now()"
                "     THEN 'failed'"
                "   ELSE o.status END,"
                " delivered_at = CASE WHEN r.outcome = 'delivered' THEN coalesce(o.delivered_at, now())"
                "   ELSE o.delivered_at END,"
                " delivered_via = CASE WHEN r.outcome = 'delivered' THEN coalesce(o.delivered_via, 'push')"
                "   ELSE o.delivered_via END,"
                " next_attempt_at = CASE WHEN r.outcome = 'retry' THEN least(r.retry_at,"
                "   coalesce(o.first_attempt_at, r.started_at) + make_interval(secs => :max_age))"
                "   ELSE o.next_attempt_at END"
                f" FROM {recordset} WHERE o.id = r.id RETURNING o.id, o.status, r.outcome"
            ),
            params,
        ).all()
        for _, status, outcome in statuses:
            if outcome == "delivered":
                summary.delivered += 1
            elif outcome == "retry" and status == "failed":
                summary.failed += 1
            elif outcome == "retry" and status == "pending":
                summary.retrying += 1
        for result in results:
            if result.outcome == "gone" and result.job.unit_code not in summary.units_disabled:
                reason = (
                    f"HTTP 410 Gone from {result.job.url} at {result.started_at:%Y-%m-%d %H:%M:%S}Z"
                    " (endpoint says it no longer exists / 接收端已注销)"
                )
                summary.rows_disabled += disable_unit_in(conn, result.job.unit_code, reason)
                summary.units_disabled.append(result.job.unit_code)
