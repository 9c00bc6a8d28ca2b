"""Connectors for the trading centre's data in the national 公共资源交易平台系统数据规范 (data-standards §3).

Three ways a centre hands its data over, one small class each:

- :class:`ExchangeApiConnector`: the centre's paginated HTTP API, pulled incrementally by DATA_TIMESTAMP
  with its opaque cursor (``GET /api/v1/datasets/{code}?since=&cursor=&limit=``, header ``X-Api-Key``);
- :class:`ExchangeDatabaseConnector`: a read-only SQLAlchemy connection to the centre's own database
  (one table per dataset, named and columned as the spec: ``TENDER_LIST``, ``BID_SECTION_CODE``, ...),
  pulled with keyset pagination on (DATA_TIMESTAMP, natural key); MariaDB/MySQL and PostgreSQL;
- :class:`ExchangeFileConnector`: file drops ``<TABLE>_<yyyyMMdd>.json|xml|csv``.

Every record comes out as a flat dict of spec field name -> str | None, exactly as the centre sent it.
The connectors never write to the warehouse; ggzy.pipelines.trading lands, validates and loads.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, ClassVar
from xml.etree import ElementTree

import msgspec
import pyarrow as pa
import sqlalchemy as sa

from connectors.base import FileConnector, Page, ParsedFile, PullConnector, decode_text
from ggzy.errors import HubError


@dataclass(frozen=True)
class TradingDataset:
    """One dataset of the spec as the hub accepts it: number, table, natural key and parent link."""

    code: str
    table: str
    key: tuple[str, ...]
    parent: tuple[str, str] | None  # (parent dataset code, the field of this dataset holding the parent key)

    @property
    def name(self) -> str:
        """Name used in the batch manifest and reports, e.g. 'trading_507'."""
        return f"trading_{self.code}"


def _ds(code: str, table: str, key: str, parent: tuple[str, str] | None) -> TradingDataset:
    return TradingDataset(code, table, tuple(key.split()), parent)


SECTION = ("502", "BID_SECTION_CODE")
# In dependency order: parents before children, so one run loads a parent before its children arrive.
TRADING_DATASETS: dict[str, TradingDataset] = {
    d.code: d
    for d in (
        _ds("500", "PROJECT", "PROJECT_CODE", None),
        _ds("501", "TENDER_PROJECT", "TENDER_PROJECT_CODE", ("500", "PROJECT_CODE")),
        _ds("502", "SECTION", "BID_SECTION_CODE", ("501", "TENDER_PROJECT_CODE")),
        _ds("503", "TENDER_ANN_QUA_INQUERY_ANN", "TENDER_PROJECT_CODE NOTICE_NAME", ("501", "TENDER_PROJECT_CODE")),
        _ds("507", "TENDER_LIST", "BID_SECTION_CODE BIDDER_ORG_CODE", SECTION),
        _ds("508", "BID_EVALUATION_EXPERT", "BID_SECTION_CODE ID_CARD", SECTION),
        _ds("510", "TENDER_CANDIDATE", "BID_SECTION_CODE BIDDER_CODE", SECTION),
        _ds("513", "WIN_RESULT_ANNO", "BID_SECTION_CODE", SECTION),
        _ds("512", "CONTRACT_PERFORMANCE", "BID_SECTION_CODE CONTRACT_NAME", SECTION),
        _ds("519", "BID_DOC_CHARACT_CODE", "BID_SECTION_CODE BIDDER_ORG_CODE", SECTION),
        _ds("9010", "BIDDER_MAKE_TOOL_INFO", "BID_SECTION_CODE BIDDER_ORG_CODE", SECTION),
        _ds("9011", "BIDDER_MARGIN_INFO", "BID_SECTION_CODE BIDDER_ORG_CODE", SECTION),
        _ds("302", "BLACK_LIST", "BLACKLIST_CODE", None),
        _ds("303", "WITHDRAW_BLACK_LIST", "BLACKLIST_CODE", ("302", "BLACKLIST_CODE")),
        _ds("402", "PROJECT_ALERTING_INFO", "BID_SECTION_CODE ALERT_DATE BODY_CODE", SECTION),
        _ds("404", "COMPLAINT_INFO", "BID_SECTION_CODE COMPLAINT_DATE COMPLAINTED_BODY_CODE", SECTION),
    )
}  # fmt: skip
TABLE_CODES: dict[str, str] = {d.table: code for code, d in TRADING_DATASETS.items()}
# Personal ID numbers: replaced by mask + keyed hash before anything is written (plaintext only encrypted
# in protected.personal_id).
PERSONAL_ID_FIELDS: dict[str, tuple[str, ...]] = {"508": ("ID_CARD",), "513": ("PROJECT_LEAD_ID",)}
TIMESTAMP_FIELD = "DATA_TIMESTAMP"


def dataset(code: str) -> TradingDataset:
    """The dataset for a code, or HubError naming the accepted codes."""
    try:
        return TRADING_DATASETS[str(code)]
    except KeyError:
        accepted = ", ".join(TRADING_DATASETS)
        raise HubError(
            "unknown_dataset",
            f"未知的数据集编号 {code}（可接受：{accepted}）",
            f"unknown dataset code {code} (accepted: {accepted})",
            status_code=400,
            detail={"dataset": code},
        ) from None


def _text(value: Any) -> str | None:
    """A cell as the spec carries it: text, None for a missing or empty value."""
    if value is None:
        return None
    text = (value if type(value) is str else str(value)).strip()
    return text or None


def _texts(records: list[dict[str, Any]]) -> list[dict[str, str | None]]:
    """Every cell of decoded JSON records as the spec carries it (see _text)."""
    return [{k: _text(v) for k, v in r.items()} for r in records]


class ExchangeApiConnector(PullConnector):
    """The trading centre's HTTP API (交易中心数据接口), pulled incrementally.

    Pages come from ``GET {base_url}/api/v1/datasets/{code}?since=<watermark>&cursor=<c>&limit=<n>`` with
    the API key in ``X-Api-Key``; each holds records with DATA_TIMESTAMP after ``since`` ordered by
    (DATA_TIMESTAMP, natural key), the opaque ``next_cursor`` (null on the last page) and the page's
    highest DATA_TIMESTAMP. The position kept between pages is {"cursor", "since"}: resuming hands the
    same ``since`` and the last committed cursor back, so a dropped connection costs one page, never
    a gap. Network errors and non-200 answers raise ``source_unavailable``.
    """

    description = "交易中心数据接口（国家数据规范） trading-centre API in the national data specification"
    source = "trading centre, HTTP API with key"
    # PullConnector
    kind = "api"
    page_size = 5000

    def __init__(self, base_url: str, api_key: str, *, page_size: int | None = None, timeout: float = 60.0):
        import httpx

        self.base_url = base_url.rstrip("/")
        self.page_size = page_size or self.page_size
        self.client = httpx.Client(base_url=self.base_url, headers={"X-Api-Key": api_key}, timeout=timeout)

    @property
    def identity(self) -> str:
        """'api:<base url>'."""
        return f"api:{self.base_url}"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.client.close()

    def _get(self, path: str, params: dict[str, Any] | None = None) -> bytes:
        """The body of a 200 answer to GET `path`; `source_unavailable` otherwise.

        The body is read into bytes of our own, never cached on the httpx Response: a Response sits in a
        reference cycle with its stream, so whatever it holds lives until the next cyclic garbage collection
        (at 5,000 records a page that piled up to hundreds of MB between collections).
        """
        import httpx

        for attempt in (1, 2):
            try:
                with self.client.stream("GET", path, params=params) as response:
                    body = b"".join(response.iter_bytes())
                break
            except httpx.RemoteProtocolError as exc:
                # A pooled keep-alive connection the server had already closed: nothing was received, ask
                # again once. A connection dropped mid-response is an error (the page is not committed).
                if attempt == 2 or "without sending a response" not in str(exc):
                    raise self.unavailable(self.identity, f"{type(exc).__name__}: {exc}", path=path) from exc
            except httpx.HTTPError as exc:
                raise self.unavailable(self.identity, f"{type(exc).__name__}: {exc}", path=path) from exc
        if response.status_code != 200:
            raise self.unavailable(
                self.identity,
                f"HTTP {response.status_code}: {body.decode('utf-8', 'replace')[:300]}",
                path=path,
                http_status=response.status_code,
            )
        return body

    def datasets(self) -> list[str]:
        """Codes listed by GET /api/v1/datasets that the hub knows."""
        listed = msgspec.json.decode(self._get("/api/v1/datasets"))
        return [d["code"] for d in listed if d["code"] in TRADING_DATASETS]

    def pages(self, dataset: str, since: str | None, position: dict[str, Any] | None) -> Iterator[Page]:
        """Pages of records after `since`, continuing from the stored cursor."""
        position = dict(position or {})
        since = position.get("since", since)
        cursor = position.get("cursor")
        while True:
            params = {"limit": self.page_size}
            if since:
                params["since"] = since
            if cursor:
                params["cursor"] = cursor
            raw = self._get(f"/api/v1/datasets/{dataset}", params)
            try:
                # A page is up to 5,000 records: msgspec decodes it several times faster than json.
                body = msgspec.json.decode(raw)
                if not isinstance(body, dict):
                    raise ValueError("expected a JSON object")
            except ValueError as exc:
                raise self.unavailable(self.identity, f"invalid JSON page: {exc}", dataset=dataset) from exc
            cursor = body.get("next_cursor")
            records = _texts(body.get("records") or [])
            yield Page(
                records=records,
                position={"since": since, "cursor": cursor} if cursor else None,
                watermark=body.get("watermark") or None,
                raw=raw,
            )
            if not cursor:
                return


class ExchangeDatabaseConnector(PullConnector):
    """The trading centre's own database (交易中心业务库), read over SQLAlchemy.

    One table per dataset named as the spec (``TENDER_LIST``...), columns named as the spec's fields,
    found case-insensitively (MariaDB keeps the upper-case names, PostgreSQL may hold them quoted or
    folded). Pages are keyset queries ordered by (DATA_TIMESTAMP, natural key) starting strictly after
    the last row of the previous page, which the position holds as {"since", "last": [ts, key...]}; the
    same SELECT runs on MariaDB/MySQL (``mysql+pymysql://``) and PostgreSQL (``postgresql+psycopg2://``).
    """

    description = (
        "交易中心业务数据库（国家数据规范表结构） trading-centre database in the spec's table layout"
    )
    source = "trading centre, read-only database account"
    # PullConnector
    kind = "database"
    page_size = 5000

    def __init__(self, url: str, *, page_size: int | None = None):
        self.url = sa.make_url(url)
        self.page_size = page_size or self.page_size
        self.engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        self._tables: dict[str, sa.Table] = {}

    @property
    def identity(self) -> str:
        """'database:<url without password>'."""
        return f"database:{self.url.render_as_string(hide_password=True)}"

    def close(self) -> None:
        """Release the database engine."""
        self.engine.dispose()

    def _table(self, code: str) -> sa.Table:
        if code not in self._tables:
            wanted = TRADING_DATASETS[code].table
            try:
                names = sa.inspect(self.engine).get_table_names()
            except sa.exc.SQLAlchemyError as exc:
                raise self.unavailable(self.identity, str(exc).splitlines()[0]) from exc
            found = next((n for n in names if n.upper() == wanted), None)
            if found is None:
                raise self.unavailable(self.identity, f"table {wanted} not found", dataset=code)
            self._tables[code] = sa.Table(found, sa.MetaData(), autoload_with=self.engine)
        return self._tables[code]

    def datasets(self) -> list[str]:
        """Codes whose spec table exists in the database."""
        try:
            names = {n.upper() for n in sa.inspect(self.engine).get_table_names()}
        except sa.exc.SQLAlchemyError as exc:
            raise self.unavailable(self.identity, str(exc).splitlines()[0]) from exc
        return [code for code, d in TRADING_DATASETS.items() if d.table in names]

    def pages(self, dataset: str, since: str | None, position: dict[str, Any] | None) -> Iterator[Page]:
        """Keyset pages of the dataset's table after `since`, continuing after the stored last row."""
        table = self._table(dataset)
        columns = {c.name.upper(): c for c in table.columns}
        order_names = (TIMESTAMP_FIELD, *TRADING_DATASETS[dataset].key)
        order = [sa.func.coalesce(columns[name], "") for name in order_names]
        position = dict(position or {})
        since = position.get("since", since)
        last = position.get("last")
        while True:
            query = sa.select(*table.columns).order_by(*order).limit(self.page_size)
            if since:
                query = query.where(columns[TIMESTAMP_FIELD] > since)
            if last:
                query = query.where(sa.tuple_(*order) > sa.tuple_(*[sa.literal(v) for v in last]))
            try:
                with self.engine.connect() as conn:
                    rows = conn.execute(query).mappings().all()
            except sa.exc.SQLAlchemyError as exc:
                raise self.unavailable(self.identity, str(exc).splitlines()[0], dataset=dataset) from exc
            records = [{name.upper(): _text(value) for name, value in row.items()} for row in rows]
            if records:
                last = [records[-1].get(name) or "" for name in order_names]
            more = len(records) == self.page_size
            yield Page(
                records=records,
                position={"since": since, "last": last} if more else None,
                watermark=max((r.get(TIMESTAMP_FIELD) or "" for r in records), default=None) or None,
            )
            if not more:
                return


FILE_NAME = re.compile(r"^(?P<table>[A-Z_]+?)(?:_(?P<day>\d{8}))?$")


class ExchangeFileConnector(FileConnector):
    """File drops from a trading centre: ``<TABLE>_<yyyyMMdd>.json|xml|csv`` (e.g. TENDER_LIST_20250301.json).

    The table name in the file name says the dataset. JSON: a list of records, or an object holding
    one under "records" / "DATA" / the table name. XML: ``<DATA><TENDER_LIST>..fields..</TENDER_LIST>...
    </DATA>``, one element per record, one child element per field. CSV: a header row of spec field
    names, UTF-8 (with or without BOM) or GBK. Empty cells are missing values.
    """

    description = (
        "交易中心文件投递（JSON/XML/CSV，国家数据规范） trading-centre file drops in the spec's format"
    )
    source = "trading centre, file drop folder"
    # FileConnector
    extensions: ClassVar[dict[str, str]] = {".json": "json", ".xml": "xml", ".csv": "csv"}

    def dataset_of(self, filename: str) -> str:
        """The dataset code a file name announces (its table name), or HubError('unreadable_file')."""
        match = FILE_NAME.match(PurePath(filename).stem.upper())
        code = TABLE_CODES.get(match.group("table")) if match else None
        if code is None:
            raise self.unreadable(
                filename,
                "文件名应为 <表名>_<yyyyMMdd>.<json|xml|csv>，表名须为国家数据规范的表名",
                "the file name must be <TABLE>_<yyyyMMdd>.<json|xml|csv> with a table name of the spec",
            )
        return code

    def read(self, data: bytes, filename: str) -> tuple[str, str, list[dict[str, str | None]]]:
        """(dataset code, file format, records) of one dropped file."""
        code = self.dataset_of(filename)
        fmt = self.detect_format(data, filename)
        try:
            if fmt == "json":
                records = self._json(data, TRADING_DATASETS[code].table)
            elif fmt == "xml":
                records = self._xml(data)
            else:
                text, _ = decode_text(data)
                records = [
                    {k.strip().upper(): _text(v) for k, v in row.items() if k}
                    for row in csv.DictReader(io.StringIO(text))
                ]
        except (ValueError, ElementTree.ParseError, UnicodeDecodeError, csv.Error) as exc:
            raise self.unreadable(filename, f"格式错误：{exc}", f"malformed {fmt}: {exc}") from exc
        return code, fmt, records

    @staticmethod
    def _json(data: bytes, table: str) -> list[dict[str, str | None]]:
        text, _ = decode_text(data)
        body = json.loads(text)
        if isinstance(body, dict):
            body = next((body[k] for k in ("records", "DATA", table) if isinstance(body.get(k), list)), None)
        if not isinstance(body, list) or not all(isinstance(r, dict) for r in body):
            raise ValueError("expected a list of records")
        return [{str(k).upper(): _text(v) for k, v in r.items()} for r in body]

    @staticmethod
    def _xml(data: bytes) -> list[dict[str, str | None]]:
        root = ElementTree.fromstring(data)
        return [{child.tag.upper(): _text(child.text) for child in element} for element in root]

    def parse(self, data: bytes, filename: str) -> ParsedFile:
        """The file as Arrow tables (the base class's contract): every field as received, by row."""
        code, fmt, records = self.read(data, filename)
        fields = list(dict.fromkeys(k for r in records for k in r))
        original = pa.table({f: pa.array([r.get(f) for r in records], pa.string()) for f in fields})
        canonical = original.add_column(0, "source_row", pa.array(range(1, len(records) + 1), pa.int32()))
        return ParsedFile(
            file_format=fmt,
            encoding=None,
            source_format=code,
            original=original,
            canonical=canonical,
            header_map={f: f for f in fields},
            notes=[f"dataset {code} {TRADING_DATASETS[code].table}"],
        )
