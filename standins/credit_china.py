"""Credit China (信用中国) data-sharing stand-in: the official channel's lists, served as a real peer would.

Real deployments receive Credit China's lists through an official data-sharing channel (an authenticated
API or a file exchange), never by scraping the captcha-protected site. This stand-in plays that channel:

* three lists (data-standards §4 and §2), each a change log over time (inclusion, correction, removal):
  - ``dishonest_debtor``: 失信被执行人 records with the court's field names (caseCode, iname, cardNum masked
    for natural persons, businessEntity, courtName, areaName, gistId, gistUnit, regDate, publishDate, duty,
    performance, disruptTypeName) plus the channel's removal fields (status, removeDate, removeGistId);
  - ``serious_dishonesty``: 严重失信主体名单 entries (主体名称, 统一社会信用代码, 列入事由, 列入依据, 列入日期,
    认定部门, 移出日期) plus the channel's 记录编号, 列入文书号, 移出事由, 移出文书号;
  - ``penalty``: 双公示 administrative penalties published by other regions (CF_ codes, current format).
* Deterministic from ``seed``; ``KNOWN_*`` entries have a scripted history for tests; ``faults()`` lists
  planted bad records and the rule each must fail. ``overlap_usccs`` (e.g. the exchange centre stand-in's
  bidders) become listed entities, so cross-checks against trading data find something.
* HTTP (``CreditChinaServer``, stdlib server on 127.0.0.1): requests carry ``X-App-Key``, ``X-Timestamp``
  and ``X-Signature`` = hex HMAC-SHA256(app secret, key + timestamp + path-with-query)
  (``connectors.credit_china.sign_request``). ``GET /api/v1/lists``;
  ``GET /api/v1/lists/{list}/changes?since=<yyyyMMddHHmmss>&cursor=&limit=`` (changes strictly after
  ``since``, ordered by (changedAt, seq), paginated with an opaque stable cursor);
  ``GET /files`` and ``GET /files/{name}`` (the daily file exchange: ``<list>_<yyyyMMdd>.json|csv``);
  ``POST /control/advance {"days": N}`` (tests); ``GET /healthz`` (liveness, unsigned, no data). The served
  view is every change with changedAt <= clock.
"""

from __future__ import annotations

import base64
import csv
import hmac
import io
import json
import random
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ggzy.identifiers import USCC_ALPHABET, id_number_check_char, make_uscc, mask_id_number

LISTS = ("dishonest_debtor", "serious_dishonesty", "penalty")
STAMP = "%Y%m%d%H%M%S"
MAX_PAGE = 1000
MAX_SKEW_SECONDS = 300

# Scripted entries with a known history (tests rely on these exact values).
KNOWN_USCC = make_uscc("91", "410802", "MA9KNWN7")  # a construction company in 焦作
KNOWN_ENTRY_ID = "YZSX-2025-000001"
KNOWN_PERSON_ID = "410802198001011234"
KNOWN_CASE = "(2025)豫0802执123号"
KNOWN_PENALTY_USCC = make_uscc("91", "410102", "MA9PENAL")
KNOWN_PENALTY_NO = "郑市监罚〔2025〕88号"
KNOWN_AUTHORITY_USCC = make_uscc("11", "410100", "00MARKET")
KNOWN_HISTORY = {
    # 严重失信主体名单: listed 2025-03-01 (published next morning), the listing date corrected to 2025-02-20
    # on 2025-04-10, removed with effect from 2025-06-15 (published that day).
    "serious_dishonesty": {
        "uscc": KNOWN_USCC,
        "entry_id": KNOWN_ENTRY_ID,
        "listed_on": "2025-03-01",
        "listed_known": "20250302090000",
        "corrected_listed_on": "2025-02-20",
        "corrected_known": "20250410090000",
        "removed_on": "2025-06-15",
        "removed_known": "20250615100000",
        "removal_doc_no": "豫发改信用移〔2025〕15号",
    },
    # 失信被执行人 (a natural person, masked): registered 2025-02-01, published 2025-02-10, removed 2025-05-20.
    "dishonest_debtor": {
        "case_code": KNOWN_CASE,
        "card_num": mask_id_number(KNOWN_PERSON_ID),
        "iname": "王建军",
        "published": "2025-02-10",
        "removed_on": "2025-05-20",
    },
    # A penalty of another region that restricts: 限制从业 until 2025-12-31, decided 2025-03-15.
    "penalty": {
        "uscc": KNOWN_PENALTY_USCC,
        "decision_no": KNOWN_PENALTY_NO,
        "authority_code": KNOWN_AUTHORITY_USCC,
        "decision_date": "2025-03-15",
        "valid_until": "2025-12-31",
    },
}

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ("伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "建华", "国强")
WORDS = ("宏达", "中建", "鑫源", "恒泰", "华信", "永盛", "金桥", "瑞丰", "天成", "博远", "嘉禾", "润通")
SUFFIXES = ("建设工程有限公司", "建筑劳务有限公司", "市政工程有限公司", "装饰工程有限公司", "商贸有限公司")
COURTS = (("焦作市中级人民法院", "410800"), ("焦作市解放区人民法院", "410802"), ("郑州市中原区人民法院", "410102"),
          ("洛阳市西工区人民法院", "410303"), ("新乡市红旗区人民法院", "410702"))  # fmt: skip
DISRUPT_TYPES = ("有履行能力而拒不履行生效法律文书确定义务", "违反财产报告制度", "违反限制消费令",
                 "以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行")  # fmt: skip
SERIOUS_REASONS = ("拖欠农民工工资", "围标串标", "提供虚假材料谋取中标", "拒不履行行政处罚决定", "重大安全生产责任事故")
SERIOUS_BASES = ("《保障农民工工资支付条例》第四十八条", "《招标投标法实施条例》第六十七条",
                 "《失信行为纠正后的信用信息修复管理办法（试行）》", "《安全生产严重失信主体名单管理办法》第五条")  # fmt: skip
AUTHORITIES = (("河南省人力资源和社会保障厅", "豫人社"), ("河南省发展和改革委员会", "豫发改信用"),
               ("焦作市住房和城乡建设局", "焦住建"), ("郑州市应急管理局", "郑应急"))  # fmt: skip
RESTRICTING = ("限制从业", "暂扣许可证件", "吊销许可证件", "限制开展生产经营活动")
OTHER_REGION_AUTHORITIES = (("郑州市市场监督管理局", "410100"), ("洛阳市住房和城乡建设局", "410300"),
                            ("新乡市应急管理局", "410700"))  # fmt: skip


@dataclass(frozen=True)
class Change:
    """One change of one list: its sequence number, when the list said it, the kind, and the full record after it."""

    list: str
    seq: int
    changed_at: str  # yyyyMMddHHmmss, China time
    change_type: str  # 'add' | 'correct' | 'remove'
    key: str
    record: dict[str, str | None]

    def to_json(self) -> dict[str, Any]:
        """The change as the channel serves it."""
        return {"seq": self.seq, "changedAt": self.changed_at, "changeType": self.change_type, "record": self.record}


@dataclass(frozen=True)
class Fault:
    """A planted bad record and the rule it must fail."""

    list: str
    key: str
    rule: str


@dataclass
class _Draft:
    list: str
    when: datetime
    change_type: str
    key: str
    record: dict[str, str | None]


class CreditChinaFeed:
    """The seeded change log of the three lists, and the channel's clock (what is visible now)."""

    def __init__(
        self,
        seed: int = 0,
        *,
        start: date = date(2025, 1, 1),
        days: int = 365,
        entities: int = 60,
        penalties: int = 30,
        overlap_usccs: Sequence[str] = (),
        faults: bool = True,
        clock: datetime | None = None,
    ) -> None:
        self.seed = seed
        self.start = start
        self.days = days
        self.rng = random.Random(f"credit_china:{seed}")
        self._faults: list[Fault] = []
        drafts = self._known()
        drafts += self._generated(entities, penalties, list(overlap_usccs))
        if faults:
            drafts += self._planted()
        drafts.sort(key=lambda d: (d.when, d.list, d.key))
        self.changes: list[Change] = [
            Change(d.list, seq, d.when.strftime(STAMP), d.change_type, d.key, d.record)
            for seq, d in enumerate(drafts, start=1)
        ]
        self.clock = clock or datetime.combine(start + timedelta(days=days), datetime.min.time())
        self._lock = threading.Lock()

    # --- the served view ---
    def advance(self, days: float) -> datetime:
        """Move the channel's clock forward; later changes become visible."""
        with self._lock:
            self.clock += timedelta(days=days)
            return self.clock

    def visible(self, list_name: str, since: str | None = None) -> list[Change]:
        """Changes of one list with since < changedAt <= clock, in (changedAt, seq) order."""
        if list_name not in LISTS:
            raise KeyError(list_name)
        upto = self.clock.strftime(STAMP)
        return [
            c for c in self.changes
            if c.list == list_name and c.changed_at <= upto and (since is None or c.changed_at > since)
        ]  # fmt: skip

    def faults(self) -> list[Fault]:
        """The planted bad records and the rule each must fail."""
        return list(self._faults)

    def counts(self) -> dict[str, int]:
        """Visible changes per list."""
        return {name: len(self.visible(name)) for name in LISTS}

    # --- files ---
    def daily_files(self, fmt: str = "json") -> dict[str, bytes]:
        """The file exchange: one file per list and day with changes, `<list>_<yyyyMMdd>.<fmt>`."""
        files: dict[str, list[Change]] = {}
        for name in LISTS:
            for change in self.visible(name):
                files.setdefault(f"{name}_{change.changed_at[:8]}.{fmt}", []).append(change)
        return {name: render_file(changes, fmt) for name, changes in sorted(files.items())}

    # --- generation ---
    def _at(self, day: date | str, hour: int = 9, minute: int = 0) -> datetime:
        day = date.fromisoformat(day) if isinstance(day, str) else day
        return datetime.combine(day, datetime.min.time()) + timedelta(hours=hour, minutes=minute)

    def _day(self, lo: int = 0, hi: int | None = None) -> date:
        return self.start + timedelta(days=self.rng.randint(lo, hi if hi is not None else self.days - 1))

    def _company(self, uscc: str | None = None) -> tuple[str, str]:
        name = "河南" + self.rng.choice(WORDS) + self.rng.choice(WORDS) + self.rng.choice(SUFFIXES)
        if uscc is None:
            body = "MA" + "".join(self.rng.choice(USCC_ALPHABET) for _ in range(6))
            uscc = make_uscc("91", self.rng.choice(("410802", "410811", "410102", "410303")), body)
        return name, uscc

    def _person(self) -> tuple[str, str]:
        born = date(1960, 1, 1) + timedelta(days=self.rng.randrange(35 * 365))
        first17 = f"4108{self.rng.randint(1, 30):02d}{born:%Y%m%d}{self.rng.randrange(1000):03d}"
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN), mask_id_number(first17 + id_number_check_char(first17))

    def _debtor(self, case_no: int, *, person: bool, uscc: str | None = None, reg: date | None = None) -> dict:
        court, area = self.rng.choice(COURTS)
        reg = reg or self._day(0, self.days - 40)
        if person:
            name, card = self._person()
            kind, boss = "自然人", None
        else:
            name, card = self._company(uscc)
            kind, boss = "企业或其他组织", self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)
        court_short = court.replace("人民法院", "").replace("市", "")[:2]
        return {
            "caseCode": f"({reg.year})豫{area[2:6]}执{case_no}号",
            "iname": name,
            "cardNum": card,
            "partyTypeName": kind,
            "businessEntity": boss,
            "courtName": court,
            "areaName": "河南",
            "gistId": f"({reg.year - 1})豫{area[2:6]}民初{self.rng.randint(100, 9999)}号",
            "gistUnit": court,
            "regDate": reg.isoformat(),
            "publishDate": (reg + timedelta(days=self.rng.randint(3, 20))).isoformat(),
            "duty": f"支付{court_short}案款{self.rng.randint(1, 90)}万元及利息",
            "performance": "全部未履行",
            "disruptTypeName": self.rng.choice(DISRUPT_TYPES),
            "status": "listed",
            "removeDate": None,
            "removeGistId": None,
        }

    def _serious(self, n: int, uscc: str | None = None, listed: date | None = None) -> dict:
        name, uscc = self._company(uscc)
        authority, prefix = self.rng.choice(AUTHORITIES)
        listed = listed or self._day(0, self.days - 40)
        return {
            "记录编号": f"YZSX-{listed.year}-{n:06d}",
            "主体名称": name,
            "统一社会信用代码": uscc,
            "列入事由": self.rng.choice(SERIOUS_REASONS),
            "列入依据": self.rng.choice(SERIOUS_BASES),
            "列入文书号": f"{prefix}〔{listed.year}〕{self.rng.randint(1, 300)}号",
            "列入日期": listed.isoformat(),
            "认定部门": authority,
            "移出日期": None,
            "移出事由": None,
            "移出文书号": None,
        }

    def _penalty(self, n: int, uscc: str | None = None, *, restricting: bool | None = None) -> dict:
        name, uscc = self._company(uscc)
        authority, region = self.rng.choice(OTHER_REGION_AUTHORITIES)
        decided = self._day(0, self.days - 30)
        restricting = self.rng.random() < 0.5 if restricting is None else restricting
        categories = f"罚款;{self.rng.choice(RESTRICTING)}" if restricting else "警告;罚款"
        until = decided + timedelta(days=self.rng.choice((90, 180, 365)))
        authority_uscc = make_uscc("11", region, f"00{region[2:4]}ADMN")
        return {
            "CF_XDR_MC": name, "CF_XDR_LB": "法人及非法人组织", "CF_XDR_SHXYM": uscc,
            "CF_FRDB": self.rng.choice(SURNAMES) + self.rng.choice(GIVEN),
            "CF_WSH": f"{authority[:2]}罚〔{decided.year}〕{n}号", "CF_WFXW": "违反建筑市场管理规定",
            "CF_SY": "未取得资质承揽工程", "CF_YJ": "《建设工程质量管理条例》第六十条", "CF_CFLB": categories,
            "CF_NR": f"罚款{self.rng.randint(1, 50)}万元" + ("，并" + categories.split(";")[1] if restricting else ""),
            "CF_NR_FK": str(self.rng.randint(1, 50)), "CF_NR_ZKDX": "建筑业企业资质证书" if restricting else None,
            "CF_JDRQ": decided.isoformat(), "CF_YXQ": until.isoformat(),
            "CF_GSJZQ": (decided + timedelta(days=365)).isoformat(), "CF_CFJG": authority,
            "CF_CFJGDM": authority_uscc, "CF_SJLY": authority, "CF_SJLYDM": authority_uscc,
        }  # fmt: skip

    def _known(self) -> list[_Draft]:
        """The scripted histories of KNOWN_HISTORY."""
        k = KNOWN_HISTORY["serious_dishonesty"]
        entry = self._serious(1, KNOWN_USCC, date.fromisoformat(k["listed_on"]))
        entry.update({"记录编号": KNOWN_ENTRY_ID, "主体名称": "焦作市诚信样本建设工程有限公司",
                      "列入事由": "拖欠农民工工资", "列入文书号": "豫人社〔2025〕7号"})  # fmt: skip
        corrected = {**entry, "列入日期": k["corrected_listed_on"]}
        removed = {**corrected, "移出日期": k["removed_on"], "移出事由": "已纠正失信行为并完成信用修复",
                   "移出文书号": k["removal_doc_no"]}  # fmt: skip
        d = KNOWN_HISTORY["dishonest_debtor"]
        debtor = self._debtor(123, person=True, reg=date(2025, 2, 1))
        debtor.update({"caseCode": KNOWN_CASE, "iname": d["iname"], "cardNum": d["card_num"],
                       "publishDate": d["published"]})  # fmt: skip
        debtor_removed = {**debtor, "status": "removed", "removeDate": d["removed_on"], "performance": "全部履行",
                          "removeGistId": "(2025)豫0802执恢45号"}  # fmt: skip
        p = KNOWN_HISTORY["penalty"]
        penalty = self._penalty(88, KNOWN_PENALTY_USCC, restricting=True)
        penalty.update({"CF_WSH": KNOWN_PENALTY_NO, "CF_CFJGDM": KNOWN_AUTHORITY_USCC, "CF_SJLYDM": KNOWN_AUTHORITY_USCC,
                        "CF_CFJG": "郑州市市场监督管理局", "CF_SJLY": "郑州市市场监督管理局", "CF_CFLB": "罚款;限制从业",
                        "CF_JDRQ": p["decision_date"], "CF_YXQ": p["valid_until"], "CF_GSJZQ": "2026-03-15"})  # fmt: skip
        return [
            _Draft("serious_dishonesty", datetime.strptime(k["listed_known"], STAMP), "add", KNOWN_ENTRY_ID, entry),
            _Draft("serious_dishonesty", datetime.strptime(k["corrected_known"], STAMP), "correct", KNOWN_ENTRY_ID,
                   corrected),
            _Draft("serious_dishonesty", datetime.strptime(k["removed_known"], STAMP), "remove", KNOWN_ENTRY_ID,
                   removed),
            _Draft("dishonest_debtor", self._at(d["published"], 8), "add", KNOWN_CASE, debtor),
            _Draft("dishonest_debtor", self._at(d["removed_on"], 8), "remove", KNOWN_CASE, debtor_removed),
            _Draft("penalty", self._at("2025-03-20", 10), "add", KNOWN_PENALTY_NO, penalty),
        ]  # fmt: skip

    def _history(self, list_name: str, key: str, record: dict, added: date, *, date_field: str,
                 remove: dict | None) -> list[_Draft]:
        """An addition, maybe a correction, maybe a removal of one generated record."""
        drafts = [_Draft(list_name, self._at(added, self.rng.randint(8, 17), self.rng.randint(0, 59)), "add", key,
                         record)]  # fmt: skip
        last = record
        if self.rng.random() < 0.3:
            fixed = dict(record)
            if date_field in fixed:
                fixed[date_field] = (date.fromisoformat(fixed[date_field]) - timedelta(days=self.rng.randint(1, 9))).isoformat()
            drafts.append(_Draft(list_name, self._at(added + timedelta(days=self.rng.randint(5, 20)), 11), "correct",
                                 key, fixed))  # fmt: skip
            last = fixed
        if remove is not None and self.rng.random() < 0.35:
            gone = added + timedelta(days=self.rng.randint(25, 120))
            if gone < self.start + timedelta(days=self.days):
                removed = {**last, **{k: (gone.isoformat() if v == "@date" else v) for k, v in remove.items()}}
                drafts.append(_Draft(list_name, self._at(gone, 15), "remove", key, removed))
        return drafts

    def _generated(self, entities: int, penalties: int, overlap: list[str]) -> list[_Draft]:
        drafts: list[_Draft] = []
        for i in range(entities):
            uscc = overlap[i] if i < len(overlap) else None
            if i % 2 == 0:
                entry = self._serious(1000 + i, uscc)
                drafts += self._history(
                    "serious_dishonesty", entry["记录编号"], entry, date.fromisoformat(entry["列入日期"]) + timedelta(days=1),
                    date_field="列入日期",
                    remove={"移出日期": "@date", "移出事由": "信用修复", "移出文书号": f"豫信用移〔2025〕{1000 + i}号"},
                )  # fmt: skip
            else:
                record = self._debtor(5000 + i, person=uscc is None and self.rng.random() < 0.4, uscc=uscc)
                drafts += self._history(
                    "dishonest_debtor", record["caseCode"], record, date.fromisoformat(record["publishDate"]),
                    date_field="regDate",
                    remove={"status": "removed", "removeDate": "@date", "performance": "全部履行",
                            "removeGistId": f"(2025)豫执恢{5000 + i}号"},
                )  # fmt: skip
        for i in range(penalties):
            uscc = overlap[entities + i] if entities + i < len(overlap) else None
            record = self._penalty(200 + i, uscc)
            drafts += self._history("penalty", record["CF_WSH"], record,
                                    date.fromisoformat(record["CF_JDRQ"]) + timedelta(days=2),
                                    date_field="CF_YXQ", remove=None)  # fmt: skip
        return drafts

    def _planted(self) -> list[_Draft]:
        """Bad records, one per rule to exercise; each recorded in faults()."""
        when = self._at(self.start + timedelta(days=45), 16)
        bad = []

        def plant(list_name: str, key: str, rule: str, record: dict, change_type: str = "add") -> None:
            bad.append(_Draft(list_name, when, change_type, key, record))
            self._faults.append(Fault(list_name, key, rule))

        r = self._debtor(9001, person=False)
        plant("dishonest_debtor", "", "required:case_code", {**r, "caseCode": None})
        r = self._debtor(9002, person=False)
        plant("dishonest_debtor", r["caseCode"], "date_format:reg_date", {**r, "regDate": "2025-02-30"})
        r = self._debtor(9003, person=False)
        plant("dishonest_debtor", r["caseCode"], "removal_requires_date", {**r, "status": "removed"}, "remove")
        r = self._serious(9004)
        plant("serious_dishonesty", r["记录编号"], "uscc_format:uscc", {**r, "统一社会信用代码": "91410800ABC"})
        r = self._serious(9005)
        plant("serious_dishonesty", r["记录编号"], "date_order:removal_before_listing",
              {**r, "移出日期": "2024-01-01", "移出事由": "信用修复", "移出文书号": "豫信用移〔2024〕1号"}, "remove")
        r = self._serious(9006)
        plant("serious_dishonesty", r["记录编号"], "removal_requires_document",
              {**r, "移出日期": (self.start + timedelta(days=44)).isoformat()}, "remove")
        return bad


# ---------------------------------------------------------------------------------------------------
# Files


def record_fields(changes: Sequence[Change]) -> list[str]:
    """The record keys of a list's changes, in first-seen order."""
    return list(dict.fromkeys(k for c in changes for k in c.record))


def render_file(changes: Sequence[Change], fmt: str) -> bytes:
    """One exchange file: JSON {"changes": [...]} or CSV (seq, changedAt, changeType, then record fields)."""
    if fmt == "json":
        return json.dumps({"changes": [c.to_json() for c in changes]}, ensure_ascii=False, indent=1).encode()
    if fmt != "csv":
        raise ValueError(f"unknown format {fmt!r}")
    buffer = io.StringIO()
    fields = record_fields(changes)
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["seq", "changedAt", "changeType", *fields])
    for c in changes:
        writer.writerow([c.seq, c.changed_at, c.change_type, *("" if c.record.get(f) is None else c.record[f] for f in fields)])
    return buffer.getvalue().encode("utf-8-sig")


def write_files(folder: Path, feed: CreditChinaFeed, fmt: str = "json") -> list[Path]:
    """Write the daily exchange files into folder; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in feed.daily_files(fmt).items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return paths


# ---------------------------------------------------------------------------------------------------
# HTTP


def encode_cursor(offset: int) -> str:
    """Opaque cursor for an offset into the (since-filtered, ordered) change list."""
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Inverse of encode_cursor (ValueError when not ours)."""
    text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    if not text.startswith("o:"):
        raise ValueError(cursor)
    return int(text[2:])


@dataclass
class CreditChinaServer:
    """The channel over HTTP on 127.0.0.1 (context manager); `base_url` once started."""

    feed: CreditChinaFeed
    app_key: str = "ggzy-hub"
    app_secret: str = "credit-china-standin-secret"
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[str] = field(default_factory=list)

    def __enter__(self) -> CreditChinaServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Bind and serve in a daemon thread."""
        self._server = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="credit-china", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port>"""
        return f"http://{self.host}:{self.port}"

    def authorised(self, headers: Any, path: str) -> bool:
        """Checks X-App-Key, X-Timestamp (within MAX_SKEW_SECONDS) and the HMAC X-Signature."""
        from connectors.credit_china import sign_request

        key, stamp, signature = headers.get("X-App-Key"), headers.get("X-Timestamp"), headers.get("X-Signature")
        if key != self.app_key or not stamp or not signature:
            return False
        try:
            if abs(time.time() - int(stamp)) > MAX_SKEW_SECONDS:
                return False
        except ValueError:
            return False
        return hmac.compare_digest(sign_request(self.app_key, self.app_secret, stamp, path), signature)

    def changes_page(self, list_name: str, query: dict[str, list[str]]) -> dict[str, Any]:
        """One page of a list's changes (raises ValueError for bad parameters, KeyError for unknown list)."""
        since = (query.get("since") or [None])[0] or None
        if since is not None and (len(since) != 14 or not since.isdigit()):
            raise ValueError("since must be yyyyMMddHHmmss")
        limit = int((query.get("limit") or ["500"])[0])
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be 1..{MAX_PAGE}")
        cursor = (query.get("cursor") or [None])[0]
        offset = decode_cursor(cursor) if cursor else 0
        changes = self.feed.visible(list_name, since)
        page = changes[offset : offset + limit]
        more = offset + limit < len(changes)
        return {
            "list": list_name,
            "changes": [c.to_json() for c in page],
            "next_cursor": encode_cursor(offset + limit) if more else None,
            "watermark": page[-1].changed_at if page else since,
        }


def _handler_for(server: CreditChinaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            return

        def _send(self, status: int, body: bytes, content_type: str = "application/json; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: Any) -> None:
            self._send(status, json.dumps(payload, ensure_ascii=False).encode())

        def _error(self, status: int, code: str, zh: str, en: str) -> None:
            self._json(status, {"error": code, "message": {"zh": zh, "en": en}})

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/healthz":  # liveness only, no data: the one path without a signature
                return self._json(200, {"status": "ok"})
            server.requests.append(self.path)
            if not server.authorised(self.headers, self.path):
                return self._error(401, "unauthorised", "应用密钥或签名无效", "invalid app key or signature")
            url = urlsplit(self.path)
            parts = [p for p in url.path.split("/") if p]
            query = parse_qs(url.query)
            try:
                if parts == ["api", "v1", "lists"]:
                    return self._json(200, {"lists": [{"list": k, "count": v} for k, v in server.feed.counts().items()]})
                if len(parts) == 5 and parts[:3] == ["api", "v1", "lists"] and parts[4] == "changes":
                    return self._json(200, server.changes_page(parts[3], query))
                if parts == ["files"]:
                    files = server.feed.daily_files((query.get("format") or ["json"])[0])
                    return self._json(200, {"files": [{"name": n, "size": len(b)} for n, b in files.items()]})
                if len(parts) == 2 and parts[0] == "files":
                    fmt = parts[1].rsplit(".", 1)[-1]
                    data = server.feed.daily_files(fmt).get(parts[1])
                    if data is None:
                        return self._error(404, "not_found", "文件不存在", "no such file")
                    return self._send(200, data, "application/octet-stream")
            except KeyError:
                return self._error(404, "unknown_list", "名单不存在", "unknown list")
            except ValueError as exc:
                return self._error(400, "bad_request", f"参数无效：{exc}", f"invalid parameter: {exc}")
            return self._error(404, "not_found", "路径不存在", "no such path")

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path == "/control/advance":
                clock = server.feed.advance(float(body.get("days", 1)))
                return self._json(200, {"clock": clock.strftime(STAMP)})
            return self._error(404, "not_found", "路径不存在", "no such path")

    return Handler


def serve(seed: int = 0, port: int = 0, overlap_usccs: Iterable[str] = ()) -> CreditChinaServer:
    """Start a stand-in server (for `ggzy standins` style use); the caller stops it."""
    server = CreditChinaServer(CreditChinaFeed(seed, overlap_usccs=list(overlap_usccs)), port=port)
    server.start()
    return server


def exchange_bidders(year: Any, limit: int = 20) -> list[str]:
    """Up to `limit` distinct bidder USCCs of an exchange-centre stand-in TradingYear (507 TENDER_LIST), in
    record order: pass them as `overlap_usccs` so the lists name real bidders and the cross-checks find some."""
    from ggzy.identifiers import uscc_check_digit_ok

    found: dict[str, None] = {}
    for record in year.records("507", ignore_clock=True):
        code = record.get("BIDDER_ORG_CODE")
        if code and uscc_check_digit_ok(code):
            found.setdefault(code)
            if len(found) >= limit:
                break
    return list(found)
