"""The exchange centre's HTTP API: keyset-paginated datasets behind X-Api-Key, a clock, a failure switch.

Endpoints (contract in notes/contracts.md):
- GET  /api/v1/datasets                        -> [{"code", "table", "count"}] (visible records)
- GET  /api/v1/datasets/{code}?since=&cursor=&limit=   (header X-Api-Key)
       -> {"dataset", "table", "records": [...], "next_cursor", "watermark"}; records with
          since < DATA_TIMESTAMP <= clock, ordered by (DATA_TIMESTAMP, natural key)
- POST /control/advance {"days": N}, POST /control/fail {"after_records": N},
  GET/POST /control/clock {"clock": "yyyyMMddHHmmss"|null}  (tests and demos; no key needed)
- GET  /healthz

Serving 1,000,000 bids without regenerating or sorting per request: on start the whole year is written
once into an embedded SQLite file, one table per dataset `(ts, k, body)` with a UNIQUE index on (ts, k),
where k is the natural key joined by U+001F (sorts like the key tuple) and body the record's JSON. Rows are
appended to staging tables in one pass over the year (generation order), then copied once sorted by
(ts, k) (so a page is a sequential read) and indexed; far faster than inserting into a sorted b-tree. A page is one index range scan
`WHERE (ts, k) > (cursor) AND ts > since AND ts <= clock ORDER BY ts, k LIMIT n+1`; bodies are
concatenated as stored. The file can be kept (`index_path`) and is reused when it
was built for the same year parameters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import re
import socket
import sqlite3
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ggzy.errors import HubError

from .generator import TradingYear
from .spec import DATASETS

KEY_SEP = "\x1f"
INDEX_VERSION = "4"
MAX_LIMIT = 5000
TS_RE = re.compile(r"^\d{14}$")


def _fingerprint(year: TradingYear) -> str:
    """What an index file was built from: the year's parameters and the generator's own source code."""
    source = hashlib.sha256()
    for name in ("generator.py", "vocab.py", "spec.py"):
        source.update((Path(__file__).parent / name).read_bytes())
    return json.dumps([INDEX_VERSION, year.seed, year.n_sections, year.year, year.region_code, year.mean_bidders,
                       source.hexdigest()[:16]])  # fmt: skip


class RecordIndex:
    """Every record of a TradingYear in SQLite, keyed by (DATA_TIMESTAMP, natural key), for paging."""

    def __init__(self, year: TradingYear, path: Path) -> None:
        self.year = year
        self.path = path
        self._pool: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self.build()

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Run one read on a pooled read-only connection (request threads come and go; connections stay)."""
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = sqlite3.connect(self.path, check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            self._pool.put(conn)

    def close(self) -> None:
        """Close the pooled connections."""
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return

    def build(self, batch: int = 5000) -> None:
        """Write the year once (reused when the file was built for the same parameters)."""
        fingerprint = _fingerprint(self.year)
        if self.path.exists():
            try:
                with sqlite3.connect(self.path) as conn:
                    row = conn.execute("SELECT value FROM meta WHERE name = 'fingerprint'").fetchone()
                if row and row[0] == fingerprint:
                    return
            except sqlite3.DatabaseError:
                pass
            self.path.unlink()
        tmp = self.path.with_suffix(".building")
        tmp.unlink(missing_ok=True)
        conn = sqlite3.connect(tmp)
        conn.execute("PRAGMA page_size=16384")  # a 519 record with its XML is ~1.5 kB: no overflow pages
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT)")
        stage = self.path.with_suffix(".staging")
        stage.unlink(missing_ok=True)
        conn.execute("ATTACH DATABASE ? AS stage", (str(stage),))
        conn.execute("PRAGMA stage.journal_mode=OFF")
        conn.execute("PRAGMA stage.synchronous=OFF")
        for code in DATASETS:  # staging (a separate file, deleted after): rows appended in generation order
            conn.execute(f"CREATE TABLE stage.s{code} (ts TEXT NOT NULL, k TEXT NOT NULL, body BLOB NOT NULL)")
        buffers: dict[str, list[tuple[str, str, bytes]]] = {code: [] for code in DATASETS}
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        for code, record in self.year.all_records():
            buffer = buffers[code]
            buffer.append((record["DATA_TIMESTAMP"] or "", KEY_SEP.join(DATASETS[code].key_of(record)),
                           dumps(record).encode()))  # fmt: skip
            if len(buffer) >= batch:
                conn.executemany(f"INSERT INTO s{code} VALUES (?, ?, ?)", buffer)
                conn.commit()  # small transactions: dirty pages never pile up in memory
                buffer.clear()
        for code, buffer in buffers.items():
            conn.executemany(f"INSERT INTO s{code} VALUES (?, ?, ?)", buffer)
        conn.commit()
        conn.execute("PRAGMA cache_size=-32768")  # 32 MiB for the sorts
        for code in DATASETS:  # copy sorted once, so a page is a sequential read; then the (ts, k) index
            conn.execute(f"CREATE TABLE main.d{code} AS SELECT ts, k, body FROM stage.s{code} ORDER BY ts, k")
            conn.execute(f"CREATE UNIQUE INDEX main.ix_d{code} ON d{code} (ts, k)")
            conn.commit()
        conn.execute("DETACH DATABASE stage")
        stage.unlink()
        conn.execute("INSERT INTO meta VALUES ('fingerprint', ?)", (fingerprint,))
        conn.commit()
        conn.close()
        tmp.replace(self.path)

    def count(self, code: str, clock: str | None) -> int:
        """Visible records of a dataset."""
        if clock is None:
            return self._query(f"SELECT COUNT(*) FROM d{code}")[0][0]
        return self._query(f"SELECT COUNT(*) FROM d{code} WHERE ts <= ?", (clock,))[0][0]

    def page(
        self, code: str, since: str, after: tuple[str, str], limit: int, clock: str | None
    ) -> tuple[list[tuple[str, str, bytes]], bool]:
        """Up to `limit` rows (ts, k, body) after the cursor position; and whether more follow."""
        rows = self._query(
            f"SELECT ts, k, body FROM d{code} WHERE (ts, k) > (?, ?) AND ts > ? AND ts <= ? ORDER BY ts, k LIMIT ?",
            (after[0], after[1], since, clock or "99999999999999", limit + 1),
        )
        return rows[:limit], len(rows) > limit


def encode_cursor(ts: str, key: str) -> str:
    """The opaque cursor for a position (DATA_TIMESTAMP, natural key)."""
    return base64.urlsafe_b64encode(json.dumps([ts, key], ensure_ascii=False).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """The position an opaque cursor stands for; HubError 400 when it is not one of ours."""
    try:
        ts, key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(ts, str) or not isinstance(key, str):
            raise ValueError(cursor)
        return ts, key
    except (ValueError, TypeError) as exc:
        raise HubError("bad_cursor", "cursor 参数无效", "cursor is not valid", detail={"cursor": cursor}) from exc


class ExchangeCentreServer:
    """The exchange centre's API on 127.0.0.1 (context manager; `.base_url`); see the module docstring."""

    def __init__(
        self,
        year: TradingYear,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = "standin-key",
        *,
        index_path: str | Path | None = None,
    ) -> None:
        self.year = year
        self.host = host
        self.port = port
        self.api_key = api_key
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        if index_path is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="exchange-standin-")
            index_path = Path(self._tmpdir.name) / "year.sqlite"
        self.index_path = Path(index_path)
        self.index: RecordIndex | None = None
        self._fail_after: int | None = None
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> str:
        """Build (or reuse) the index, bind and serve in a background thread; returns the base URL."""
        self._bind()
        assert self._httpd is not None
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="exchange-standin", daemon=True)
        self._thread.start()
        return self.base_url

    def serve_forever(self, on_ready: Any = None) -> None:
        """Build the index, bind and serve in this thread until interrupted (the CLI); on_ready(base_url) once bound."""
        self._bind()
        assert self._httpd is not None
        if on_ready is not None:
            on_ready(self.base_url)
        try:
            self._httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def _bind(self) -> None:
        self.index_path.parent.mkdir(parents=True, exist_ok=True)
        self.index = RecordIndex(self.year, self.index_path)
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        self._httpd.daemon_threads = True

    def stop(self) -> None:
        """Stop serving and remove a temporary index."""
        if self._httpd is not None:
            if self._thread is not None:
                self._httpd.shutdown()
                self._thread.join(timeout=10)
            self._httpd.server_close()
            self._httpd = None
        if self.index is not None:
            self.index.close()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __enter__(self) -> ExchangeCentreServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port> once bound."""
        assert self._httpd is not None, "server not started"
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    # --- controls -----------------------------------------------------------------------------------

    def advance(self, days: float) -> str | None:
        """Move the stand-in clock forward by `days`."""
        with self._lock:
            return self.year.advance(days)

    def fail_after(self, records: int) -> None:
        """Drop the connection once, mid-response, after `records` more records have been sent."""
        with self._lock:
            self._fail_after = records

    def _take_failure(self, page_size: int) -> int | None:
        """Where to cut the current page (record count), consuming the one-shot failure; None = send all."""
        with self._lock:
            if self._fail_after is None:
                return None
            if self._fail_after < page_size:
                cut, self._fail_after = self._fail_after, None
                return cut
            self._fail_after -= page_size
            return None

    # --- requests --------------------------------------------------------------------------------------

    def list_datasets(self) -> list[dict[str, Any]]:
        """Every dataset with its visible record count."""
        assert self.index is not None
        return [{"code": code, "table": spec.table, "count": self.index.count(code, self.year.clock)}
                for code, spec in DATASETS.items()]  # fmt: skip

    def page(self, code: str, query: dict[str, list[str]]) -> tuple[bytes, list[bytes], bytes]:
        """(JSON prefix, the records' JSON, JSON suffix) of one page; HubError on bad parameters."""
        assert self.index is not None
        if code not in DATASETS:
            raise HubError("unknown_dataset", f"未知数据集 {code}", f"unknown dataset {code}", status_code=404,
                           detail={"known": list(DATASETS)})  # fmt: skip
        since = (query.get("since") or [""])[0]
        if since and not TS_RE.match(since):
            raise HubError("bad_since", "since 参数须为 yyyyMMddHHmmss", "since must be yyyyMMddHHmmss",
                           detail={"since": since})  # fmt: skip
        raw_limit = (query.get("limit") or ["1000"])[0]
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
            raise HubError("bad_limit", f"limit 参数须为 1..{MAX_LIMIT} 的整数", f"limit must be an integer 1..{MAX_LIMIT}",
                           detail={"limit": raw_limit})  # fmt: skip
        cursor = (query.get("cursor") or [""])[0]
        after = decode_cursor(cursor) if cursor else ("", "")
        rows, more = self.index.page(code, since, after, int(raw_limit), self.year.clock)
        next_cursor = encode_cursor(rows[-1][0], rows[-1][1]) if rows and more else None
        watermark = rows[-1][0] if rows else (since or None)
        spec = DATASETS[code]
        prefix = f'{{"dataset":"{code}","table":"{spec.table}","records":['.encode()
        suffix = ("]," + json.dumps({"next_cursor": next_cursor, "watermark": watermark})[1:]).encode()
        return prefix, [body for _, _, body in rows], suffix


class _Handler(BaseHTTPRequestHandler):
    owner: ExchangeCentreServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave at once: no 40 ms delayed-ACK stalls per page
    wbufsize = 1 << 16
    server_version = "ExchangeCentreStandin/1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        return

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode())

    def _error(self, error: HubError) -> None:
        self._json(error.status_code, error.to_dict())

    def _read_json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            raise HubError("bad_json", "请求体不是有效的 JSON", "request body is not valid JSON") from exc
        if not isinstance(body, dict):
            raise HubError("bad_json", "请求体须为 JSON 对象", "request body must be a JSON object")
        return body

    def _authorised(self) -> bool:
        given = self.headers.get("X-Api-Key") or ""
        if hmac.compare_digest(given.encode(), self.owner.api_key.encode()):
            return True
        self._error(HubError("unauthorised", "缺少或错误的 X-Api-Key", "missing or wrong X-Api-Key", status_code=401))
        return False

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        try:
            if parts == ["healthz"]:
                self._json(200, {"status": "ok"})
            elif parts == ["control", "clock"]:
                self._json(200, {"clock": self.owner.year.clock})
            elif parts[:3] == ["api", "v1", "datasets"] and len(parts) in (3, 4):
                if not self._authorised():
                    return
                if len(parts) == 3:
                    self._json(200, self.owner.list_datasets())
                    return
                self._page(parts[3], parse_qs(url.query))
            else:
                self._error(HubError("not_found", "无此接口", "no such endpoint", status_code=404))
        except HubError as error:
            self._error(error)

    def _page(self, code: str, query: dict[str, list[str]]) -> None:
        prefix, bodies, suffix = self.owner.page(code, query)
        cut = self.owner._take_failure(len(bodies))
        length = len(prefix) + sum(map(len, bodies)) + max(0, len(bodies) - 1) + len(suffix)
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if cut is None:  # written in slices of records: no page-sized string is ever built
            self.wfile.write(prefix)
            for start in range(0, len(bodies), 256):
                self.wfile.write((b"," if start else b"") + b",".join(bodies[start : start + 256]))
            self.wfile.write(suffix)
            return
        # Promise the whole body, send the records before the cut and half of the next one, then drop the line.
        self.wfile.write(prefix + b",".join(bodies[:cut]) + (b"," if cut else b"") + bodies[cut][: len(bodies[cut]) // 2])
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_POST(self) -> None:  # noqa: N802 (stdlib name)
        parts = [p for p in urlsplit(self.path).path.split("/") if p]
        try:
            body = self._read_json()
            if parts == ["control", "advance"]:
                days = body.get("days")
                if not isinstance(days, int | float) or days < 0:
                    raise HubError("bad_days", "days 须为非负数", "days must be a non-negative number")
                self._json(200, {"clock": self.owner.advance(float(days))})
            elif parts == ["control", "fail"]:
                after = body.get("after_records")
                if not isinstance(after, int) or after < 0:
                    raise HubError("bad_after_records", "after_records 须为非负整数",
                                   "after_records must be a non-negative integer")  # fmt: skip
                self.owner.fail_after(after)
                self._json(200, {"armed": True, "after_records": after})
            elif parts == ["control", "clock"]:
                clock = body.get("clock")
                if clock is not None and (not isinstance(clock, str) or not TS_RE.match(clock)):
                    raise HubError("bad_clock", "clock 须为 yyyyMMddHHmmss 或 null", "clock must be yyyyMMddHHmmss or null")
                self.owner.year.set_clock(clock)
                self._json(200, {"clock": self.owner.year.clock})
            else:
                self._error(HubError("not_found", "无此接口", "no such endpoint", status_code=404))
        except HubError as error:
            self._error(error)
