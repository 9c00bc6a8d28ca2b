"""Fan-out benchmark: D penalty decisions delivered to U member units on loopback (D x U signed webhooks).

One run, one fresh embedded PostgreSQL (temp GGZY home, migrated) and one member-unit receiver stand-in
(`standins.member_units.MemberUnitReceiver`, 127.0.0.1, free port, in its own process) hosting all U units with receipts
switched off (so acknowledgements do not compete with deliveries), its SQLite store on tmpfs, TCP_NODELAY on its
sockets and a listen backlog of 1024 (see `_serve_receiver`), so the stand-in's disk, Nagle stalls and SYN drops
are not what is measured:

* seeding (not timed): U synthetic push units are synced into delivery.member_unit pointing at the
  receiver, then a generated good file of D decisions goes through the penalty pipeline, which commits one
  delivery event per decision and one outbox row per (decision, unit);
* baseline: a plain sequential `httpx.Client` POST loop (one keep-alive connection, no database) sending an
  equivalent body per (decision, unit) — same payload shape and size, Standard Webhooks-signed with the
  unit's secret (ggzy.delivery.webhooks.encode_body / sign_headers), fresh message ids;
* ours: the hub's delivery worker, `ggzy.delivery.outbox.deliver_until_idle` with default settings
  (claim with leases, concurrent async sends, every attempt recorded, outbox rows moved to 'delivered').

    .venv/bin/python -m bench.fanout                       # 10,000 decisions x 30 units
    .venv/bin/python -m bench.fanout --decisions 500 --units 10
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import socket
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    MemorySampler,
    Stopwatch,
    environment,
    fresh_hub,
    rate,
    table,
    write_results,
)

DEFAULT_DECISIONS = 10_000
DEFAULT_UNITS = 30
SHM = Path("/dev/shm")
RETRY_ROUNDS = 5
BASELINE_NOTE = "plain sequential httpx.Client POST loop (one keep-alive connection, no database)"


def bench_profile(units: int) -> Any:
    """A jurisdiction with `units` push member units (synthetic codes BENCH-01..)."""
    from ggzy.identifiers import make_uscc
    from ggzy.jurisdictions import MemberUnit, Profile

    members = tuple(
        MemberUnit(
            code=f"BENCH-{n:02d}",
            name=f"基准测试成员单位{n}",
            role="supervising_department",
            uscc=make_uscc("11", "410800", f"B{n:07d}"),
            delivery="push",
        )
        for n in range(1, units + 1)
    )
    return Profile(
        key="bench", name="基准测试市", region_code="410800", notice="bench", lead_agency=members[0].code,
        units=members, deadlines={"penalty_acknowledgement": 5},
    )  # fmt: skip


def _serve_receiver(port: int, store_dir: str, units: dict[str, Any], ready: Any, stop: Any) -> None:
    """Child process: host the units on the member-unit receiver stand-in until `stop` is set."""
    from http.server import ThreadingHTTPServer

    from standins import member_units

    # The stand-in answers in two writes (headers, then body); with Nagle on, each answer waits ~40 ms for
    # the client's delayed ACK (~20 requests/s per connection), which measures the stand-in's socket, not
    # delivery. Real web servers set TCP_NODELAY; so does the stand-in here.
    member_units._Handler.disable_nagle_algorithm = True
    # socketserver's default listen backlog is 5: the worker opening 16 connections at once would see SYNs
    # dropped and retried after 1-3 s. Real web servers listen with a backlog of hundreds.
    member_units.ThreadingHTTPServer = type(
        "BenchThreadingHTTPServer", (ThreadingHTTPServer,), {"request_queue_size": 1024}
    )
    receiver = member_units.MemberUnitReceiver(units, data_dir=Path(store_dir), port=port)
    receiver.start()
    ready.set()
    stop.wait()
    receiver.stop()


class ReceiverProcess:
    """The receiver stand-in in its own process (as member units' systems are): the worker and the loop
    in this process do not share a GIL with its 16+ handler threads."""

    def __init__(self, store_dir: Path) -> None:
        with socket.socket() as probe:  # a free port, known before the units are synced
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.store_dir = store_dir
        self.store_path = store_dir / "member_units.sqlite3"
        context = multiprocessing.get_context("spawn")
        self._ready, self._stop = context.Event(), context.Event()
        self._context = context
        self._process: Any = None

    def endpoint_for(self, unit: Any) -> str:
        """The webhook URL of a unit on this receiver (for sync_units)."""
        return f"http://127.0.0.1:{self.port}/units/{unit.code}/webhook"

    def start(self, units: dict[str, Any]) -> None:
        """Start hosting these units ({code: {secret, acknowledge}}); waits until it listens."""
        self._process = self._context.Process(
            target=_serve_receiver,
            args=(self.port, str(self.store_dir), units, self._ready, self._stop),
            name="bench-member-units",
            daemon=True,
        )
        self._process.start()
        if not self._ready.wait(60):
            raise SystemExit("the member-unit receiver stand-in did not start")

    def stop(self) -> None:
        """Stop the child process."""
        if self._process is not None:
            self._stop.set()
            self._process.join(30)


def seed(
    settings: Any, receiver: ReceiverProcess, decisions: int, units: int, seed_value: int
) -> dict[str, Any]:
    """Sync the units to the receiver and ingest a good file of `decisions` rows; returns seeding figures."""
    import sqlalchemy as sa

    from ggzy import database
    from ggzy.delivery.units import sync_units
    from ggzy.pipelines.penalties import ingest_path
    from standins.departments import large_csv

    engine = database.engine(settings)
    synced = sync_units(engine, bench_profile(units), receiver.endpoint_for)
    receiver.start({u["code"]: {"secret": u["secret"], "acknowledge": False} for u in synced})
    path = large_csv(settings.home / f"fanout-{decisions}.csv", decisions, seed=seed_value)
    with Stopwatch() as watch:
        report = ingest_path(path, submitted_by=None, settings=settings)
    with engine.connect() as conn:
        owed = conn.scalar(sa.text("SELECT count(*) FROM delivery.outbox WHERE status = 'pending'"))
    if report.rows_loaded != decisions or owed != decisions * units:
        raise SystemExit(f"seeding failed: {report.rows_loaded} decisions loaded, {owed} outbox rows pending")
    return {
        "decisions_loaded": report.rows_loaded,
        "outbox_rows": owed,
        "ingest_seconds": round(watch.seconds, 2),
    }


def baseline_posts(settings: Any, max_seconds: float) -> tuple[int, int, float]:
    """POST one signed body per (event, unit) in a plain loop (stops after max_seconds); (sent, 2xx, seconds)."""
    import httpx
    import sqlalchemy as sa

    from ggzy import database
    from ggzy.delivery.outbox import MESSAGE_COLUMNS, MESSAGE_FROM, USER_AGENT, build_payload
    from ggzy.delivery.units import list_units
    from ggzy.delivery.webhooks import encode_body, sign_headers

    engine = database.engine(settings)
    units = [u for u in list_units(engine, with_secrets=True) if u["endpoint_url"]]
    with engine.connect() as conn:  # every event once, with the columns the worker reads (not timed)
        events = (
            conn.execute(
                sa.text(f"SELECT {MESSAGE_COLUMNS} {MESSAGE_FROM} WHERE o.unit_code = :unit ORDER BY e.id"),
                {"unit": units[0]["code"]},
            )
            .mappings()
            .all()
        )
    sent = ok = 0
    base = settings.api_base_url
    deadline = time.monotonic() + max_seconds
    with (
        httpx.Client(timeout=settings.delivery_timeout_seconds, trust_env=False) as client,
        Stopwatch() as watch,
    ):
        for event in events:
            if time.monotonic() >= deadline:
                break
            for unit in units:
                message_id = "bench_" + uuid.uuid4().hex
                body = encode_body(
                    build_payload({**event, "message_id": message_id, "unit_code": unit["code"]}, base)
                )
                headers = {
                    "content-type": "application/json; charset=utf-8",
                    "user-agent": USER_AGENT,
                    **sign_headers(unit["secret"], message_id, body),
                }
                response = client.post(unit["endpoint_url"], content=body, headers=headers)
                sent += 1
                ok += response.is_success
    return sent, ok, watch.seconds


def retry_now(engine: Any) -> int:
    """Make rows waiting for a retry due at once (the backoff is not what is measured); returns how many."""
    import sqlalchemy as sa

    with engine.begin() as conn:
        return conn.execute(
            sa.text("UPDATE delivery.outbox SET next_attempt_at = now() WHERE status = 'pending'")
        ).rowcount


def received(receiver: Any, prefix: str, negate: bool = False) -> int:
    """Messages the receiver stored whose id does (not) start with prefix."""
    with sqlite3.connect(receiver.store_path) as db:
        op = "NOT LIKE" if negate else "LIKE"
        return db.execute(
            f"SELECT count(*) FROM message WHERE message_id {op} ?", (prefix + "%",)
        ).fetchone()[0]


def measure(
    decisions: int, units: int, seed_value: int, max_seconds: float, concurrency: int | None = None
) -> dict[str, Any]:
    """Seed, run the baseline loop, then the hub's worker; returns the figures."""
    import sqlalchemy as sa

    from ggzy import database
    from ggzy.delivery.outbox import DeliveryRunSummary, deliver_until_idle

    # The stand-in commits every message to SQLite; on this disk each fsync costs tens of ms, which would
    # measure the stand-in's disk, not delivery. Its store lives on tmpfs for both sides alike.
    store_dir = Path(tempfile.mkdtemp(prefix="bench-fanout-receiver-", dir=SHM if SHM.is_dir() else None))
    with fresh_hub("bench-fanout") as settings:
        receiver = ReceiverProcess(store_dir)
        if concurrency:  # a what-if; the default is the hub's setting
            settings = settings.model_copy(update={"delivery_concurrency": concurrency})
        try:
            seeded = seed(settings, receiver, decisions, units, seed_value)
            sent, ok, baseline_seconds = baseline_posts(settings, max_seconds)
            engine = database.engine(settings)
            summary = DeliveryRunSummary()
            with MemorySampler(settings) as memory, Stopwatch() as ours:
                deadline = time.monotonic() + max_seconds
                for _ in range(RETRY_ROUNDS):
                    summary.add(deliver_until_idle(engine, settings, max_seconds=deadline - time.monotonic()))
                    if time.monotonic() >= deadline or not retry_now(engine):
                        break
            with engine.connect() as conn:
                statuses = dict(
                    conn.execute(
                        sa.text("SELECT status, count(*) FROM delivery.outbox GROUP BY status")
                    ).all()
                )
                attempts = conn.scalar(sa.text("SELECT count(*) FROM delivery.attempt"))
            stored_ours, stored_baseline = (
                received(receiver, "bench_", negate=True),
                received(receiver, "bench_"),
            )
        finally:
            receiver.stop()
            shutil.rmtree(store_dir, ignore_errors=True)

    expected = decisions * units
    complete = statuses.get("delivered", 0) == expected and ok == sent == expected
    if stored_ours != statuses.get("delivered", 0) or stored_baseline != ok or summary.errors:
        print(
            f"WARNING: worker {statuses}, receiver stored {stored_ours}; baseline {ok}/{sent} ok,"
            f" stored {stored_baseline}; errors {summary.errors}",
            flush=True,
        )
    baseline_rate, ours_rate = rate(sent, baseline_seconds), rate(summary.delivered, ours.seconds)
    return {
        "decisions": decisions,
        "units": units,
        "deliveries": expected,
        "complete": complete,
        "max_seconds_per_side": max_seconds,
        "seeding": seeded,
        "baseline": {"method": BASELINE_NOTE, "seconds": round(baseline_seconds, 3),
                     "deliveries_per_second": round(baseline_rate), "sent": sent, "ok": ok, "stored": stored_baseline},
        "ours": {"method": "ggzy.delivery.outbox.deliver_until_idle, default settings",
                 "seconds": round(ours.seconds, 3), "deliveries_per_second": round(ours_rate),
                 "passes": summary.passes, "delivered": summary.delivered, "attempts_recorded": attempts,
                 "errors": summary.errors, "stored_by_receiver": stored_ours, "outbox_status": statuses,
                 "batch_size": settings.delivery_batch_size, "concurrency": settings.delivery_concurrency},
        "ratio": round(ours_rate / baseline_rate, 3) if baseline_rate else 0.0,
        "memory": memory.figures(),
    }  # fmt: skip


def render(result: dict[str, Any]) -> str:
    """The readable table of one measurement."""
    ours, base = result["ours"], result["baseline"]
    rows = [
        ("deliveries", f"{result['deliveries']:,} ({result['decisions']:,} decisions x {result['units']} units)"),
        ("baseline", base["method"]),
        ("baseline: POST loop", f"{base['sent']:,} sent in {base['seconds']:.2f} s  {base['deliveries_per_second']:,} deliveries/s"),
        ("ours: delivery worker", f"{ours['delivered']:,} delivered in {ours['seconds']:.2f} s  {ours['deliveries_per_second']:,} deliveries/s"
                                  f" ({ours['passes']} passes of {ours['batch_size']}, concurrency {ours['concurrency']})"),
        ("ratio ours/baseline", f"{result['ratio']:.3f}"),
        ("complete", "yes" if result["complete"] else f"no: each side stopped after {result['max_seconds_per_side']:g} s"),
        ("attempts recorded", f"{ours['attempts_recorded']:,} (errors: {ours['errors'] or 'none'})"),
        ("peak RSS python", f"{result['memory']['python_peak_rss_mib']:,} MiB"),
        ("peak RSS postgres (all)", f"{result['memory']['postgres_peak_rss_mib']:,} MiB"),
    ]  # fmt: skip
    return table(rows, "Fan-out benchmark (loopback, receiver stand-in in its own process, receipts off)")


def run(
    decisions: int = DEFAULT_DECISIONS,
    units: int = DEFAULT_UNITS,
    seed_value: int = 2026,
    *,
    max_seconds: float = 3600.0,
    concurrency: int | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Run the benchmark, print the table, write JSON."""
    results: dict[str, Any] = {"benchmark": "fanout", "environment": environment()}
    result = measure(decisions, units, seed_value, max_seconds, concurrency)
    results["runs"] = [result]
    results["path"] = str(write_results("fanout", results))
    if not quiet:
        print(render(result))
        print(f"results: {results['path']}", flush=True)
    return results


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=DEFAULT_DECISIONS)
    parser.add_argument("--units", type=int, default=DEFAULT_UNITS)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=3600.0,
        help="stop each side after about this long (rates are then over what was sent)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        help="what-if: worker concurrency (default: the hub's delivery_concurrency)",
    )
    args = parser.parse_args(argv)
    run(args.decisions, args.units, args.seed, max_seconds=args.max_seconds, concurrency=args.concurrency)


if __name__ == "__main__":
    main()
