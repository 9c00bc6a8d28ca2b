"""A deterministic synthetic year of one city's public-resource trading, in the national data spec.

Layout of the generator (so any slice is reproducible and a year of 1,000,000 bids streams):
- a *skeleton* built once from the seed: projects -> tender projects -> sections, with hierarchical codes,
  dates (notice, bid opening), the number of bidders/experts per section, which sections belong to a
  collusion ring and which carry a planted data fault. It holds a few small objects per section
  (about 0.7 kB with its project and tender project: ~70 MB for the 97,000 sections of 1M bids), never bids;
- everything else is generated per section from RNGs seeded by (seed, section index, part), so section
  i's records are the same whichever other sections are generated, and in whatever order;
- `records(code)` merges the per-section records into (DATA_TIMESTAMP, natural key) order with a heap:
  units are visited in order of a lower bound of their timestamps, so the heap only ever holds the
  records of sections whose time windows overlap (a few days' worth), not the year.

The stand-in clock: `records`/`count` show only records with DATA_TIMESTAMP <= `clock` (None = the whole
year); `advance(days)` moves the clock so incremental pulls find new rows.
"""

from __future__ import annotations

import heapq
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from random import Random
from typing import Any

from ggzy.identifiers import USCC_ALPHABET, id_number_check_char, make_uscc, uscc_check_char

from . import vocab
from .spec import DATASETS

Record = dict[str, str | None]

DAY = 86_400
SECTION_CODES = ("502", "507", "508", "510", "512", "513", "519", "9010", "9011", "402", "404")
MECHANISMS = ("shared_fingerprint", "shared_deposit_account", "rotating_winner", "patterned_prices",
              "shared_project_manager")  # fmt: skip
FAULT_KINDS = ("bad_uscc_check_digit", "price_unit_wan", "section_code_not_prefixed", "result_before_opening",
               "contract_before_result", "late_parent_section", "late_parent_tender_project", "invalid_enum",
               "malformed_time", "bad_id_check_digit", "malformed_amount")  # fmt: skip
# Which vocab.TENDERER_KINDS (by position) tender which sector's projects.
TENDERER_KINDS_BY_SECTOR = {"construction": (0, 1, 2, 5, 6, 7, 8, 10, 11), "transport": (3, 13), "water": (4, 9),
                            "procurement": (0, 1, 2, 5, 6, 10, 11), "land": (12,)}  # fmt: skip
DOC_ABBREVIATIONS = {"construction": "建", "transport": "交", "water": "水", "procurement": "财", "land": "自然资源"}
FIRM_POOL_CAP = {"construction": 9000, "transport": 2500, "water": 2000, "procurement": 5000, "land": 1500}
MONTH_WEIGHTS = (6, 4, 9, 10, 10, 10, 9, 8, 9, 7, 9, 9)
OPEN_HOURS = ((9, 0), (9, 30), (10, 0), (14, 30), (15, 0))
RING_SECTORS = ("construction", "construction", "construction", "transport", "water", "procurement")


# Sub-streams of randomness: each part of a unit (a section's bids, its documents, its deposits ...) has its
# own RNG seeded by (seed, part, unit index), so a part is the same whichever other parts are generated.
PARTS = {name: n for n, name in enumerate(
    "section t502 bids docs margin experts result contract alerts complaints pname project tp black tenderer "
    "expert site".split() + [f"{kind}:{sector}" for kind in ("firm", "lead") for sector in vocab.SECTORS], start=1)}


def _money(value: float) -> str:
    return f"{value:.2f}"


def _ri(rng: Random, low: int, high: int) -> int:
    """rng.randint(low, high), several times faster (hot loops run per bid)."""
    return low + int(rng.random() * (high - low + 1))


def _rr(rng: Random, n: int) -> int:
    """rng.randrange(n), faster."""
    return int(rng.random() * n)


def _ch(rng: Random, seq: Any) -> Any:
    """rng.choice(seq), faster."""
    return seq[int(rng.random() * len(seq))]


@dataclass(slots=True)
class _Project:
    idx: int
    code: str
    sector: str
    county: tuple[str, str]
    t_create: int
    tps: list[int] = field(default_factory=list)


@dataclass(slots=True)
class _TenderProject:
    idx: int
    code: str
    project: int
    t_notice: int
    t_open: int
    tenderer: int
    agency: int
    mode: str
    late_parent: bool = False
    sections: list[int] = field(default_factory=list)


@dataclass(slots=True)
class _Section:
    idx: int
    code: str
    tp: int
    kind: str
    n_bidders: int
    n_experts: int
    margin: bool
    rate_bid: bool
    contract: bool
    n_alerts: int = 0
    n_complaints: int = 0
    ring: int = -1
    ring_pos: int = 0
    fault: str | None = None

    def failed(self, sector: str) -> bool:
        """流标: fewer than three bidders in a tender (land deals go ahead with one bidder)."""
        return sector != "land" and self.n_bidders < 3


@dataclass(slots=True)
class _Ring:
    idx: int
    sector: str
    members: list[int]
    sections: list[int]
    mechanisms: list[str]
    fingerprint: str  # same_machine | lock_serial | document_md5
    pattern: str  # arithmetic | geometric | tight | none


@dataclass(frozen=True, slots=True)
class Firm:
    """A market entity (bidder) with what its bid files and deposits reveal about it."""

    sector: str
    idx: int
    name: str
    uscc: str
    region: str
    managers: tuple[tuple[str, str], ...]  # (name, 注册建造师/项目负责人证书号)
    devices: tuple[tuple[str, str, str, str], ...]  # (CPU_ID, disk serial, memory serial, MAC)
    office_ip: str
    lock_serial: str
    bank: str
    account: str
    contact: str
    phone: str
    is_lost: bool
    lead_id: str  # ID number of managers[0], the project lead named in results (513 PROJECT_LEAD_ID)


@dataclass(slots=True)
class _Core:
    """A section's bidders, prices, evaluation and key times (shared by its datasets)."""

    section: _Section
    tp: _TenderProject
    project: _Project
    sector: str
    control: float
    bidders: list[Firm]
    codes: list[str]  # BIDDER_ORG_CODE as sent (a planted fault may corrupt one)
    prices: list[float | None]
    rates: list[float | None]
    ranking: list[int]  # bidder positions, best first (empty when failed)
    winner: int | None
    t_open: int
    t_list: int
    t_candidates: int
    t_result: int
    t_sign: int
    margin_amount: float


def _weighted_index(rng: Random, weights: tuple[int, ...]) -> int:
    pick = rng.random() * sum(weights)
    for i, w in enumerate(weights):
        pick -= w
        if pick < 0:
            return i
    return len(weights) - 1


class TradingYear:
    """A seeded year of one city's trading: `.records(code)`, `.count(code)`, `.ground_truth()`, `.faults()`.

    Example: `year = TradingYear(seed=7, sections=200); bids = list(year.records("507"))`.
    `mean_bidders` is the mean number of bidders in a works section (procurement about half of it,
    land 1-3); about 10.3 bids per section overall at the default, so `sections=97_000` ≈ 1,000,000 bids
    (`TradingYear.for_bids(1_000_000)` picks the number for you).
    """

    def __init__(
        self,
        seed: int = 0,
        sections: int = 2000,
        year: int = 2025,
        region_code: str = "410800",
        *,
        mean_bidders: float = 14.0,
        clock: str | None = None,
    ) -> None:
        if sections < 1:
            raise ValueError("sections must be >= 1")
        self.seed = seed
        self.n_sections = sections
        self.year = year
        self.region_code = region_code
        self.mean_bidders = mean_bidders
        self.start = datetime(year, 1, 1)
        city, counties = vocab.CITIES.get(region_code) or (
            "本", tuple((region_code[:4] + f"{i:02d}", f"第{i}区") for i in range(1, 6))
        )
        self.city = city
        self.counties = counties
        self.platform_code = make_uscc("12", region_code, "41" + region_code[2:4] + "0A01")
        self.pub_service_plat_code = make_uscc("12", region_code[:2] + "0000", "4100PB01")
        self.trade_plat = "T" + region_code + "0001"
        self.pub_service_plat = "P" + region_code[:2] + "00000001"
        self.clock: str | None = clock
        self._days: dict[int, str] = {}
        self._base_fields: Record = {"PLATFORM_CODE": self.platform_code, "PUB_SERVICE_PLAT_CODE": self.pub_service_plat_code}
        self._eng_fields: Record = {"TRADE_PLAT": self.trade_plat, "PUB_SERVICE_PLAT": self.pub_service_plat,
                                    **self._base_fields}  # fmt: skip
        self._build_skeleton()

    @classmethod
    def for_bids(cls, bids: int, seed: int = 0, **kwargs: Any) -> TradingYear:
        """A year sized for about `bids` bids (507 records) at the default bidder counts."""
        sections = max(1, round(bids / 10.3 * (14.0 / kwargs.get("mean_bidders", 14.0))))
        return cls(seed=seed, sections=sections, **kwargs)

    # --- clock ---------------------------------------------------------------------------------

    def advance(self, days: float) -> str | None:
        """Move the stand-in clock forward (no-op when everything is visible); returns the new clock."""
        if self.clock is not None:
            moved = datetime.strptime(self.clock, "%Y%m%d%H%M%S") + timedelta(days=days)
            self.clock = moved.strftime("%Y%m%d%H%M%S")
        return self.clock

    def set_clock(self, clock: str | None) -> None:
        """Set the clock ('yyyyMMddHHmmss'), or None to make the whole year visible."""
        if clock is not None:
            datetime.strptime(clock, "%Y%m%d%H%M%S")
        self.clock = clock

    def fmt(self, seconds: int) -> str:
        """'yyyyMMddHHmmss' for seconds since 1 January of the year."""
        day, rest = divmod(int(seconds), DAY)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{self.fmt_day(day)}{hours:02d}{minutes:02d}{secs:02d}"

    def fmt_date(self, seconds: int) -> str:
        """'yyyyMMdd' for seconds since 1 January of the year."""
        return self.fmt_day(int(seconds) // DAY)

    def fmt_day(self, day: int) -> str:
        """'yyyyMMdd' of day number `day` (0 = 1 January), cached."""
        text = self._days.get(day)
        if text is None:
            text = self._days[day] = (self.start + timedelta(days=day)).strftime("%Y%m%d")
        return text

    def _rng(self, part: str, idx: int) -> Random:
        """The RNG of one part of one unit: seeded by (seed, part, index) as an integer (cheap to seed)."""
        return Random(((self.seed & 0xFFFF_FFFF) << 48) | (PARTS[part] << 40) | idx)

    # --- skeleton ------------------------------------------------------------------------------

    def _workday(self, day: int) -> int:
        weekday = (self.start + timedelta(days=day)).weekday()
        return day + (7 - weekday if weekday >= 5 else 0)

    def _build_skeleton(self) -> None:
        rng = Random(f"{self.seed}:skeleton")
        sectors = list(vocab.SECTORS)
        shares = tuple(int(vocab.SECTORS[s][0] * 100) for s in sectors)
        self.projects: list[_Project] = []
        self.tender_projects: list[_TenderProject] = []
        self.sections: list[_Section] = []
        serial: dict[str, int] = {}
        while len(self.sections) < self.n_sections:
            sector = sectors[_weighted_index(rng, shares)]
            county = self.counties[_rr(rng, len(self.counties))]
            letter = vocab.SECTORS[sector][5]
            serial[letter] = serial.get(letter, 0) + 1
            month = _weighted_index(rng, MONTH_WEIGHTS)
            first_day = (datetime(self.year, month + 1, 1) - self.start).days
            notice_day = self._workday(first_day + _rr(rng, 28))
            pcode = f"{letter}{county[0]}{self.year}{serial[letter]:06d}"
            project = _Project(len(self.projects), pcode, sector, county,
                               notice_day * DAY - _ri(rng, 10, 120) * DAY + _ri(rng, 30_600, 63_000))  # fmt: skip
            self.projects.append(project)
            n_tp = 1 if sector == "land" else (1, 1, 1, 1, 1, 1, 1, 2, 2, 3)[_rr(rng, 10)]
            for t in range(n_tp):
                if len(self.sections) >= self.n_sections:
                    break
                day = self._workday(notice_day + t * _ri(rng, 0, 40))
                t_notice = day * DAY + _ri(rng, 30_600, 63_000)
                wait = _ri(rng, 20, 28) if sector != "land" else _ri(rng, 20, 30)
                hour, minute = OPEN_HOURS[_rr(rng, len(OPEN_HOURS))]
                t_open = self._workday(day + wait) * DAY + hour * 3600 + minute * 60
                tp = _TenderProject(len(self.tender_projects), f"{pcode}{t + 1:03d}", project.idx, t_notice, t_open,
                                    tenderer=self._pick_tenderer(rng, sector, county),
                                    agency=_rr(rng, self._pool_size("agency")),
                                    mode="1" if rng.random() < 0.93 else "2")  # fmt: skip
                project.tps.append(tp.idx)
                self.tender_projects.append(tp)
                n_sec = 1 if sector == "land" else max(1, min(8, int(rng.expovariate(0.9)) + 1))
                for s in range(min(n_sec, self.n_sections - len(self.sections))):
                    kind = vocab.SECTION_KINDS[sector][_rr(rng, len(vocab.SECTION_KINDS[sector]))]
                    n_bidders = self._draw_bidders(rng, sector)
                    section = _Section(
                        len(self.sections), f"{tp.code}{s + 1:03d}", tp.idx, kind, n_bidders,
                        n_experts=7 if rng.random() < 0.25 else 5,
                        margin=sector in ("land",) or rng.random() < (0.8 if sector != "procurement" else 0.45),
                        rate_bid=kind in ("监理", "设计") and rng.random() < 0.3,
                        contract=rng.random() < 0.96,
                    )  # fmt: skip
                    section.n_alerts = 1 if rng.random() < 0.01 else 0
                    section.n_complaints = (1 if rng.random() < 0.02 else 0) if sector != "land" else 0
                    tp.sections.append(section.idx)
                    self.sections.append(section)
        self.firm_pools = {s: self._pool_size(s) for s in vocab.SECTORS}
        self._plant_rings(Random(f"{self.seed}:rings"))
        self._ensure_every_dataset()
        self._plant_faults(Random(f"{self.seed}:faults"))
        self._plan_blacklist(Random(f"{self.seed}:blacklist"))
        self._order_cache: dict[str, list[tuple[int, int]]] = {}

    def _pick_tenderer(self, rng: Random, sector: str, county: tuple[str, str]) -> int:
        """A tenderer of the project's county whose kind fits the sector (a school builds, a 水利局 digs)."""
        n_counties, n_kinds = len(self.counties), len(vocab.TENDERER_KINDS)
        kind = _ch(rng, TENDERER_KINDS_BY_SECTOR[sector])
        repeat = _rr(rng, max(1, self._pool_size("tenderer") // (n_counties * n_kinds)))
        return self.counties.index(county) + n_counties * (kind + n_kinds * repeat)

    def _draw_bidders(self, rng: Random, sector: str) -> int:
        if sector == "land":
            return (1, 1, 1, 2, 2, 3)[_rr(rng, 6)]
        mean = self.mean_bidders if sector != "procurement" else max(3.0, self.mean_bidders * 0.45)
        n = int(rng.lognormvariate(math.log(mean) - 0.18, 0.6))
        return max(1, min(n, 150))

    def _pool_size(self, kind: str) -> int:
        n = self.n_sections
        if kind == "tenderer":
            return 30 + n // 25
        if kind == "agency":
            return 12 + n // 150
        if kind == "expert":
            return 150 + n // 8
        share = vocab.SECTORS[kind][0]
        bids = n * share * (self.mean_bidders if kind != "procurement" else max(3.0, self.mean_bidders * 0.45))
        # ~25 bids per firm a year; a market has only so many firms (and the firm cache holds them all).
        return max(400, min(int(bids / 25), FIRM_POOL_CAP[kind]))

    def _plant_rings(self, rng: Random) -> None:
        self.rings: list[_Ring] = []
        free_by_sector: dict[str, list[int]] = {}  # candidate sections per sector, shuffled once, taken from the end
        for s in self.sections:
            if not s.rate_bid:
                free_by_sector.setdefault(self.projects[self.tender_projects[s.tp].project].sector, []).append(s.idx)
        for free_list in free_by_sector.values():
            rng.shuffle(free_list)
        used_firms: set[tuple[str, int]] = set()
        for r in range(max(2, round(self.n_sections / 160))):
            sector = RING_SECTORS[r % len(RING_SECTORS)]
            free = free_by_sector.get(sector, [])
            if len(free) < 4:
                continue
            m = _ri(rng, 3, 5)
            members: list[int] = []
            while len(members) < m:
                f = _rr(rng, self.firm_pools[sector])
                if (sector, f) not in used_firms:
                    used_firms.add((sector, f))
                    members.append(f)
            k = min(len(free), _ri(rng, 4, 10))
            taken = [free.pop() for _ in range(k)]
            chosen = sorted(taken, key=lambda i: (self.tender_projects[self.sections[i].tp].t_open, i))
            mechanisms = sorted(rng.sample(MECHANISMS, _ri(rng, 2, 4)))
            if sector == "procurement":
                fingerprint = _ch(rng, ("same_machine", "document_md5"))
            else:
                fingerprint = _ch(rng, ("same_machine", "lock_serial", "document_md5"))
            pattern = _ch(rng, ("arithmetic", "geometric", "tight")) if "patterned_prices" in mechanisms else "none"
            ring = _Ring(len(self.rings), sector, members, chosen, mechanisms + ["cover_bids"], fingerprint, pattern)
            for pos, i in enumerate(chosen):
                section = self.sections[i]
                section.ring, section.ring_pos = ring.idx, pos
                section.n_bidders = m + _ri(rng, 0, 3)
                section.rate_bid = False
                section.contract = True
                section.margin = section.margin or "shared_deposit_account" in mechanisms
                if rng.random() < 0.35:
                    section.n_alerts = _ri(rng, 1, 2)
                if rng.random() < 0.15:
                    section.n_complaints = 1
            self.rings.append(ring)

    def _ensure_every_dataset(self) -> None:
        """Even a tiny year has at least one alert (402) and one complaint (404)."""
        tender = [s for s in self.sections
                  if self.projects[self.tender_projects[s.tp].project].sector != "land"]  # fmt: skip
        if tender and not any(s.n_alerts for s in self.sections):
            tender[-1].n_alerts = 1
        if tender and not any(s.n_complaints for s in self.sections):
            tender[0].n_complaints = 1
            tender[0].n_bidders = max(3, tender[0].n_bidders)

    def _plant_faults(self, rng: Random) -> None:
        needs_result = {"result_before_opening", "contract_before_result", "bad_id_check_digit"}
        needs_price = {"price_unit_wan", "malformed_amount"}
        n = max(2 * len(FAULT_KINDS), self.n_sections // 100)
        candidates = [s.idx for s in self.sections if s.ring < 0]
        rng.shuffle(candidates)
        late_tps: set[int] = set()
        for j, idx in enumerate(candidates[:n]):
            kind = FAULT_KINDS[j % len(FAULT_KINDS)]
            section = self.sections[idx]
            sector = self.projects[self.tender_projects[section.tp].project].sector
            if kind == "late_parent_tender_project" and section.tp in late_tps:
                continue
            section.fault = kind
            if kind in needs_result or kind in needs_price or kind in ("bad_uscc_check_digit", "invalid_enum",
                                                                         "malformed_time"):  # fmt: skip
                section.n_bidders = max(section.n_bidders, 4)
                section.rate_bid = False
                section.margin = True
                if sector == "land" and kind in ("bad_id_check_digit",):
                    section.fault = "late_parent_section"
            if kind == "contract_before_result":
                section.contract = True
            if kind == "late_parent_tender_project":
                self.tender_projects[section.tp].late_parent = True
                late_tps.add(section.tp)

    def _plan_blacklist(self, rng: Random) -> None:
        self.blacklist: list[tuple[str, int, int, int | None, int]] = []  # (sector, firm, t_record, t_withdraw, reason)
        caught = [ring for ring in self.rings if rng.random() < 0.4]
        for ring in caught:
            last = self.tender_projects[self.sections[ring.sections[-1]].tp].t_open
            t = last + _ri(rng, 20, 60) * DAY
            self.blacklist.append((ring.sector, ring.members[0], t, None, 0))
        for _ in range(max(3, self.n_sections // 200)):
            sector = _ch(rng, ("construction", "construction", "transport", "water", "procurement"))
            t = self._workday(_rr(rng, 350)) * DAY + _ri(rng, 30_600, 63_000)
            self.blacklist.append((sector, _rr(rng, self.firm_pools[sector]), t, None, _ri(rng, 1, 5)))
        for i, (sector, firm, t, _, reason) in enumerate(self.blacklist):
            if rng.random() < 0.35 or i == len(self.blacklist) - 1:  # at least one withdrawal (303) per year
                self.blacklist[i] = (sector, firm, t, t + _ri(rng, 90, 240) * DAY + _ri(rng, 0, 20_000), reason)

    # --- entities -------------------------------------------------------------------------------

    def _person(self, rng: Random) -> str:
        given = _ch(rng, vocab.GIVEN) + (_ch(rng, vocab.GIVEN) if rng.random() < 0.7 else "")
        return _ch(rng, vocab.SURNAMES) + given

    def _id_number(self, rng: Random, region: str, born_from: int = 1958, born_to: int = 1992) -> str:
        birth = datetime(_ri(rng, born_from, born_to), 1, 1) + timedelta(days=_rr(rng, 365))
        first17 = f"{region}{birth:%Y%m%d}{_rr(rng, 1000):03d}"
        return first17 + id_number_check_char(first17)

    def _phone(self, rng: Random) -> str:
        return _ch(rng, ("13", "15", "18", "17", "19", "16")) + str(_ri(rng, 0, 9)) + f"{_rr(rng, 10**8):08d}"

    @lru_cache(maxsize=20480)  # noqa: B019 (bounded: holds every firm of the capped pools, ~2 kB each)
    def firm(self, sector: str, idx: int) -> Firm:
        """The bidder `idx` of a sector's pool: name, valid USCC, managers, computers, bank account."""
        rng = self._rng("firm:" + sector, idx)
        sector_no = list(vocab.SECTORS).index(sector) + 1
        kinds = vocab.FIRM_KIND[sector]
        a, rest = idx % len(vocab.BRAND_A), idx // len(vocab.BRAND_A)
        b, rest = rest % len(vocab.BRAND_B), rest // len(vocab.BRAND_B)
        kind, rest = rest % len(kinds), rest // len(kinds)
        places = [(self.region_code, self.city + "市")] + [(c, n) for c, n in self.counties] + [
            (code, name + "市") for code, name in vocab.OTHER_REGIONS] + [("410000", "河南省"), ("410000", "河南")]
        place_code, place_name = places[1 + (rest - 1) % (len(places) - 1)] if rest else places[0]
        second = vocab.BRAND_B[b] if not vocab.BRAND_A[a].endswith(vocab.BRAND_B[b] or "-") else "鑫"  # no 万通通
        name = f"{place_name}{vocab.BRAND_A[a]}{second}{kinds[kind]}"
        if idx % 9 < 5:  # registered after 2015: organisation code body "MA" + 6 characters (injective in idx)
            mixed = (idx * 2_654_435 + self.seed * 97 + 7_654_321) % 31**5
            body = "MA" + USCC_ALPHABET[sector_no] + "".join(USCC_ALPHABET[(mixed // 31**p) % 31] for p in range(5))
        else:  # an older organisation code: 8 digits (injective in idx)
            body = str(sector_no) + f"{(idx * 3_344_921 + self.seed * 7_919 + 1_234_567) % 10**7:07d}"
        uscc = make_uscc("91", place_code, body)
        managers = tuple(
            (self._person(rng), f"豫{_ri(rng, 1, 2)}{_ri(rng, 41, 41)}{_rr(rng, 10**9):09d}")
            for _ in range(_ri(rng, 2, 5))
        )
        devices = tuple(
            (f"BFEBFBFF000{_ch(rng, ('906EA', '906ED', 'A0655', 'A0653', '90672', 'B0671'))}",
             _ch(rng, ("WD-WCC", "S4EW", "ZA4", "Z9A")) + f"{rng.getrandbits(36):09X}",
             f"{rng.getrandbits(32):08X}",
             f"{_ch(rng, vocab.MAC_OUIS)}-{rng.getrandbits(8):02X}-{rng.getrandbits(8):02X}-{rng.getrandbits(8):02X}")
            for _ in range(_ri(rng, 1, 3))
        )  # fmt: skip
        ip = f"{_ch(rng, vocab.IP_PREFIXES)}.{_rr(rng, 256)}.{_ri(rng, 2, 254)}"
        bank, prefix = _ch(rng, vocab.BANKS)
        return Firm(sector, idx, name, uscc, place_code, managers, devices, ip,
                    lock_serial=str(_ri(rng, 1_000_000_000, 4_294_967_295)), bank=bank + self.city + "分行",
                    account=prefix + f"{_rr(rng, 10**15):015d}", contact=self._person(rng), phone=self._phone(rng),
                    is_lost=rng.random() < 0.01,
                    lead_id=self._id_number(rng, place_code if place_code.startswith("41") and place_code[4:] != "00"
                                            else "410802"))  # fmt: skip

    @lru_cache(maxsize=4096)  # noqa: B019
    def tenderer(self, idx: int) -> tuple[str, str]:
        """(name, USCC) of tenderer `idx` (招标人: government units, schools, hospitals, state companies)."""
        rng = self._rng("tenderer", idx)
        county_code, place = self.counties[idx % len(self.counties)]
        pattern = vocab.TENDERER_KINDS[(idx // len(self.counties)) % len(vocab.TENDERER_KINDS)]
        name = pattern.format(place=place, city=self.city, town=_ch(rng, vocab.TOWNS), n=idx % 9 + 1)
        if idx >= len(self.counties) * len(vocab.TENDERER_KINDS):
            name = f"{name}（{idx // (len(self.counties) * len(vocab.TENDERER_KINDS)) + 1}）"
        prefix = "91" if "公司" in name else ("12" if any(w in name for w in ("医院", "中学")) else "11")
        body = f"{(idx * 7919 + self.seed) % 10**7:07d}"
        return name, make_uscc(prefix, county_code, ("5" if prefix == "11" else "4") + body)

    @lru_cache(maxsize=1024)  # noqa: B019
    def agency(self, idx: int) -> tuple[str, str]:
        """(name, USCC) of tender agency `idx` (招标代理机构)."""
        a = vocab.BRAND_A[(idx * 7 + 3) % len(vocab.BRAND_A)] + vocab.BRAND_B[idx // len(vocab.BRAND_A) % 16]
        name = vocab.AGENCY_NAMES[idx % len(vocab.AGENCY_NAMES)].format(a=a, city=self.city)
        return name, make_uscc("91", self.region_code, "MA6" + f"{(idx * 104_729 + self.seed) % 10**5:05d}")

    @lru_cache(maxsize=8192)  # noqa: B019
    def expert(self, idx: int) -> tuple[str, str, str]:
        """(name, 18-digit ID number with a valid check digit, EXPERT_TYPE) of evaluation expert `idx`."""
        rng = self._rng("expert", idx)
        region = _ch(rng, [c for c, _ in self.counties] + ["410102", "410105", "410702", "410311"])
        return self._person(rng), self._id_number(rng, region), "1" if rng.random() < 0.7 else "2"

    def supervisor(self, sector: str) -> tuple[str, str]:
        """(name, USCC) of the department supervising a sector's trading in the city."""
        dept, short = vocab.SECTORS[sector][7], vocab.SECTORS[sector][8]
        body = "".join(f"{ord(ch) % 10}" for ch in short).ljust(7, "0")[:7]
        return f"{self.city}市{dept}", make_uscc("11", self.region_code, "0" + body)

    def site_terminals(self) -> list[dict[str, str]]:
        """The trading centre's own upload terminals (开标现场): shared by unrelated bidders, to be excluded."""
        rng = self._rng("site", 0)
        ip = f"{vocab.IP_PREFIXES[0]}.{_rr(rng, 256)}.{_ri(rng, 2, 254)}"
        return [
            {"CPU_ID": "BFEBFBFF000906EA", "HARD_DISK_SERIAL_NUMBER": f"S4EW{rng.getrandbits(36):09X}",
             "MEMORY_SERIAL_NUMBER": f"{rng.getrandbits(32):08X}",
             "MAC_ADDRESS": f"00-E0-4C-{rng.getrandbits(8):02X}-{rng.getrandbits(8):02X}-{t:02X}", "NET_ID": ip}
            for t in range(4)
        ]  # fmt: skip

    # --- per-section generation -----------------------------------------------------------------

    def _sample_bidders(self, rng: Random, sector: str, n: int, exclude: set[int]) -> list[int]:
        pool = self.firm_pools[sector]
        chosen: list[int] = []
        seen = set(exclude)
        while len(chosen) < n:
            f = int(pool * rng.random() ** 1.6)
            if f not in seen:
                seen.add(f)
                chosen.append(f)
        return chosen

    @lru_cache(maxsize=64)  # noqa: B019
    def _core(self, idx: int) -> _Core:
        section = self.sections[idx]
        tp = self.tender_projects[section.tp]
        project = self.projects[tp.project]
        sector = project.sector
        rng = self._rng("section", idx)
        _, median, sigma, low, high = vocab.SECTORS[sector][:5]
        control = round(min(high, max(low, rng.lognormvariate(math.log(median), sigma))), 2)
        ring = self.rings[section.ring] if section.ring >= 0 else None
        if ring:
            outsiders = self._sample_bidders(rng, sector, section.n_bidders - len(ring.members), set(ring.members))
            positions = ring.members + outsiders
        else:
            positions = self._sample_bidders(rng, sector, section.n_bidders, set())
        bidders = [self.firm(sector, f) for f in positions]
        n = len(bidders)
        failed = section.failed(sector)
        prices: list[float | None] = [None] * n
        rates: list[float | None] = [None] * n
        winner: int | None = None
        ranking: list[int] = []
        if sector == "land":
            premiums = sorted((0.0 if n == 1 else rng.uniform(0, 0.35) for _ in range(n)), reverse=True)
            prices = [round(control * (1 + p), 2) for p in premiums]
            ranking = sorted(range(n), key=lambda i: -(prices[i] or 0))
        elif not failed and ring:
            prices = self._ring_prices(rng, ring, section, control, n)
            winner_pos = ring.members.index(self._ring_winner(ring, section.ring_pos))
            others = sorted((i for i in range(n) if i != winner_pos), key=lambda i: prices[i] or 0)
            ranking = [winner_pos] + others
        elif not failed:
            mu, sd = rng.uniform(0.03, 0.15), rng.uniform(0.008, 0.035)
            discounts = [min(0.45, max(0.0005, rng.gauss(mu, sd))) for _ in range(n)]
            if section.rate_bid:
                rates = [round(d * 100, 2) for d in discounts]
            else:
                prices = [round(control * (1 - d), 2) for d in discounts]
            low_bid = min(discounts, key=lambda d: -d)
            scores = [60 * (1 - low_bid) / (1 - d) + rng.gauss(30, 3) for d in discounts]
            ranking = sorted(range(n), key=lambda i: -scores[i])
        if ranking and not failed:
            winner = ranking[0]
        t_open = tp.t_open
        t_list = t_open + _ri(rng, 600, 3600)
        t_candidates = self._workday((t_open // DAY) + _ri(rng, 1, 3)) * DAY + _ri(rng, 32_400, 61_200)
        if sector == "land":
            t_result = t_open + _ri(rng, 3600, 2 * DAY)
            t_sign = self._workday(t_result // DAY + _ri(rng, 5, 10)) * DAY + _ri(rng, 32_400, 61_200)
        else:
            t_result = self._workday(t_candidates // DAY + 3 + _ri(rng, 0, 4)) * DAY + _ri(rng, 32_400, 61_200)
            t_sign = self._workday(t_result // DAY + _ri(rng, 5, 28)) * DAY + _ri(rng, 32_400, 61_200)
        margin_amount = float(min(800_000 if sector == "land" else 500_000, max(1000, round(control * 0.02, -3))))
        if sector == "land":
            margin_amount = float(round(control * 0.2, -4))
        codes = [b.uscc for b in bidders]
        return _Core(section, tp, project, sector, control, bidders, codes, prices, rates, ranking, winner, t_open,
                     t_list, t_candidates, t_result, t_sign, margin_amount)  # fmt: skip

    def _ring_winner(self, ring: _Ring, pos: int) -> int:
        if "rotating_winner" in ring.mechanisms:
            return ring.members[pos % len(ring.members)]
        return ring.members[0]

    def _ring_prices(self, rng: Random, ring: _Ring, section: _Section, control: float, n: int) -> list[float | None]:
        """Ring members' bids (winner lowest, covers above, maybe in a pattern) and outsiders above the winner."""
        m = len(ring.members)
        winner_pos = ring.members.index(self._ring_winner(ring, section.ring_pos))
        step = rng.uniform(0.004, 0.009)
        if ring.pattern == "arithmetic":
            top = control * (1 - rng.uniform(0.002, 0.01))
            gap = control * step
            ladder = [top - gap * (m - 1 - k) for k in range(m)]
        elif ring.pattern == "geometric":
            top = control * (1 - rng.uniform(0.002, 0.01))
            ladder = [top / (1 + step) ** (m - 1 - k) for k in range(m)]
        elif ring.pattern == "tight":
            target = control * (1 - rng.uniform(0.01, 0.03))
            ladder = sorted(target * (1 + rng.uniform(-0.002, 0.002)) for _ in range(m))
        else:
            win = control * (1 - rng.uniform(0.015, 0.05))
            ladder = [win] + sorted(rng.uniform(win * 1.006, control * 0.999) for _ in range(m - 1))
        order = [winner_pos] + [i for i in range(m) if i != winner_pos]
        covers = order[1:]
        rng.shuffle(covers)
        order = [winner_pos] + covers
        prices: list[float | None] = [None] * n
        for rank, pos in enumerate(order):
            prices[pos] = round(ladder[rank], 2)
        win_price = prices[winner_pos] or 0.0
        for pos in range(m, n):
            prices[pos] = round(rng.uniform(win_price * 1.004, control * 0.9995), 2)
        return prices

    def section_records(self, idx: int, codes: tuple[str, ...] | None = None) -> dict[str, list[Record]]:
        """All records of section `idx` (datasets 502, 507-519, 9010, 9011, 402, 404), reproducible alone."""
        return self._section_records(idx, codes)[0]

    def _base(self) -> Record:
        return self._base_fields

    def _eng(self) -> Record:
        return self._eng_fields

    def _section_records(
        self, idx: int, codes: tuple[str, ...] | None = None
    ) -> tuple[dict[str, list[Record]], list[dict[str, Any]]]:
        c = self._core(idx)
        want = set(codes or SECTION_CODES)
        out: dict[str, list[Record]] = {code: [] for code in SECTION_CODES if code in want}
        faults: list[dict[str, Any]] = []
        section, sector, fault = c.section, c.sector, c.section.fault
        code = self.section_code(idx)
        failed = section.failed(sector)
        wan = fault == "price_unit_wan"
        bad = self._bad_bidder(c) if fault == "bad_uscc_check_digit" else None
        codes_sent = list(c.codes)
        if bad is not None:
            good = codes_sent[bad]
            wrong = USCC_ALPHABET[(USCC_ALPHABET.index(uscc_check_char(good[:17])) + 7) % 31]
            codes_sent[bad] = good[:17] + wrong

        def amount(value: float | None) -> str | None:
            if value is None:
                return None
            return f"{value / 10_000:.6f}" if wan else _money(value)

        unit = "1" if wan else "0"
        eng = self._eng()
        if "502" in out:
            rng502 = self._rng("t502", idx)
            t502 = c.tp.t_notice - DAY - _ri(rng502, 0, DAY // 4)
            if fault == "late_parent_section":
                t502 = c.t_list + _ri(rng502, 1, 5) * DAY
                faults.append(self._fault("502", {"BID_SECTION_CODE": code}, "DATA_TIMESTAMP", "late_parent"))
            kind_name = {"施工": "施工", "监理": "施工监理", "设计": "勘察设计", "采购": "采购", "出让": "出让"}[section.kind]
            name = f"{self._project_name(c.project)}{kind_name}"
            if len(c.tp.sections) > 1:
                name += f"第{c.tp.sections.index(idx) + 1}标段" if sector != "procurement" else f"（第{c.tp.sections.index(idx) + 1}包）"
            out["502"].append({
                "TENDER_PROJECT_CODE": c.tp.code, "BID_SECTION_CODE": code, "BID_SECTION_NAME": name,
                "CONTRACT_RECKON_PRICE": amount(c.control), "PRICE_UNIT": unit, "CURRENCY_CODE": "156",
                "REGION_CODE": c.project.county[0], "CREATE_TIME": self.fmt(c.tp.t_notice - 2 * DAY),
                **eng, "DATA_TIMESTAMP": self.fmt(t502)})  # fmt: skip
            if wan:
                faults.append(self._fault("502", {"BID_SECTION_CODE": code}, "PRICE_UNIT", "price_unit_wan"))
            if fault == "section_code_not_prefixed":
                faults.append(self._fault("502", {"BID_SECTION_CODE": code}, "BID_SECTION_CODE",
                                          "section_code_not_prefixed"))  # fmt: skip
        docs = self._documents(c) if want & {"519", "9010"} else None
        margins = self._margins(c) if want & {"9011", "507"} and section.margin else None
        if "507" in out:
            rng = self._rng("bids", idx)
            ts = self.fmt(c.t_list)
            ring = self.rings[section.ring] if section.ring >= 0 else None
            shared_pm = ring is not None and "shared_project_manager" in ring.mechanisms
            for i, firm in enumerate(c.bidders):
                manager = firm.managers[_rr(rng, len(firm.managers))]
                if shared_pm and ring is not None and i < len(ring.members) and i <= 1 + section.ring_pos % 2:
                    manager = c.bidders[0].managers[0]
                price = None if failed else c.prices[i]
                other = None if failed or c.rates[i] is None else f"下浮率{c.rates[i]:.2f}%"
                record: Record = {
                    "TENDER_PROJECT_CODE": c.tp.code, "BID_SECTION_CODE": code, "BIDDER_NAME": firm.name,
                    "BIDDER_ORG_CODE": codes_sent[i], "BIDDER_CODE_TYPE": "97",
                    "BIDDER_ROLE": "1" if rng.random() < 0.95 or sector in ("land", "procurement") else "2",
                    "IS_LOST": "1" if firm.is_lost else "0", "BID_MANAGER": manager[0] if sector != "land" else None,
                    "PM_CODE": manager[1] if sector not in ("land", "procurement") else None,
                    "IS_COMMIT_MARGIN": "1" if margins else "0",
                    "MARGIN_PAY_FORM": margins[i]["MARGIN_PAY_FORM"] if margins else None,
                    "MARGIN_RECEIVE_TIME": margins[i]["MARGIN_RECEIVE_TIME"] if margins else None,
                    "BID_PRICE": amount(price), "PRICE_UNIT": unit,
                    "PRICE_FORM_CODE": "2" if section.rate_bid else "1", "OTHER_BID_PRICE": other,
                    **eng, "DATA_TIMESTAMP": ts}  # fmt: skip
                key = {"BID_SECTION_CODE": code, "BIDDER_ORG_CODE": codes_sent[i]}
                if wan:
                    faults.append(self._fault("507", key, "PRICE_UNIT", "price_unit_wan"))
                if i == bad:
                    faults.append(self._fault("507", key, "BIDDER_ORG_CODE", "bad_uscc_check_digit"))
                out["507"].append(record)
            self._corrupt_bids(c, out["507"], faults, rng)
        if docs is not None:
            for i, doc in enumerate(docs):
                if "519" in out:
                    out["519"].append({"BID_SECTION_CODE": code, "BIDDER_NAME": c.bidders[i].name,
                                       "BIDDER_ORG_CODE": codes_sent[i], **doc["519"], **eng})  # fmt: skip
                    if i == bad:
                        faults.append(self._fault("519", {"BID_SECTION_CODE": code, "BIDDER_ORG_CODE": codes_sent[i]},
                                                  "BIDDER_ORG_CODE", "bad_uscc_check_digit"))  # fmt: skip
                if "9010" in out:
                    out["9010"].append({"BID_SECTION_CODE": code, "BIDDER_ORG_CODE": codes_sent[i], **doc["9010"],
                                        **self._base()})  # fmt: skip
                    if i == bad:
                        faults.append(self._fault("9010", {"BID_SECTION_CODE": code, "BIDDER_ORG_CODE": codes_sent[i]},
                                                  "BIDDER_ORG_CODE", "bad_uscc_check_digit"))  # fmt: skip
        if margins is not None and "9011" in out:
            for i, margin in enumerate(margins):
                out["9011"].append({"BID_SECTION_CODE": code, "BIDDER_ORG_CODE": codes_sent[i], **margin,
                                    **self._base()})  # fmt: skip
                if i == bad:
                    faults.append(self._fault("9011", {"BID_SECTION_CODE": code, "BIDDER_ORG_CODE": codes_sent[i]},
                                              "BIDDER_ORG_CODE", "bad_uscc_check_digit"))  # fmt: skip
        if not failed and c.winner is not None:
            self._outcome_records(c, code, codes_sent, out, faults)
        if "402" in out and section.n_alerts:
            self._alerts(c, code, codes_sent, out["402"])
        if "404" in out and section.n_complaints and not failed:
            self._complaints(c, code, codes_sent, out["404"])
        return out, faults

    def _fault(self, dataset: str, key: dict[str, str], field_name: str, fault: str) -> dict[str, Any]:
        return {"dataset": dataset, "key": key, "field": field_name, "fault": fault}

    def _bad_bidder(self, c: _Core) -> int:
        """The bidder whose code gets a wrong check digit: the worst-ranked one (never a candidate)."""
        return c.ranking[-1] if c.ranking else len(c.bidders) - 1

    def _corrupt_bids(self, c: _Core, bids: list[Record], faults: list[dict[str, Any]], rng: Random) -> None:
        fault = c.section.fault
        if fault not in ("invalid_enum", "malformed_time", "malformed_amount"):
            return
        i = c.ranking[-1] if c.ranking else 0
        record = bids[i]
        key = {"BID_SECTION_CODE": record["BID_SECTION_CODE"] or "", "BIDDER_ORG_CODE": record["BIDDER_ORG_CODE"] or ""}
        if fault == "invalid_enum":
            field_name, value = _ch(rng, (("PRICE_FORM_CODE", "5"), ("IS_COMMIT_MARGIN", "是"), ("IS_LOST", "N")))
            record[field_name] = value
        elif fault == "malformed_time":
            field_name = "MARGIN_RECEIVE_TIME"
            raw = record[field_name] or self.fmt(c.t_open - DAY)
            record[field_name] = f"{raw[:4]}-{raw[4:6]}-{raw[6:8]} {raw[8:10]}:{raw[10:12]}:{raw[12:14]}"
        else:
            field_name = "BID_PRICE"
            value_text = record[field_name] or "0"
            record[field_name] = f"{float(value_text):,.2f}"
        faults.append(self._fault("507", key, field_name, fault))

    def _documents(self, c: _Core) -> list[dict[str, Record]] | None:
        """519 and 9010 per bidder: the computer, upload IP, document hash and 加密锁 serial of each bid file."""
        if c.sector == "land":
            return None
        rng = self._rng("docs", c.section.idx)
        ring = self.rings[c.section.ring] if c.section.ring >= 0 else None
        terminals = self.site_terminals()
        priced_bill = c.section.kind == "施工"
        tool_name, tool_version = vocab.MAKE_TOOLS[(c.section.idx // 97) % (2 if c.sector != "procurement" else 4)]
        soft, soft_version = vocab.VALUATION_SOFTWARE[_rr(rng, len(vocab.VALUATION_SOFTWARE))]
        base_ts = c.t_list + _ri(rng, 300, 1800)
        ts519, ts9010 = self.fmt(base_ts), self.fmt(base_ts + 120)
        sharing: set[int] = set()
        if ring is not None and "shared_fingerprint" in ring.mechanisms:
            k = max(2, len(ring.members) - (c.section.ring_pos % 2))
            sharing = set(range(k))
        leader = c.bidders[0]
        shared_md5 = f"{rng.getrandbits(128):032x}"
        shared_size = str(_ri(rng, 4_000_000, 90_000_000))
        docs = []
        for i, firm in enumerate(c.bidders):
            device = firm.devices[_rr(rng, len(firm.devices))]
            cpu, disk, memory, mac = device
            ip = firm.office_ip
            lock = firm.lock_serial
            md5, size = f"{rng.getrandbits(128):032x}", str(_ri(rng, 3_000_000, 120_000_000))
            at_site = ring is None and rng.random() < 0.04
            if at_site:
                t = terminals[_rr(rng, len(terminals))]
                cpu, disk, memory, mac, ip = (t["CPU_ID"], t["HARD_DISK_SERIAL_NUMBER"], t["MEMORY_SERIAL_NUMBER"],
                                              t["MAC_ADDRESS"], t["NET_ID"])  # fmt: skip
            if ring is not None and i in sharing:
                if ring.fingerprint == "same_machine":
                    cpu, disk, memory, mac = leader.devices[0]
                    ip = leader.office_ip
                elif ring.fingerprint == "lock_serial":
                    lock = leader.lock_serial
                else:
                    md5, size = shared_md5, shared_size
            submitted = self.fmt(c.t_open - _ri(rng, 3600, 3 * DAY))
            valuation = None
            if priced_bill:
                valuation = (f'<?xml version="1.0" encoding="UTF-8"?><VALUATION><SOFTWARE_NAME>{soft}</SOFTWARE_NAME>'
                             f"<SOFTWARE_VERSION>{soft_version}</SOFTWARE_VERSION><LOCK_SERIAL>{lock}</LOCK_SERIAL>"
                             f"<MACHINE_CODE>{cpu[-8:]}{disk[-6:]}</MACHINE_CODE></VALUATION>")  # fmt: skip
            make_tool = (f'<?xml version="1.0" encoding="UTF-8"?><MAKE_TOOL><TOOL_NAME>{tool_name}</TOOL_NAME>'
                         f"<TOOL_VERSION>{tool_version}</TOOL_VERSION><MAC>{mac}</MAC></MAKE_TOOL>")  # fmt: skip
            ext = ".HNTF" if c.sector != "procurement" else ".zcytf"
            device_fields = {"CPU_ID": cpu, "HARD_DISK_SERIAL_NUMBER": disk, "MEMORY_SERIAL_NUMBER": memory,
                             "NET_ID": ip, "MAC_ADDRESS": mac}  # fmt: skip
            docs.append({
                "519": {"BID_DOCUMENT_NAME": f"{firm.name}投标文件{ext}", "BID_DOCUMENT_SIDE": size,
                        "BID_DOCUMENT_MD5": md5, "TENDER_DOC_SUBMITTIME": submitted, **device_fields,
                        "VALUATION_XML": valuation, "MAKE_TOOL_XML": make_tool,
                        "DATA_TIMESTAMP": ts519},
                "9010": {"SUBMITTIME": submitted, **device_fields, "TOOL_VERSION": tool_version,
                         "DATA_TIMESTAMP": ts9010},
            })  # fmt: skip
        return docs

    def _margins(self, c: _Core) -> list[Record]:
        """9011 per bidder: how and from which account the deposit was paid."""
        rng = self._rng("margin", c.section.idx)
        ring = self.rings[c.section.ring] if c.section.ring >= 0 else None
        shared = ring is not None and "shared_deposit_account" in ring.mechanisms
        ts = self.fmt(c.t_open + _ri(rng, 60, 900))
        rows: list[Record] = []
        for i, firm in enumerate(c.bidders):
            form = "1" if c.sector == "land" else ("1", "1", "1", "2", "2", "3")[_rr(rng, 6)]
            bank, account = firm.bank, firm.account
            if shared and ring is not None and i < max(2, len(ring.members) - 1):
                form, bank, account = "1", c.bidders[0].bank, c.bidders[0].account
            elif form == "2":
                bank, account = _ch(rng, vocab.BANKS)[0] + self.city + "分行", None
            elif form == "3":
                bank, account = _ch(rng, ("中国人民财产保险", "中国平安财产保险", "太平洋财产保险")) + f"{self.city}中心支公司", None
            received = c.t_open - _ri(rng, 3600, 6 * DAY)
            rows.append({"MARGIN_PAY_FORM": form, "MARGIN_RECEIVE_TIME": self.fmt(received), "MARGIN_BANK": bank,
                         "MARGIN_ACCOUNT": account, "MARGIN_PAY": _money(c.margin_amount), "DATA_TIMESTAMP": ts})  # fmt: skip
        return rows

    def _outcome_records(
        self, c: _Core, code: str, codes_sent: list[str], out: dict[str, list[Record]], faults: list[dict[str, Any]]
    ) -> None:
        eng = self._eng()
        fault = c.section.fault
        winner = c.winner if c.winner is not None else 0
        firm = c.bidders[winner]

        def win_amount(i: int) -> float:
            if c.prices[i] is not None:
                return float(c.prices[i] or 0.0)
            return round(c.control * (1 - (c.rates[i] or 0.0) / 100), 2)

        if "508" in out and c.sector != "land":
            rng = self._rng("experts", c.section.idx)
            picked: list[int] = []
            while len(picked) < c.section.n_experts:
                e = _rr(rng, self._pool_size("expert"))
                if e not in picked:
                    picked.append(e)
            chair = _rr(rng, len(picked))
            for j, e in enumerate(picked):
                name, id_card, expert_type = self.expert(e)
                if fault == "bad_id_check_digit" and j == 0:
                    id_card = id_card[:17] + ("0" if id_card[17] != "0" else "1")
                    faults.append(self._fault("508", {"BID_SECTION_CODE": code, "ID_CARD": id_card}, "ID_CARD",
                                              "bad_id_check_digit"))  # fmt: skip
                out["508"].append({"BID_SECTION_CODE": code, "EXPERT_NAME": name, "ID_CARD": id_card,
                                   "ID_CARD_TYPE": "1", "EXPERT_TYPE": expert_type,
                                   "IS_CHAIR_MAN": "1" if j == chair else "0", **eng,
                                   "DATA_TIMESTAMP": self.fmt(c.t_open + 3600 + _ri(rng, 0, 4 * 3600))})  # fmt: skip
        if "510" in out and c.sector != "land":
            ts = self.fmt(c.t_candidates)
            for rank, i in enumerate(c.ranking[:3], start=1):
                out["510"].append({"BID_SECTION_CODE": code, "BIDDER_NAME": c.bidders[i].name,
                                   "BIDDER_CODE": codes_sent[i], "RANK": str(rank),
                                   "EVALUATION_PRICE": _money(c.prices[i]) if c.prices[i] is not None else None,
                                   "WIN_PRICE": _money(win_amount(i)), "PRICE_UNIT": "0", **eng,
                                   "DATA_TIMESTAMP": ts})  # fmt: skip
        t_result = c.t_result
        rng = self._rng("result", c.section.idx)
        if fault == "result_before_opening":
            t_notice_sent = c.t_open - _ri(rng, 1, 3) * DAY
        else:
            t_notice_sent = t_result
        lead, lead_id = firm.managers[0][0], firm.lead_id
        if "513" in out:
            sent = self.fmt(t_notice_sent)
            out["513"].append({"BID_SECTION_CODE": code, "WIN_BIDDER_NAME": firm.name,
                               "WIN_BIDDER_CODE": codes_sent[winner], "BID_AMOUNT": _money(win_amount(winner)),
                               "PRICE_UNIT": "0", "NOTICE_SEND_TIME": sent,
                               "PROJECT_LEAD": lead if c.sector != "land" else None,
                               "PROJECT_LEAD_ID": lead_id if c.sector != "land" else None, **eng,
                               "DATA_TIMESTAMP": self.fmt(t_result + _ri(rng, 60, 3600))})  # fmt: skip
            if fault == "result_before_opening":
                faults.append(self._fault("513", {"BID_SECTION_CODE": code}, "NOTICE_SEND_TIME",
                                          "result_before_opening"))  # fmt: skip
        if "512" in out and c.section.contract:
            rng = self._rng("contract", c.section.idx)
            sign = c.t_sign
            if fault == "contract_before_result":
                sign = max(c.t_open + 600, t_result - _ri(rng, 1, 3) * DAY)
            kind = {"施工": "施工合同", "监理": "监理服务合同", "设计": "勘察设计合同", "采购": "政府采购合同",
                    "出让": "国有建设用地使用权出让合同"}[c.section.kind]  # fmt: skip
            name = f"{self._project_name(c.project)}{kind}"
            if len(c.tp.sections) > 1:
                name += f"（{c.tp.sections.index(c.section.idx) + 1}）"
            price = win_amount(winner)
            finished = sign + _ri(rng, 60, 300) * DAY
            done = finished < 365 * DAY and rng.random() < 0.5
            tenderer = self.tenderer(c.tp.tenderer)
            out["512"].append({"BID_SECTION_CODE": code, "CONTRACT_NAME": name, "TENDERER_CODE": tenderer[1],
                               "BIDDER_NAME": firm.name, "BIDDER_CODE": codes_sent[winner],
                               "CONTRACT_PRICE": _money(price), "PRICE_UNIT": "0",
                               "CONTRACT_SIGN_TIME": self.fmt(sign),
                               "SETTLE_PRICE": _money(price * rng.uniform(0.97, 1.08)) if done else None,
                               "PERFORM_CHANGE_CONTENT": _ch(rng, (None, None, None, "设计变更增加工程量",
                                                                     "工期顺延30日历天")) if done else None,
                               "FINISH_TIME": self.fmt(finished) if done else None, **eng,
                               "DATA_TIMESTAMP": self.fmt(sign + _ri(rng, 1, 5) * DAY)})  # fmt: skip
            if fault == "contract_before_result":
                faults.append(self._fault("512", {"BID_SECTION_CODE": code, "CONTRACT_NAME": name},
                                          "CONTRACT_SIGN_TIME", "contract_before_result"))  # fmt: skip

    def _alerts(self, c: _Core, code: str, codes_sent: list[str], rows: list[Record]) -> None:
        rng = self._rng("alerts", c.section.idx)
        ring = self.rings[c.section.ring] if c.section.ring >= 0 else None
        supervisor = self.supervisor(c.sector)
        for j in range(c.section.n_alerts):
            i = j % len(c.bidders) if ring else _rr(rng, len(c.bidders))
            at = c.t_open + 1800 + j * 600 + _ri(rng, 0, 300)
            if ring is not None:
                other = c.bidders[(i + 1) % len(ring.members)].name
                info = _ch(rng, (f"投标人{c.bidders[i].name}与{other}的投标文件制作机器码一致",
                                   f"投标人{c.bidders[i].name}与{other}的投标报价呈规律性差异",
                                   f"投标人{c.bidders[i].name}与{other}的投标保证金从同一账户转出"))  # fmt: skip
                level = _ch(rng, ("2", "3"))
            else:
                info = _ch(rng, (f"投标人{c.bidders[i].name}的投标保证金到账时间晚于截止时间",
                                   f"投标人{c.bidders[i].name}拟派项目经理存在在建项目",
                                   f"投标人{c.bidders[i].name}被列入失信被执行人名单"))  # fmt: skip
                level = "1"
            handled = rng.random() < 0.7
            rows.append({"TENDER_PROJECT_CODE": c.tp.code, "BID_SECTION_CODE": code, "BODY_NAME": c.bidders[i].name,
                         "BODY_CODE": codes_sent[i], "SUPERVISOR_UNIT_NAME": supervisor[0],
                         "SUPERVISORY_NODE": _ch(rng, ("开标", "评标")), "ALERT_LEVEL": level,
                         "ALERT_DATE": self.fmt(at), "ALERT_INFO": info, "HANDLED": "1" if handled else "0",
                         "HANDLE_RESULT": _ch(rng, ("已约谈相关投标人，移交行政监督部门调查", "经核查属正常情况"))
                         if handled else None, **self._base(), "DATA_TIMESTAMP": self.fmt(at + _ri(rng, 5, 120))})  # fmt: skip

    def _complaints(self, c: _Core, code: str, codes_sent: list[str], rows: list[Record]) -> None:
        rng = self._rng("complaints", c.section.idx)
        supervisor = self.supervisor(c.sector)
        winner = c.winner if c.winner is not None else 0
        losers = [i for i in c.ranking if i != winner] or [winner]
        complainant = c.bidders[losers[_rr(rng, len(losers))]]
        day = self._workday(c.t_candidates // DAY + _ri(rng, 1, 8))
        accept = self._workday(day + _ri(rng, 0, 3))
        handle = self._workday(accept + _ri(rng, 10, 30))
        text = _ch(rng, vocab.COMPLAINT_TEXTS).format(target=c.bidders[winner].name, n=_ri(rng, 2, 6))
        person = rng.random() < 0.4
        rows.append({"TENDER_PROJECT_CODE": c.tp.code, "BID_SECTION_CODE": code,
                     "COMPLAINT_NAME": complainant.contact if person else complainant.name,
                     "COMPLAINT_PHONE": complainant.phone,
                     "COMPLAINT_MAIL": f"{_ri(rng, 10_000_000, 3_999_999_999)}@qq.com" if rng.random() < 0.6 else None,
                     "COMPLAINTED_BODY_NAME": c.bidders[winner].name, "COMPLAINTED_BODY_CODE": codes_sent[winner],
                     "COMPLAINT_CONTENT": text, "COMPLAINT_DATE": self.fmt_date(day * DAY),
                     "ACCEPT_DATE": self.fmt_date(accept * DAY),
                     "HANDLE_RESULT": _ch(rng, vocab.COMPLAINT_RESULTS), "HANDLE_DATE": self.fmt_date(handle * DAY),
                     "DEALING_UNIT": supervisor[0], **self._base(),
                     "DATA_TIMESTAMP": self.fmt(day * DAY + _ri(rng, 32_400, 61_200))})  # fmt: skip

    # --- project-level datasets ----------------------------------------------------------------

    def _project_name(self, project: _Project) -> str:
        return self._project_name_of(project.idx)

    @lru_cache(maxsize=4096)  # noqa: B019
    def _project_name_of(self, idx: int) -> str:
        project = self.projects[idx]
        rng = self._rng("pname", project.idx)
        pattern = _ch(rng, vocab.WORKS_OBJECTS[project.sector])
        name = pattern.format(place=project.county[1], n=_ri(rng, 1, 9), road=_ch(rng, vocab.ROADS),
                              road2=_ch(rng, vocab.ROADS), river=_ch(rng, vocab.RIVERS), year=self.year)  # fmt: skip
        return name if project.sector != "land" else name.replace("国有建设用地使用权", "") + "国有建设用地使用权"

    def section_code(self, idx: int) -> str:
        """BID_SECTION_CODE of section idx as sent (a planted fault may break the tender-project prefix)."""
        section = self.sections[idx]
        if section.fault == "section_code_not_prefixed":
            return section.code[:17] + "9" + section.code[18:]
        return section.code

    def _project_records(self, idx: int) -> list[Record]:
        project = self.projects[idx]
        rng = self._rng("project", idx)
        invest = f"{self.year - _ri(rng, 0, 2)}-{project.county[0]}-{_ch(rng, ('47', '48', '78', '70'))}-" \
                 f"{_ch(rng, ('01', '02', '03'))}-{_rr(rng, 10**6):06d}"  # fmt: skip
        tenderer = self.tenderer(self.tender_projects[project.tps[0]].tenderer)
        return [{"PROJECT_CODE": project.code, "PROJECT_NAME": self._project_name(project),
                 "REGION_CODE": project.county[0],
                 "INVEST_PROJECT_CODE": invest if project.sector not in ("procurement", "land") else None,
                 "LEGAL_PERSON": tenderer[0], "INDUSTRIES_TYPE": vocab.INDUSTRIES[project.sector],
                 "FUND_SOURCE": _ch(rng, vocab.FUND_SOURCES), "CREATE_TIME": self.fmt(project.t_create),
                 **self._eng(), "DATA_TIMESTAMP": self.fmt(project.t_create + _ri(rng, 600, 8 * 3600))}]  # fmt: skip

    def _tender_project_records(self, idx: int, code: str) -> tuple[list[Record], list[dict[str, Any]]]:
        tp = self.tender_projects[idx]
        project = self.projects[tp.project]
        rng = self._rng("tp", idx)
        faults: list[dict[str, Any]] = []
        if code == "501":
            ts = tp.t_notice - 2 * DAY + _ri(rng, 0, DAY // 4)
            if tp.late_parent:
                ts = tp.t_open + _ri(rng, 1, 3) * DAY
                faults.append(self._fault("501", {"TENDER_PROJECT_CODE": tp.code}, "DATA_TIMESTAMP", "late_parent"))
            tenderer, agency = self.tenderer(tp.tenderer), self.agency(tp.agency)
            supervisor = self.supervisor(project.sector)
            suffix = "" if len(project.tps) == 1 else f"（{project.tps.index(idx) + 1}）"
            return [{"PROJECT_CODE": project.code, "TENDER_PROJECT_CODE": tp.code,
                     "TENDER_PROJECT_NAME": self._project_name(project) + suffix,
                     "TENDER_PROJECT_TYPE": vocab.SECTORS[project.sector][6], "REGION_CODE": project.county[0],
                     "TENDERER_NAME": tenderer[0], "TENDERER_CODE": tenderer[1], "TENDER_AGENCY_NAME": agency[0],
                     "TENDER_AGENCY_CODE": agency[1], "TENDER_MODE": tp.mode, "SUPERVISE_DEPT_NAME": supervisor[0],
                     "SUPERVISE_DEPT_CODE": supervisor[1], "CREATE_TIME": self.fmt(tp.t_notice - 2 * DAY),
                     **self._eng(), "DATA_TIMESTAMP": self.fmt(ts)}], faults  # fmt: skip
        kind = {"land": "国有建设用地使用权挂牌出让公告", "procurement": "公开招标公告"}.get(project.sector, "招标公告")
        doc_start = self._workday(tp.t_notice // DAY + 1) * DAY + 9 * 3600
        doc_end = self._workday(tp.t_notice // DAY + 6) * DAY + 17 * 3600
        return [{"TENDER_PROJECT_CODE": tp.code, "BID_SECTION_CODES": ",".join(self.section_code(i) for i in tp.sections),
                 "NOTICE_NAME": f"{self._project_name(project)}{kind}", "NOTICE_SEND_TIME": self.fmt(tp.t_notice),
                 "DOC_GET_START_TIME": self.fmt(doc_start), "DOC_GET_END_TIME": self.fmt(doc_end),
                 "BID_DOC_REFER_END_TIME": self.fmt(tp.t_open), "BID_OPEN_TIME": self.fmt(tp.t_open),
                 "URL": f"http://ggzy.{self.region_code}.gov.cn/jyxx/{tp.code}.html", **self._eng(),
                 "DATA_TIMESTAMP": self.fmt(tp.t_notice + _ri(rng, 60, 900))}], faults  # fmt: skip

    def _blacklist_records(self, j: int, code: str) -> list[Record]:
        sector, firm_idx, t_record, t_withdraw, reason = self.blacklist[j]
        firm = self.firm(sector, firm_idx)
        rng = self._rng("black", j)
        black_code = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        supervisor = self.supervisor(sector)
        short = self.city[:1] + DOC_ABBREVIATIONS[sector]
        if code == "302":
            return [{"BLACKLIST_CODE": black_code, "BODY_NAME": firm.name, "BODY_CODE": firm.uscc, "BODY_TYPE": "1",
                     "RECORD_REASON": vocab.BLACKLIST_REASONS[reason], "RECORD_DATE": self.fmt_date(t_record),
                     "GOVERNMENT": supervisor[0],
                     "DOCUMENT_CODE": f"{short}罚〔{self.year}〕{_ri(rng, 1, 180)}号", "REVOCATION_STATUS": "0",
                     "CONFINED_ACTION": f"自{self.fmt_date(t_record)}起{_ch(rng, ('六个月', '一年', '二年'))}内禁止参加"
                                        f"{self.city}市依法必须进行招标的项目投标",
                     **self._base(), "DATA_TIMESTAMP": self.fmt(t_record + _ri(rng, 600, 7200))}]  # fmt: skip
        if t_withdraw is None:
            return []
        return [{"BLACKLIST_CODE": black_code, "BODY_CODE": firm.uscc,
                 "REVOCATIONEASONS": _ch(rng, ("限制期满，申请移出", "已完成信用修复", "行政复议撤销原处理决定")),
                 "GOVERNMENT": supervisor[0], "DOCUMENT_CODE": f"{short}信修〔{self.year}〕{_ri(rng, 1, 90)}号",
                 "APPLICATION_DATE": self.fmt_date(t_withdraw), **self._base(),
                 "DATA_TIMESTAMP": self.fmt(t_withdraw + _ri(rng, 600, 7200))}]  # fmt: skip

    # --- ordering, counting, streaming --------------------------------------------------------------

    def _order(self, code: str) -> list[tuple[int, int]]:
        """(lower bound of DATA_TIMESTAMP, unit index) for a dataset's units, sorted (shared by datasets alike)."""
        shared = "open" if code in SECTION_CODES and code != "502" else code
        if shared not in self._order_cache:
            if code == "500":
                order = [(p.t_create, p.idx) for p in self.projects]
            elif code in ("501", "503"):
                order = [(tp.t_notice - 3 * DAY if code == "501" else tp.t_notice, tp.idx) for tp in self.tender_projects]
            elif code in ("302", "303"):
                order = [(b[2] if code == "302" else (b[3] if b[3] is not None else b[2]), j)
                         for j, b in enumerate(self.blacklist)]  # fmt: skip
            elif code == "502":
                order = [(self.tender_projects[s.tp].t_notice - 3 * DAY, s.idx) for s in self.sections]
            else:
                order = [(self.tender_projects[s.tp].t_open, s.idx) for s in self.sections]
            order.sort()
            self._order_cache[shared] = order
        return self._order_cache[shared]

    def _unit_records(self, code: str, unit: int) -> list[Record]:
        if code == "500":
            return self._project_records(unit)
        if code in ("501", "503"):
            return self._tender_project_records(unit, code)[0]
        if code in ("302", "303"):
            return self._blacklist_records(unit, code)
        return self._section_records(unit, (code,))[0][code]

    def records(self, code: str, *, ignore_clock: bool = False) -> Iterator[Record]:
        """A dataset's records with DATA_TIMESTAMP <= clock, in (DATA_TIMESTAMP, natural key) order, streamed."""
        spec = DATASETS[code]
        limit = None if ignore_clock else self.clock
        heap: list[tuple[str, tuple[str, ...], int, Record]] = []
        seq = 0
        for base, unit in self._order(code):
            base_text = self.fmt(base)
            while heap and heap[0][0] < base_text:
                record = heapq.heappop(heap)[3]
                if limit is not None and (record["DATA_TIMESTAMP"] or "") > limit:
                    return
                yield record
            for record in self._unit_records(code, unit):
                seq += 1
                heapq.heappush(heap, (record["DATA_TIMESTAMP"] or "", spec.key_of(record), seq, record))
        while heap:
            record = heapq.heappop(heap)[3]
            if limit is not None and (record["DATA_TIMESTAMP"] or "") > limit:
                return
            yield record

    def count(self, code: str) -> int:
        """How many records of a dataset are visible (exact; computed from the skeleton when the clock is off)."""
        if self.clock is not None:
            return sum(1 for _ in self.records(code))
        return self.total(code)

    def total(self, code: str) -> int:
        """How many records the dataset has in the whole year, from the skeleton (no generation)."""
        if code == "500":
            return len(self.projects)
        if code in ("501", "503"):
            return len(self.tender_projects)
        if code == "302":
            return len(self.blacklist)
        if code == "303":
            return sum(1 for b in self.blacklist if b[3] is not None)
        total = 0
        for s in self.sections:
            sector = self.projects[self.tender_projects[s.tp].project].sector
            ok = not s.failed(sector)
            total += {
                "502": 1,
                "507": s.n_bidders,
                "519": s.n_bidders if sector != "land" else 0,
                "9010": s.n_bidders if sector != "land" else 0,
                "9011": s.n_bidders if s.margin else 0,
                "508": s.n_experts if ok and sector != "land" else 0,
                "510": min(3, s.n_bidders) if ok and sector != "land" else 0,
                "513": 1 if ok else 0,
                "512": 1 if ok and s.contract else 0,
                "402": s.n_alerts,
                "404": s.n_complaints if ok else 0,
            }[code]
        return total

    def iter_sections(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, dict[str, list[Record]]]]:
        """(index, records by dataset) for sections start..stop, in index order (one pass, all section datasets)."""
        for idx in range(start, len(self.sections) if stop is None else min(stop, len(self.sections))):
            yield idx, self._section_records(idx)[0]

    def all_records(self) -> Iterator[tuple[str, Record]]:
        """Every record of every dataset, unordered, in one pass over the year (for bulk loads and indexes)."""
        for code in ("500",):
            for p in self.projects:
                for r in self._project_records(p.idx):
                    yield code, r
        for tp in self.tender_projects:
            for code in ("501", "503"):
                for r in self._tender_project_records(tp.idx, code)[0]:
                    yield code, r
        for j in range(len(self.blacklist)):
            for code in ("302", "303"):
                for r in self._blacklist_records(j, code):
                    yield code, r
        for _, by_code in self.iter_sections():
            for code, rows in by_code.items():
                for r in rows:
                    yield code, r

    # --- truth -------------------------------------------------------------------------------------

    def ground_truth(self) -> list[dict[str, Any]]:
        """The planted collusion rings: members (USCC), sections, mechanisms and how each shows."""
        truth = []
        for ring in self.rings:
            winners = [self.firm(ring.sector, self._ring_winner(ring, pos)).uscc for pos in range(len(ring.sections))]
            fields = {"same_machine": ["CPU_ID", "HARD_DISK_SERIAL_NUMBER", "MEMORY_SERIAL_NUMBER", "MAC_ADDRESS",
                                       "NET_ID"],
                      "lock_serial": ["VALUATION_XML.LOCK_SERIAL"], "document_md5": ["BID_DOCUMENT_MD5"]}  # fmt: skip
            truth.append({
                "ring_id": f"R{ring.idx + 1:03d}", "sector": ring.sector,
                "members": [self.firm(ring.sector, f).uscc for f in ring.members],
                "member_names": [self.firm(ring.sector, f).name for f in ring.members],
                "sections": [self.section_code(i) for i in ring.sections],
                "mechanisms": list(ring.mechanisms), "winners": winners,
                "fingerprint_fields": fields[ring.fingerprint] if "shared_fingerprint" in ring.mechanisms else [],
                "price_pattern": ring.pattern,
                "blacklisted": any(b[0] == ring.sector and b[1] == ring.members[0] and b[4] == 0
                                   for b in self.blacklist),
            })  # fmt: skip
        return truth

    def faults(self) -> list[dict[str, Any]]:
        """The planted data faults: {"dataset", "key" (natural key field -> value), "field", "fault"}."""
        found: list[dict[str, Any]] = []
        for tp in self.tender_projects:
            if tp.late_parent:
                found.extend(self._tender_project_records(tp.idx, "501")[1])
        for s in self.sections:
            if s.fault and s.fault != "late_parent_tender_project":
                found.extend(self._section_records(s.idx)[1])
        return found
