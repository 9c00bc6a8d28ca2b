"""Member-unit receiver stand-in: a real HTTP server hosting many units' webhook endpoints (成员单位接收端).

It behaves like the member units' own systems would, so the hub's delivery is tested against a real peer:

* `POST /units/{code}/webhook`: verifies the Standard Webhooks signature with that unit's secret (stale
  timestamps refused), de-duplicates on `webhook-id`, stores the message, answers 200, and — unless the
  unit's acknowledging is switched off — POSTs a signed receipt (签收) to `{hub}/v1/receipts` with the
  unit's bearer token, from a background worker (a receipt never delays the webhook answer).
* Failure modes per unit (`POST /control/{code}` {"mode", "slow_seconds", "acknowledge"} or
  `set_mode()` / `set_acknowledge()`): `ok`; `down` (reads the request, then drops the connection without
  any response); `500`; `slow` (stores the message, then sleeps `slow_seconds` before answering, longer
  than the hub's timeout, so the hub retries and the receiver's de-duplication is exercised); `410` Gone.
* Inspection: `GET /units/{code}/messages`, `GET /units/{code}/stats`, `GET /units`, `GET /health`.
* Pull units: `pull_feed(code)` reads the hub's cursor feed (`GET {hub}/v1/feed`) with the unit's token,
  stores and acknowledges the same way; `serve(poll_seconds=...)` does it periodically.

It is an external system, not part of the warehouse: what it receives is kept in its own SQLite file under
its data directory. stdlib `http.server` is used (not an ASGI server) because "drop the connection
without a response" needs the raw socket. Configuration (JSON or YAML; `ggzy standins members config`
writes one from the warehouse):

    hub_url: http://127.0.0.1:8600
    data_dir: .ggzy/standins/members
    units:
      JZ-CZ: {secret: "whsec_…", token: "ggzy_…", acknowledge: true, mode: ok, delivery: push}
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from ggzy.delivery.webhooks import encode_body, sign_headers, verify
from ggzy.errors import HubError

log = logging.getLogger("standins.member_units")

MODES = ("ok", "down", "500", "slow", "410")
ACK_WORKERS = 4
ACK_THROTTLE_PATIENCE_SECONDS = 120.0  # how long to keep honouring 429 Retry-After
ACK_ATTEMPTS = 5

SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    unit TEXT NOT NULL,
    message_id TEXT NOT NULL,
    via TEXT NOT NULL,               -- push | pull
    received_at TEXT NOT NULL,
    webhook_timestamp TEXT,
    event_type TEXT,
    document_hash TEXT,
    body TEXT NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 1,
    ack_status TEXT NOT NULL DEFAULT 'none',   -- none | queued | acknowledged | error | off
    ack_http_status INTEGER,
    ack_error TEXT,
    acknowledged_at TEXT,
    PRIMARY KEY (unit, message_id)
);
CREATE TABLE IF NOT EXISTS feed_cursor (unit TEXT PRIMARY KEY, after INTEGER NOT NULL);
"""


@dataclass
class UnitConfig:
    """One hosted unit: its signing secret, its API token for receipts and feed, its behaviour."""

    code: str
    secret: str
    token: str | None = None
    acknowledge: bool = True
    mode: str = "ok"
    slow_seconds: float = 30.0
    delivery: str = "push"  # push: receives webhooks; pull: reads the hub's feed (pull_feed)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r} for unit {self.code}; one of {', '.join(MODES)}")


def _now() -> str:
    return datetime.now(UTC).isoformat()


class MessageStore:
    """What the receiver holds: one row per (unit, message id), with how often it arrived and its receipt."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.executescript(SCHEMA)

    def add(
        self, unit: str, message_id: str, via: str, payload: dict[str, Any], body: str, timestamp: str | None
    ) -> bool:
        """Store a message; False (and a delivery counted) when this unit already has it."""
        data = payload.get("data") or {}
        with self._lock:
            inserted = self._db.execute(
                "INSERT OR IGNORE INTO message (unit, message_id, via, received_at, webhook_timestamp, event_type,"
                " document_hash, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    unit,
                    message_id,
                    via,
                    _now(),
                    timestamp,
                    payload.get("type"),
                    data.get("document_hash"),
                    body,
                ),
            ).rowcount
            if not inserted:
                self._db.execute(
                    "UPDATE message SET deliveries = deliveries + 1 WHERE unit = ? AND message_id = ?",
                    (unit, message_id),
                )
        return bool(inserted)

    def set_ack(
        self,
        unit: str,
        message_id: str,
        status: str,
        http_status: int | None = None,
        error: str | None = None,
    ) -> None:
        """Record the state of a message's receipt."""
        with self._lock:
            self._db.execute(
                "UPDATE message SET ack_status = ?, ack_http_status = ?, ack_error = ?,"
                " acknowledged_at = CASE WHEN ? = 'acknowledged' THEN ? ELSE acknowledged_at END"
                " WHERE unit = ? AND message_id = ?",
                (status, http_status, error, status, _now(), unit, message_id),
            )

    def messages(self, unit: str) -> list[dict[str, Any]]:
        """Every stored message of a unit, oldest first, with the payload parsed."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM message WHERE unit = ? ORDER BY received_at, message_id", (unit,)
            ).fetchall()
        return [
            {**{k: r[k] for k in r.keys() if k != "body"}, "payload": json.loads(r["body"])} for r in rows
        ]

    def counts(self, unit: str) -> dict[str, int]:
        """Stored messages, deliveries received (with duplicates) and receipts by state for a unit."""
        with self._lock:
            stored, deliveries = self._db.execute(
                "SELECT count(*), coalesce(sum(deliveries), 0) FROM message WHERE unit = ?", (unit,)
            ).fetchone()
            acks = dict(
                self._db.execute(
                    "SELECT ack_status, count(*) FROM message WHERE unit = ? GROUP BY ack_status", (unit,)
                ).fetchall()
            )
        return {
            "stored": stored,
            "deliveries": deliveries,
            "duplicates": deliveries - stored,
            "acknowledged": acks.get("acknowledged", 0),
            "ack_errors": acks.get("error", 0),
        }

    def cursor(self, unit: str) -> int:
        """The unit's feed cursor (0 before the first read)."""
        with self._lock:
            row = self._db.execute("SELECT after FROM feed_cursor WHERE unit = ?", (unit,)).fetchone()
        return row[0] if row else 0

    def set_cursor(self, unit: str, after: int) -> None:
        """Remember where the unit's feed reading got to."""
        with self._lock:
            self._db.execute(
                "INSERT INTO feed_cursor VALUES (?, ?) ON CONFLICT (unit) DO UPDATE SET after = excluded.after",
                (unit, after),
            )

    def close(self) -> None:
        """Close the SQLite file."""
        with self._lock:
            self._db.close()


class MemberUnitReceiver:
    """The stand-in server: many member units' endpoints on one port of 127.0.0.1."""

    def __init__(
        self,
        units: Iterable[UnitConfig] | Mapping[str, Any] = (),
        *,
        data_dir: Path,
        hub_url: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.units: dict[str, UnitConfig] = {}
        for unit in _unit_configs(units):
            self.add_unit(unit)
        self.hub_url = hub_url.rstrip("/") if hub_url else None
        self.store = MessageStore(Path(data_dir) / "member_units.sqlite3")
        self.host, self.port = host, port
        self.rejected: dict[str, int] = {}  # unit -> webhooks refused (bad signature, stale, ...)
        self.failed_on_purpose: dict[str, int] = {}  # unit -> requests answered with a failure mode
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._acks: queue.Queue[tuple[str, str, str] | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._server: ThreadingHTTPServer | None = None
        self._http = httpx.Client(timeout=10.0, trust_env=False)

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> str:
        """Bind and serve in background threads; returns the base URL."""
        receiver = self

        class Handler(_Handler):
            owner = receiver

        self._server = _Server((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.port = self._server.server_address[1]
        self._spawn(lambda: self._server.serve_forever(poll_interval=0.05), "member-units-http")
        for index in range(ACK_WORKERS):
            self._spawn(self._ack_worker, f"member-units-ack-{index}")
        return self.base_url

    def serve(self, poll_seconds: float | None = None) -> None:
        """Run in the foreground until interrupted, reading pull units' feeds every poll_seconds."""
        self.start()
        try:
            while not self._stopping.wait(poll_seconds or 3600):
                if poll_seconds:
                    for unit in list(self.units.values()):
                        if unit.delivery == "pull" and unit.token and self.hub_url:
                            try:
                                self.pull_feed(unit.code)
                            except httpx.HTTPError as exc:
                                log.warning("feed read for %s failed: %s", unit.code, exc)
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop serving, finish the receipt workers, close the store."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for _ in range(ACK_WORKERS):
            self._acks.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        self._http.close()
        self.store.close()

    def __enter__(self) -> MemberUnitReceiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- configuration -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Where the receiver listens."""
        return f"http://{self.host}:{self.port}"

    def webhook_url(self, code: str) -> str:
        """The endpoint URL of a unit (what sync_units stores for it)."""
        return f"{self.base_url}/units/{code}/webhook"

    def endpoint_for(self, unit: Any) -> str | None:
        """An `endpoint_for` for ggzy.delivery.units.sync_units: this receiver's URL for every push unit."""
        return self.webhook_url(unit.code) if getattr(unit, "delivery", "push") == "push" else None

    def add_unit(self, unit: UnitConfig) -> None:
        """Host (or re-configure) a unit."""
        self.units[unit.code] = unit

    def host_warehouse_units(self, engine: Any, *, issue_tokens: bool = True) -> list[str]:
        """Host every unit the hub knows, with its secret and (optionally) a new member token; returns codes."""
        config = config_from_warehouse(
            engine, hub_url=self.hub_url or "", data_dir=self.store.path.parent, issue_tokens=issue_tokens
        )
        for unit in _unit_configs(config["units"]):
            self.add_unit(unit)
        return sorted(config["units"])

    def set_mode(self, code: str, mode: str, slow_seconds: float | None = None) -> None:
        """Switch a unit's failure mode: ok | down | 500 | slow | 410."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        unit = self.units[code]
        unit.mode = mode
        if slow_seconds is not None:
            unit.slow_seconds = float(slow_seconds)

    def set_acknowledge(self, code: str, acknowledge: bool) -> None:
        """Switch a unit's receipts on or off (off: the hub sees it delivered but never acknowledged)."""
        self.units[code].acknowledge = acknowledge

    # -- inspection ----------------------------------------------------------------------------------

    def messages(self, code: str) -> list[dict[str, Any]]:
        """What the unit holds."""
        return self.store.messages(code)

    def stats(self, code: str) -> dict[str, Any]:
        """A unit's counters: stored, deliveries, duplicates, acknowledged, rejected, failed on purpose."""
        unit = self.units.get(code)
        return {
            "unit": code,
            "mode": unit.mode if unit else None,
            "acknowledge": unit.acknowledge if unit else None,
            **self.store.counts(code),
            "rejected": self.rejected.get(code, 0),
            "failed_on_purpose": self.failed_on_purpose.get(code, 0),
        }

    def wait_for_acks(self, timeout: float = 10.0) -> bool:
        """Wait until every queued receipt has been sent (or given up); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._acks.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def _count(self, counter: dict[str, int], code: str) -> None:
        with self._lock:
            counter[code] = counter.get(code, 0) + 1

    # -- receiving -----------------------------------------------------------------------------------

    def receive(self, code: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """Verify, de-duplicate and store one webhook; returns (HTTP status, JSON answer)."""
        unit = self.units[code]
        try:
            payload = verify(unit.secret, body, headers)
        except HubError as error:
            self._count(self.rejected, code)
            return error.status_code, error.to_dict()
        lowered = {k.lower(): v for k, v in headers.items()}
        message_id = lowered["webhook-id"]
        new = self.store.add(
            code, message_id, "push", payload, body.decode("utf-8"), lowered["webhook-timestamp"]
        )
        if new:
            self._queue_ack(unit, message_id, payload)
        return 200, {"ok": True, "unit": code, "message_id": message_id, "duplicate": not new}

    def pull_feed(self, code: str, *, limit: int = 100) -> int:
        """Read the unit's hub feed to the end (bearer token), store and acknowledge; returns new messages."""
        unit = self.units[code]
        if not (self.hub_url and unit.token):
            raise ValueError(f"unit {code} needs hub_url and token to read the feed")
        new_messages = 0
        while True:
            after = self.store.cursor(code)
            deadline = time.monotonic() + ACK_THROTTLE_PATIENCE_SECONDS
            while True:
                response = self._http.get(
                    f"{self.hub_url}/v1/feed",
                    params={"after": after, "limit": limit},
                    headers={"authorization": f"Bearer {unit.token}"},
                )
                if response.status_code != 429 or time.monotonic() > deadline:
                    break
                time.sleep(float(response.headers.get("retry-after") or 1))  # the token's rate limit
            response.raise_for_status()
            page = response.json()
            for item in page["items"]:
                payload = {k: v for k, v in item.items() if k != "cursor"}
                if self.store.add(
                    code, item["message_id"], "pull", payload, json.dumps(payload, ensure_ascii=False), None
                ):
                    new_messages += 1
                    self._queue_ack(unit, item["message_id"], payload)
            self.store.set_cursor(code, page["next_cursor"])
            if not page.get("has_more"):
                return new_messages

    # -- receipts ------------------------------------------------------------------------------------

    def _queue_ack(self, unit: UnitConfig, message_id: str, payload: dict[str, Any]) -> None:
        if not (unit.acknowledge and unit.token and self.hub_url):
            self.store.set_ack(unit.code, message_id, "off")
            return
        self.store.set_ack(unit.code, message_id, "queued")
        self._acks.put((unit.code, message_id, (payload.get("data") or {}).get("document_hash", "")))

    def _ack_worker(self) -> None:
        while True:
            job = self._acks.get()
            try:
                if job is None:
                    return
                self._send_receipt(*job)
            except Exception:  # a stand-in must keep serving; the failure is stored with the message
                log.exception("receipt for %s failed", job)
            finally:
                self._acks.task_done()

    def _send_receipt(self, code: str, message_id: str, document_hash: str) -> None:
        """POST a signed receipt for one message, retrying a few times on errors."""
        unit = self.units[code]
        body = encode_body(
            {
                "message_id": message_id,
                "document_hash": document_hash,
                "received_at": _now(),
                "note": f"{code} 已签收 (member-unit receiver stand-in)",
            }
        )
        headers = {
            "content-type": "application/json",
            "authorization": f"Bearer {unit.token}",
            **sign_headers(unit.secret, "rcpt_" + uuid.uuid4().hex, body),
        }
        status, error = None, None
        attempt, throttled_until = 0, time.monotonic() + ACK_THROTTLE_PATIENCE_SECONDS
        while attempt < ACK_ATTEMPTS:
            pause = 0.2 * 2**attempt
            try:
                response = self._http.post(f"{self.hub_url}/v1/receipts", content=body, headers=headers)
                status = response.status_code
                if response.is_success:
                    self.store.set_ack(code, message_id, "acknowledged", status)
                    return
                error = response.text[:500]
                if status == 429 and time.monotonic() < throttled_until:
                    # Over the token's rate limit: wait as told; that is not a failed attempt.
                    pause = float(response.headers.get("retry-after") or 1)
                    attempt -= 1
                elif 400 <= status < 500:
                    break  # the hub refused this receipt; retrying will not change that
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            attempt += 1
            if self._stopping.wait(pause):
                break
        self.store.set_ack(code, message_id, "error", status, error)


class _Server(ThreadingHTTPServer):
    """The stdlib threading server with a listen backlog that takes a delivery worker's concurrent connections."""

    request_queue_size = 256


class _Handler(BaseHTTPRequestHandler):
    """Routes of the stand-in."""

    owner: MemberUnitReceiver
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # answers go out at once, not after the client's delayed ACK (~40 ms)
    server_version = "ggzy-member-units-standin/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        log.debug("%s " + format, self.address_string(), *args)

    def _body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, status: int, payload: Any) -> None:
        data = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json; charset=utf-8")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the hub gave up waiting (slow mode)
            self.close_connection = True

    def _parts(self) -> list[str]:
        return [unquote(p) for p in urlsplit(self.path).path.strip("/").split("/") if p]

    def _unit(self, code: str) -> UnitConfig | None:
        unit = self.owner.units.get(code)
        if unit is None:
            self._reply(
                404,
                {
                    "error": "unknown_unit",
                    "message": {"zh": f"未托管成员单位 {code}", "en": f"unit {code} is not hosted here"},
                },
            )
        return unit

    def do_GET(self) -> None:  # noqa: N802 (stdlib naming)
        """Inspection endpoints."""
        parts = self._parts()
        if parts == ["health"]:
            self._reply(200, {"status": "ok", "units": len(self.owner.units)})
        elif parts == ["units"]:
            self._reply(200, [self.owner.stats(code) for code in sorted(self.owner.units)])
        elif len(parts) == 3 and parts[0] == "units" and parts[2] in ("messages", "stats"):
            if self._unit(parts[1]):
                reply = (
                    self.owner.messages(parts[1]) if parts[2] == "messages" else self.owner.stats(parts[1])
                )
                self._reply(200, reply)
        else:
            self._reply(404, {"error": "not_found"})

    def do_POST(self) -> None:  # noqa: N802 (stdlib naming)
        """Webhooks and the control endpoint."""
        parts = self._parts()
        body = self._body()
        if len(parts) == 3 and parts[0] == "units" and parts[2] == "webhook":
            unit = self._unit(parts[1])
            if unit:
                self._webhook(unit, body)
        elif len(parts) == 2 and parts[0] == "control":
            unit = self._unit(parts[1])
            if unit:
                self._control(unit, body)
        else:
            self._reply(404, {"error": "not_found"})

    def _webhook(self, unit: UnitConfig, body: bytes) -> None:
        mode = unit.mode
        if mode == "down":
            self.owner._count(self.owner.failed_on_purpose, unit.code)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if mode in ("500", "410"):
            self.owner._count(self.owner.failed_on_purpose, unit.code)
            gone = mode == "410"
            self._reply(
                int(mode),
                {
                    "error": "gone" if gone else "internal_error",
                    "message": "endpoint retired" if gone else "simulated failure",
                },
            )
            return
        status, reply = self.owner.receive(unit.code, body, dict(self.headers.items()))
        if mode == "slow" and status == 200:
            self.owner._count(self.owner.failed_on_purpose, unit.code)
            self.owner._stopping.wait(unit.slow_seconds)
        self._reply(status, reply)

    def _control(self, unit: UnitConfig, body: bytes) -> None:
        try:
            command = json.loads(body or b"{}")
            if "mode" in command:
                self.owner.set_mode(unit.code, str(command["mode"]), command.get("slow_seconds"))
            elif "slow_seconds" in command:
                unit.slow_seconds = float(command["slow_seconds"])
            if "acknowledge" in command:
                self.owner.set_acknowledge(unit.code, bool(command["acknowledge"]))
        except (ValueError, TypeError) as exc:
            self._reply(400, {"error": "bad_control", "message": str(exc), "modes": list(MODES)})
            return
        self._reply(200, asdict(unit) | {"secret": None, "token": None})


# ---------------------------------------------------------------------------------------------------
# Configuration


def _unit_configs(units: Iterable[UnitConfig] | Mapping[str, Any]) -> list[UnitConfig]:
    """UnitConfig objects from a list of them or a {code: secret | {secret, token, ...}} mapping."""
    if isinstance(units, Mapping):
        result = []
        for code, value in units.items():
            fields = {"secret": value} if isinstance(value, str) else dict(value)
            result.append(UnitConfig(code=code, **fields))
        return result
    return list(units)


def load_config(path: Path) -> dict[str, Any]:
    """Read a receiver configuration file (JSON or YAML): {hub_url, data_dir, units}."""
    import yaml

    text = Path(path).read_text(encoding="utf-8")
    config = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    if not isinstance(config, dict) or not isinstance(config.get("units"), dict):
        raise HubError(
            "invalid_receiver_config",
            f"接收端配置文件 {path}：须包含 units 映射（单位代码: {{secret, token, ...}}）",
            f"receiver configuration {path}: needs a 'units' mapping (unit code: {{secret, token, ...}})",
            detail={"file": str(path), "field": "units"},
        )
    return config


def receiver_from_config(
    config: Mapping[str, Any], *, host: str = "127.0.0.1", port: int = 0, data_dir: Path | None = None
) -> MemberUnitReceiver:
    """Build (not start) a receiver from a configuration mapping."""
    return MemberUnitReceiver(
        config["units"],
        hub_url=config.get("hub_url"),
        host=host,
        port=port,
        data_dir=Path(data_dir or config.get("data_dir") or "member-units-standin"),
    )


def config_from_warehouse(
    engine: Any, *, hub_url: str, data_dir: Path, issue_tokens: bool = True
) -> dict[str, Any]:
    """A receiver configuration for every unit the hub knows: its secret and (optionally) a new member token."""
    from ggzy.auth import create_token
    from ggzy.delivery.units import list_units

    units: dict[str, Any] = {}
    for unit in list_units(engine, with_secrets=True):
        entry: dict[str, Any] = {"secret": unit["secret"], "delivery": unit["mode"]}
        if issue_tokens:
            entry["token"], _ = create_token(
                engine,
                person=f"receiver@{unit['code']}",
                org_code=unit["code"],
                role="member",
                note="member-unit receiver stand-in",
                issued_by="standins.member_units",
            )
        units[unit["code"]] = entry
    return {"hub_url": hub_url, "data_dir": str(data_dir), "units": units}
