"""`ggzy demo`: the penalty flow end to end on local stand-ins, in one process, on a fresh demo database.

What it does, in order (every step real: PostgreSQL, HTTP on 127.0.0.1, the hub's own code paths):
1. a fresh warehouse database `<name>_demo` beside the configured one, migrated with Alembic;
2. the hub API (uvicorn, in a thread) and the member-unit receiver stand-in (one port, every unit);
3. the jurisdiction profile's units synced; one push unit is DOWN during the first delivery pass and
   another never acknowledges (so the overdue report has something to name);
4. the departments stand-in drops its demo set (good, broken, GBK, legacy files) into the drop folder and one
   department uploads a file through POST /v1/submissions; the drop folder is ingested;
5. the exchange-centre stand-in serves a small seeded year that is pulled into the trading datasets; the
   Credit China stand-in's lists (naming some of those bidders) are pulled into the restriction model and
   cross-checked; supervision scores every section, raises 402-form alerts to the responsible department and
   updates the watch list; the monthly report (HTML + PDF with charts) is written and delivered;
6. delivery: a first pass (the down unit fails and is scheduled for retry), the unit comes back, retries until
   nothing is owed; pull-only units read their feed; receipts (签收) flow back through POST /v1/receipts;
7. an oversight officer reads decisions with a case reference and purpose (and is refused without);
8. the audit chain is verified.
The summary (`--json`) carries row conservation per dataset, delivery figures and the audit check.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any
from urllib.parse import quote

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from ggzy import database
from ggzy.settings import Settings, get_settings

DEMO_SUFFIX = "_demo"
# The demo waits seconds, not the production half-minute, before retrying the unit that was down.
DEMO_BACKOFF_SECONDS = 0.5
DELIVERY_DEADLINE_SECONDS = 90.0
DEMO_SECTIONS = 40  # the exchange-centre stand-in's year, kept small so the demo takes a minute or two
DEMO_SEED = 0
ACK_TIMEOUT_SECONDS = 60.0
# Header values travel as ASCII: the purpose is percent-encoded UTF-8, which the API decodes (api.deps.header_text).
CASE_HEADERS = {"X-Case-Ref": "DEMO-2026-001", "X-Purpose": quote("演示：核查行政处罚抄送 demo: check penalty sharing")}


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def demo_database_url(settings: Settings) -> str:
    """The demo's own database on the configured server: the warehouse database's name + `_demo`."""
    url = make_url(database.warehouse_url(settings))
    return url.set(database=f"{url.database}{DEMO_SUFFIX}").render_as_string(hide_password=False)


def recreate_database(url: str) -> None:
    """Drop (closing its sessions) and create the database named in url."""
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


def demo_settings(settings: Settings, api_port: int) -> Settings:
    """Settings for the demo: its own home and database, the hub's secret, a short retry backoff."""
    return settings.model_copy(
        update={
            "home": settings.home / "demo",
            "database_url": demo_database_url(settings),
            "secret_key": settings.hub_secret().decode(),
            "api_port": api_port,
            "public_base_url": f"http://127.0.0.1:{api_port}",
            "delivery_backoff_base_seconds": DEMO_BACKOFF_SECONDS,
            "delivery_backoff_cap_seconds": DEMO_BACKOFF_SECONDS * 4,
        }
    )


@contextmanager
def _environment(settings: Settings) -> Iterator[None]:
    """Point GGZY_* at the demo for code that reads the process settings; restored afterwards."""
    keys = {"GGZY_HOME": str(settings.home), "GGZY_DATABASE_URL": settings.database_url or "",
            "GGZY_SECRET_KEY": settings.secret_key or "", "GGZY_PUBLIC_BASE_URL": settings.api_base_url}  # fmt: skip
    saved = {key: os.environ.get(key) for key in keys}
    os.environ.update(keys)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


def _dataset_figures(engine: sa.Engine) -> dict[str, Any]:
    """Row conservation per dataset, summed over the demo's batches."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT dataset, count(*) AS files, count(*) FILTER (WHERE status = 'rejected') AS files_rejected,"
                " coalesce(sum(rows_in), 0) AS rows_in, coalesce(sum(rows_loaded), 0) AS rows_loaded,"
                " coalesce(sum(rows_quarantined), 0) AS rows_quarantined,"
                " coalesce(sum(rows_duplicate), 0) AS rows_duplicate, coalesce(sum(rows_warned), 0) AS rows_warned"
                " FROM ops.batch GROUP BY dataset ORDER BY dataset"
            )
        ).mappings().all()  # fmt: skip
    datasets = {}
    for row in rows:
        figures = {k: int(v) for k, v in row.items() if k != "dataset"}
        figures["conserved"] = figures["rows_in"] == (
            figures["rows_loaded"] + figures["rows_quarantined"] + figures["rows_duplicate"]
        )
        datasets[row["dataset"]] = figures
    return datasets


def _quarantine_rules(engine: sa.Engine) -> dict[str, int]:
    """How many quarantined rows each rule caught."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT r, count(*) FROM quality.quarantine_row, unnest(rules) AS r GROUP BY r ORDER BY r")
        ).all()
    return {rule: n for rule, n in rows}


def _wait_for_retries(engine: sa.Engine, settings: Settings, step: Callable[[str], None]) -> Any:
    """Deliver until no push row is pending (retries come due after the short demo backoff)."""
    from ggzy.delivery.outbox import DeliveryRunSummary, deliver_until_idle

    total = DeliveryRunSummary()
    deadline = time.monotonic() + DELIVERY_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        total.add(deliver_until_idle(engine, settings, max_seconds=30))
        with engine.connect() as conn:
            waiting = conn.scalar(
                sa.text(
                    "SELECT count(*) FROM delivery.outbox o JOIN delivery.member_unit u ON u.code = o.unit_code"
                    " WHERE o.status = 'pending' AND u.mode = 'push' AND u.status = 'active'"
                )
            )
        if not waiting:
            return total
        step(f"{waiting} deliveries wait for a retry")
        time.sleep(DEMO_BACKOFF_SECONDS)
    return total


def _first_distribution(engine: sa.Engine, settings: Settings) -> Any:
    """Worker passes until a pass delivers nothing more (what is left belongs to units that are down)."""
    from ggzy.delivery.outbox import DeliveryRunSummary, deliver_due

    total = DeliveryRunSummary()
    while True:
        one = deliver_due(engine, settings)
        total.add(one)
        if one.claimed == 0 or one.delivered == 0:
            return total


def _busiest_month(engine: sa.Engine) -> str | None:
    """The month with the most award results (the monthly report shows one month)."""
    with engine.connect() as conn:
        return conn.scalar(
            sa.text(
                "SELECT to_char(notice_send_time, 'YYYY-MM') AS m FROM core.win_result"
                " WHERE notice_send_time IS NOT NULL GROUP BY m ORDER BY count(*) DESC, m LIMIT 1"
            )
        )


def _trading_credit_supervision(
    settings: Settings, engine: sa.Engine, step: Callable[[str], None]
) -> dict[str, Any]:
    """Pull the exchange-centre and Credit China stand-ins, score, alert, and write the monthly report."""
    from ggzy.pipelines.credit import demo_pull as credit_pull
    from ggzy.pipelines.trading import demo_pull as trading_pull
    from ggzy.supervision.report import write_monthly_report
    from ggzy.supervision.service import run_supervision
    from standins.credit_china import exchange_bidders
    from standins.exchange_centre import TradingYear

    trading = trading_pull(settings, engine, sections=DEMO_SECTIONS, seed=DEMO_SEED)
    step(f"exchange centre: {sum(d['rows_in'] for d in trading.values())} records in {len(trading)} datasets")
    bidders = tuple(exchange_bidders(TradingYear(seed=DEMO_SEED, sections=DEMO_SECTIONS)))
    credit = credit_pull(settings, engine, seed=DEMO_SEED, overlap_usccs=bidders)
    step(f"Credit China: {credit['credit']}")
    scored = run_supervision(settings, engine, full=True)
    step(f"supervision: {scored.get('sections', 0)} sections scored, {scored.get('raised', 0)} alerts raised")
    month = _busiest_month(engine)
    report = None
    if month:
        files = write_monthly_report(engine, settings, month, None, deliver=True)
        report = {"month": month, "html": str(files.html), "pdf": str(files.pdf),
                  "delivered_to": files.outbox_rows}  # fmt: skip
        step(f"monthly report {month}: {files.pdf}")
    return {
        "credit": credit["credit"],
        "supervision": {k: scored.get(k) for k in ("sections", "entities", "raised")},
        "monthly_report": report,
    }


def run_demo(settings: Settings | None = None, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the demo end to end and return its summary (see the module docstring)."""
    from api.server import BackgroundAPI
    from ggzy.audit import verify_chain
    from ggzy.auth import create_token
    from ggzy.delivery import report
    from ggzy.delivery.units import sync_units
    from ggzy.jurisdictions import load_profile
    from ggzy.pipelines.penalties import scan_drop_folder
    from ggzy.workdays import add_working_days
    from standins.departments import departments_from_profile, good_file, write_demo_drop
    from standins.member_units import MemberUnitReceiver

    began = time.monotonic()
    last = [began]

    def step(message: str) -> None:
        now = time.monotonic()
        if progress:
            progress(f"{message} ({now - last[0]:.1f} s)")
        last[0] = now

    base = settings or get_settings()
    settings = demo_settings(base, _free_port("127.0.0.1"))
    profile = load_profile(settings.jurisdiction)
    if settings.home.exists():
        shutil.rmtree(settings.home)
    settings.home.mkdir(parents=True)

    step(f"fresh demo database {make_url(settings.database_url).database}")
    recreate_database(settings.database_url)
    with _environment(settings):
        database.migrate(settings)
        engine = database.engine(settings)
        with BackgroundAPI(settings, port=settings.api_port) as api, MemberUnitReceiver(
            data_dir=settings.home / "standins", hub_url=api.url
        ) as receiver:
            step(f"hub API on {api.url}, member-unit receiver on {receiver.base_url}")
            sync_units(engine, profile, receiver.endpoint_for)
            receiver.host_warehouse_units(engine)
            push_units = [u.code for u in profile.units if u.delivery == "push"]
            pull_units = [u.code for u in profile.units if u.delivery == "pull"]
            down_unit = next((c for c in push_units if c != profile.lead_agency), None)
            silent_unit = next((c for c in push_units if c not in (profile.lead_agency, down_unit)), None)
            if down_unit:
                receiver.set_mode(down_unit, "down")
            if silent_unit:
                receiver.set_acknowledge(silent_unit, False)

            departments = departments_from_profile(profile)
            dropped = write_demo_drop(settings.drop_folder, departments)
            step(f"{len(dropped)} department files in the drop folder; one more uploaded over HTTP")
            uploader = departments[0]
            upload = good_file("csv", department=uploader, rows=10, seed="demo-upload")
            token, _ = create_token(engine, person="报送员 demo clerk", org_code=uploader.code, role="member")
            with httpx.Client(base_url=api.url, timeout=120, trust_env=False) as client:
                uploaded = client.post(
                    "/v1/submissions",
                    files={"file": (upload.filename, upload.data)},
                    headers={"authorization": f"Bearer {token}"},
                )
            uploaded.raise_for_status()
            reports = scan_drop_folder(settings, engine)
            step(f"ingested {len(reports) + 1} files")
            supervision = _trading_credit_supervision(settings, engine, step)

            first = _first_distribution(engine, settings)
            step(f"first delivery pass: {first.delivered} delivered, {first.retrying} to retry"
                 + (f" ({down_unit} is down)" if down_unit else ""))  # fmt: skip
            if down_unit:
                receiver.set_mode(down_unit, "ok")
            retries = _wait_for_retries(engine, settings, step)
            pulled = {code: receiver.pull_feed(code) for code in pull_units if receiver.units[code].token}
            acks_done = receiver.wait_for_acks(timeout=ACK_TIMEOUT_SECONDS)
            step(f"retries delivered {retries.delivered}; pull units read {sum(pulled.values())}; receipts sent")

            with engine.connect() as conn:
                events = conn.scalar(sa.text("SELECT count(*) FROM delivery.event"))
                latest_due = conn.scalar(sa.text("SELECT max(ack_due) FROM delivery.outbox"))
                owed = dict(conn.execute(
                    sa.text("SELECT unit_code, count(*) FROM delivery.outbox GROUP BY unit_code")).all())  # fmt: skip
            held = {code: receiver.stats(code)["stored"] for code in push_units + pull_units}

            oversight_unit = next(
                (u.code for u in profile.units if u.role == "discipline"), profile.lead_agency
            )
            officer, _ = create_token(engine, person="演示监督员 demo officer", org_code=oversight_unit,
                                      role="oversight")  # fmt: skip
            auth = {"authorization": f"Bearer {officer}"}
            with httpx.Client(base_url=api.url, timeout=60, trust_env=False) as client:
                refused = client.get("/v1/penalties", params={"limit": 5}, headers=auth)
                listed = client.get("/v1/penalties", params={"limit": 5}, headers=auth | CASE_HEADERS)
                listed.raise_for_status()
                first_id = listed.json()["items"][0]["id"]
                detail = client.get(f"/v1/penalties/{first_id}", headers=auth | CASE_HEADERS)
                detail.raise_for_status()

        status = report.delivery_status(engine)
        as_of = add_working_days(latest_due, 1) if latest_due else date.today()
        overdue = report.overdue_report(engine, as_of)
        chain = verify_chain(engine)
        with engine.connect() as conn:
            audit_events = conn.scalar(sa.text("SELECT count(*) FROM audit.event"))
        datasets = _dataset_figures(engine)
        rules = _quarantine_rules(engine)
        database.dispose_engines()

    return {
        "jurisdiction": profile.key,
        "database": make_url(settings.database_url).render_as_string(hide_password=True),
        "home": str(settings.home),
        "datasets": datasets,
        "quarantine_rules": rules,
        "upload": {"status_code": uploaded.status_code, "rows_in": uploaded.json().get("rows_in")},
        "deliveries": {
            "events": events,
            "units": len(profile.units),
            "expected": status["expected"],
            "delivered": status["delivered"],
            "acknowledged": status["acknowledged"],
            "pending": status["pending"],
            "failed": status["failed"],
            "disabled": status["disabled"],
            "first_pass_retrying": first.retrying,
            "unit_down_during_first_pass": down_unit,
            "unit_not_acknowledging": silent_unit,
            "owed_per_unit": owed,
            "every_unit_holds_every_decision_once": all(n == owed.get(code, 0) for code, n in held.items()),
            "receipts_flushed": acks_done,
        },
        "overdue": {
            "as_of": as_of.isoformat(),
            "units": [{"unit": u["unit"], "reason": u["reason"], "overdue": u["overdue"]} for u in overdue],
        },
        "oversight": {
            "without_case_reference": refused.status_code,
            "list_status": listed.status_code,
            "rows_returned": len(listed.json()["items"]),
            "detail_status": detail.status_code,
            "audit_seq": listed.headers.get("x-audit-seq"),
        },
        **supervision,
        "audit": {"events": audit_events, "verified": chain.ok, "first_broken_seq": chain.first_broken_seq},
        "seconds": round(time.monotonic() - began, 1),
    }

