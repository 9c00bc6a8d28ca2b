"""Connectors for Credit China's (信用中国) official data-sharing channel: an authenticated API and a file exchange.

Never scraping: the public site is captcha-protected and real deployments receive these lists through the
channel (data-standards §4). Each list is a change log: every change carries a sequence number, the time the
list said it (``changedAt``, yyyyMMddHHmmss), a kind (add / correct / remove) and the full record after it.

- ``CreditChinaApi``: pages through ``GET /api/v1/lists/{list}/changes?since=&cursor=&limit=`` with the
  app key, a timestamp and an HMAC-SHA256 signature (``sign_request``); returns the changes and the new
  watermark. ``since`` is strictly exclusive, so re-reading from a committed watermark loses nothing.
- ``CreditChangeFileConnector`` and its per-list subclasses: parse one page or one daily exchange file
  (JSON ``{"changes": [...]}`` or CSV seq/changedAt/changeType/record fields) into a ``ParsedFile`` whose
  canonical table has source_row, change_seq, changed_at, change_type and the record as JSON text.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx
import pyarrow as pa

from connectors.base import FileConnector, ParsedFile, decode_text
from ggzy.errors import HubError

CHANGE_TYPES = ("add", "correct", "remove")


def sign_request(app_key: str, app_secret: str, timestamp: str, path: str) -> str:
    """The channel's request signature: hex HMAC-SHA256(secret, key + timestamp + path-with-query)."""
    return hmac.new(app_secret.encode(), f"{app_key}{timestamp}{path}".encode(), hashlib.sha256).hexdigest()


@dataclass
class PulledChanges:
    """What one pull of one list returned: the changes in order, the watermark to store, pages read."""

    list: str
    since: str | None
    watermark: str | None
    changes: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0

    def to_bytes(self) -> bytes:
        """The pull as one canonical JSON document (what is landed in the raw zone)."""
        body = {"list": self.list, "since": self.since, "watermark": self.watermark, "changes": self.changes}
        return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


class CreditChinaApi:
    """Client of the channel's HTTP API (app key + HMAC signature on every request)."""

    def __init__(self, base_url: str, app_key: str, app_secret: str, *, timeout: float = 30.0,
                 page_size: int = 500) -> None:  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self.app_key = app_key
        self.app_secret = app_secret
        self.page_size = page_size
        self.client = httpx.Client(timeout=timeout)

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def get(self, path: str) -> Any:
        """One signed GET; a HubError naming the URL and status when the channel refuses."""
        stamp = str(int(time.time()))
        headers = {
            "X-App-Key": self.app_key,
            "X-Timestamp": stamp,
            "X-Signature": sign_request(self.app_key, self.app_secret, stamp, path),
        }
        try:
            response = self.client.get(self.base_url + path, headers=headers)
        except httpx.HTTPError as exc:
            raise HubError(
                "source_unreachable", f"信用中国数据共享接口无法访问：{exc}", f"Credit China channel unreachable: {exc}",
                status_code=502, detail={"url": self.base_url + path},
            ) from exc  # fmt: skip
        if response.status_code != 200:
            raise HubError(
                "source_refused",
                f"信用中国数据共享接口返回 {response.status_code}：{response.text[:200]}",
                f"Credit China channel answered {response.status_code}: {response.text[:200]}",
                status_code=502,
                detail={"url": self.base_url + path, "status": response.status_code},
            )
        return response.json()

    def pull(self, list_name: str, since: str | None) -> PulledChanges:
        """Every change of list_name after since, all pages; the watermark is the last changedAt read."""
        pulled = PulledChanges(list=list_name, since=since, watermark=since)
        cursor: str | None = None
        while True:
            params = {"limit": self.page_size, **({"since": since} if since else {}), **({"cursor": cursor} if cursor else {})}
            page = self.get(f"/api/v1/lists/{list_name}/changes?{urlencode(params)}")
            pulled.pages += 1
            pulled.changes += page["changes"]
            if page["changes"]:
                pulled.watermark = page["watermark"]
            cursor = page.get("next_cursor")
            if not cursor:
                return pulled

    def daily_files(self, fmt: str = "json") -> list[str]:
        """Names of the exchange files on offer."""
        return [f["name"] for f in self.get(f"/files?format={fmt}")["files"]]

    def daily_file(self, name: str) -> bytes:
        """The bytes of one exchange file."""
        stamp = str(int(time.time()))
        path = f"/files/{name}"
        headers = {"X-App-Key": self.app_key, "X-Timestamp": stamp,
                   "X-Signature": sign_request(self.app_key, self.app_secret, stamp, path)}  # fmt: skip
        response = self.client.get(self.base_url + path, headers=headers)
        response.raise_for_status()
        return response.content


class CreditChangeFileConnector(FileConnector):
    """One page or daily exchange file of a Credit China list's changes (JSON or CSV, UTF-8 or GBK).

    JSON: ``{"changes": [{"seq", "changedAt", "changeType", "record": {...}}]}`` (a pull document with
    more keys is fine). CSV: header ``seq, changedAt, changeType`` then the record's fields; empty cells
    are null. The canonical table keeps the record's own field names inside a JSON text column.
    """

    # Connector
    source: ClassVar[str] = "信用中国数据共享通道 Credit China data-sharing channel (API or file exchange)"
    fields: ClassVar[tuple[str, ...]] = ("change_seq", "changed_at", "change_type", "record")
    # FileConnector
    extensions: ClassVar[dict[str, str]] = {".json": "json", ".csv": "csv"}
    # CreditChangeFileConnector
    list_name: ClassVar[str] = ""

    def parse(self, data: bytes, filename: str) -> ParsedFile:
        """Parse one file of changes; unreadable files raise HubError('unreadable_file')."""
        fmt = self.detect_format(data, filename)
        try:
            text, encoding = decode_text(data)
        except UnicodeDecodeError:
            raise self.unreadable(filename, "无法识别的文字编码", "unknown text encoding") from None
        changes = self._json_changes(text, filename) if fmt == "json" else self._csv_changes(text)
        records = [c.get("record") or {} for c in changes]
        originals = [{"seq": c.get("seq"), "changedAt": c.get("changedAt"), "changeType": c.get("changeType"), **r}
                     for c, r in zip(changes, records, strict=True)]  # fmt: skip
        names = list(dict.fromkeys(k for o in originals for k in o))
        original = pa.table({n: pa.array([_text(o.get(n)) for o in originals], pa.string()) for n in names})
        canonical = pa.table({
            "source_row": pa.array(range(1, len(changes) + 1), pa.int32()),
            "change_seq": pa.array([_int(c.get("seq")) for c in changes], pa.int64()),
            "changed_at": pa.array([_text(c.get("changedAt")) for c in changes], pa.string()),
            "change_type": pa.array([_text(c.get("changeType")) for c in changes], pa.string()),
            "record": pa.array([json.dumps(_trimmed(r), ensure_ascii=False) for r in records], pa.string()),
        })  # fmt: skip
        return ParsedFile(
            file_format=fmt, encoding=encoding, source_format="current", original=original, canonical=canonical,
            header_map={n: n for n in names},
        )  # fmt: skip

    def _json_changes(self, text: str, filename: str) -> list[dict[str, Any]]:
        try:
            body = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.unreadable(filename, f"JSON 格式错误：{exc}", f"malformed JSON: {exc}") from None
        changes = body.get("changes") if isinstance(body, dict) else body
        if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
            raise self.unreadable(filename, "缺少 changes 数组", "no 'changes' array")
        return changes

    def _csv_changes(self, text: str) -> list[dict[str, Any]]:
        rows = list(csv.DictReader(io.StringIO(text)))
        meta = ("seq", "changedAt", "changeType")
        return [
            {**{m: row.get(m) for m in meta}, "record": {k: (v if v != "" else None) for k, v in row.items() if k not in meta}}
            for row in rows
        ]  # fmt: skip


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _trimmed(record: dict[str, Any]) -> dict[str, str | None]:
    """Record values as trimmed text, blanks as null (what staging and validation read)."""
    return {str(k): _text(v) for k, v in record.items()}


class DishonestDebtorConnector(CreditChangeFileConnector):
    """失信被执行人名单 Dishonest judgment debtors, the Supreme People's Court list republished by Credit China.

    Record fields (data-standards §4): caseCode 案号, iname 被执行人, cardNum 身份证号码/组织机构代码 (masked for
    natural persons), businessEntity 法定代表人, courtName 执行法院, areaName 省份, gistId 执行依据文号,
    gistUnit 做出执行依据单位, regDate 立案时间, publishDate 发布时间, duty, performance, disruptTypeName.
    A removal (移除) ends every restriction built on the entry from its removal date.
    """

    dataset: ClassVar[str] = "credit_dishonest_debtor"
    description: ClassVar[str] = "失信被执行人名单变更 Dishonest judgment debtors (inclusions, corrections, removals)"
    list_name: ClassVar[str] = "dishonest_debtor"


class SeriousDishonestyConnector(CreditChangeFileConnector):
    """严重失信主体名单 Serious dishonesty lists, received through Credit China's data-sharing channel.

    Record fields: 主体名称, 统一社会信用代码, 列入事由, 列入依据, 列入日期, 认定部门, 移出日期. An entry with a
    移出日期 is a removal: the restriction stops on that date and member units receive the update.
    Corrections arrive as changes of the same entry and are kept as new versions.
    """

    dataset: ClassVar[str] = "credit_serious_dishonesty"
    description: ClassVar[str] = "严重失信主体名单变更 Serious dishonesty list (inclusions, corrections, removals)"
    list_name: ClassVar[str] = "serious_dishonesty"


class ExchangeBlacklistConnector(CreditChangeFileConnector):
    """交易中心黑名单 The exchange centre's 302 BLACK_LIST joined with 303 WITHDRAW_BLACK_LIST.

    Read from the warehouse's trading tables (loaded by the trading pipeline), not from Credit China:
    BLACKLIST_CODE, BODY_NAME, BODY_CODE, RECORD_REASON, RECORD_DATE, GOVERNMENT, DOCUMENT_CODE and, when a
    303 withdrawal exists, its DOCUMENT_CODE and APPLICATION_DATE as the removal.
    """

    dataset: ClassVar[str] = "credit_exchange_blacklist"
    description: ClassVar[str] = "交易中心黑名单及撤销 Exchange centre blacklist (302) and withdrawals (303)"
    list_name: ClassVar[str] = "exchange_blacklist"


def penalty_file(changes: list[dict[str, Any]]) -> bytes:
    """Credit China's published penalties as one 双公示 JSON file (CF_ codes as keys) for the penalty pipeline."""
    return json.dumps([c.get("record") or {} for c in changes], ensure_ascii=False, indent=1).encode()
