"""Department stand-in: realistic 双公示 penalty files as supervising departments send them, good and broken.

Supervising departments (住建局, 交通运输局, 水利局, 财政局 ...) penalise bidders, agencies, evaluation
experts and suppliers in public resource trading (串通投标, 弄虚作假, 违法分包 ...) under the Bidding Law,
its Implementing Regulations and the Government Procurement Law. Everything is generated from a seed:
the same seed gives the same bytes. Every file comes with its ground truth: for each source row, the
rule names (contracts.md) validation must report, so tests can check the pipeline row by row.

Identifiers are synthetic but well-formed: party USCCs by ggzy.identifiers.make_uscc, ID numbers with
their GB 11643 check character. Broken rows break exactly one rule each (see CASES).
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.penalties import FIELD_LABELS, PENALTY_FIELDS, decimal_text
from ggzy.identifiers import USCC_ALPHABET, id_number_check_char, make_uscc

# ---------------------------------------------------------------------------------------------------
# Departments


@dataclass(frozen=True)
class Department:
    """A supervising department that issues penalties and submits them (a member unit of the hub)."""

    code: str  # member-unit code, also the drop-folder name
    name: str  # 焦作市住房和城乡建设局
    uscc: str  # the department's own USCC (处罚机关 / 数据来源单位代码)
    doc_prefix: str  # 文号 prefix: 焦住建 -> 焦住建罚〔2025〕12号
    sector: str  # construction | transport | water | land | agriculture | procurement
    city: str = "焦作"  # short city name used in party and project names
    region_code: str = "410800"  # GB/T 2260 code of the jurisdiction


# Keyword in a department's name -> (文号 abbreviation, sector of the projects it supervises).
SECTOR_KEYWORDS: tuple[tuple[str, str, str], ...] = (
    ("住房和城乡建设", "住建", "construction"),
    ("住建", "住建", "construction"),
    ("交通运输", "交", "transport"),
    ("水利", "水", "water"),
    ("水务", "水", "water"),
    ("财政", "财", "procurement"),
    ("自然资源", "自然资源", "land"),
    ("农业农村", "农", "agriculture"),
    ("发展和改革", "发改", "construction"),
)

JIAOZUO_PLACES = (
    "解放区",
    "中站区",
    "马村区",
    "山阳区",
    "修武县",
    "博爱县",
    "武陟县",
    "温县",
    "沁阳市",
    "孟州市",
)
JIAOZUO_COUNTY_CODES = ("410802", "410803", "410804", "410811", "410821", "410822", "410823", "410825", "410882",
                        "410883")  # fmt: skip


def _department_uscc(region_code: str, code: str) -> str:
    """A valid 机关 USCC (prefix 11) for a stand-in department, stable for its code."""
    digits = "".join(str(ord(ch) % 10) for ch in code.upper())[:6].rjust(6, "0")
    return make_uscc("11", region_code, "00" + digits)


def department_for(
    code: str, name: str, uscc: str | None = None, *, city: str = "焦作", region_code: str = "410800"
) -> Department:
    """A Department from a unit's code and name: 文号 prefix and sector are read from the name."""
    abbreviation, sector = "罚", "construction"
    for keyword, short, kind in SECTOR_KEYWORDS:
        if keyword in name:
            abbreviation, sector = short, kind
            break
    return Department(
        code=code,
        name=name,
        uscc=uscc or _department_uscc(region_code, code),
        doc_prefix=city[:1] + abbreviation,
        sector=sector,
        city=city,
        region_code=region_code,
    )


def default_departments() -> tuple[Department, ...]:
    """The Jiaozuo supervising departments, used when no jurisdiction profile is at hand."""
    names = (
        ("JZ-ZJ", "焦作市住房和城乡建设局"),
        ("JZ-JT", "焦作市交通运输局"),
        ("JZ-SL", "焦作市水利局"),
        ("JZ-CZ", "焦作市财政局"),
        ("JZ-ZRZY", "焦作市自然资源和规划局"),
        ("JZ-NYNC", "焦作市农业农村局"),
    )
    return tuple(department_for(code, name) for code, name in names)


def departments_from_profile(profile: Any) -> tuple[Department, ...]:
    """The supervising departments of a jurisdiction profile (ggzy.jurisdictions.Profile) as Departments."""
    city = profile.name.removesuffix("市").removesuffix("省")[:2]
    return tuple(
        department_for(unit.code, unit.name, unit.uscc, city=city, region_code=profile.region_code)
        for unit in profile.units_by_role("supervising_department")
    )


def resolve_departments(units: Sequence[Department] | Sequence[str] | None = None) -> tuple[Department, ...]:
    """Departments to generate for: given ones; unit codes (matched to the profile, else the defaults);
    or, with nothing given, the supervising departments of the configured jurisdiction profile."""
    if units and all(isinstance(u, Department) for u in units):
        return tuple(units)  # type: ignore[arg-type]
    known: tuple[Department, ...]
    try:
        from ggzy.jurisdictions import load_profile  # lazy: profiles need settings

        known = departments_from_profile(load_profile()) or default_departments()
    except Exception:  # no profile available: the stand-in still works on its own defaults
        known = default_departments()
    if not units:
        return known
    by_code = {d.code: d for d in known}
    defaults = default_departments()
    return tuple(
        by_code.get(str(code)) or department_for(str(code), defaults[i % len(defaults)].name)
        for i, code in enumerate(units)
    )


# ---------------------------------------------------------------------------------------------------
# What departments penalise


@dataclass(frozen=True)
class Scenario:
    """One kind of violation, as it appears in real 双公示 records."""

    key: str
    party: str  # bidder | agency | expert (natural person) | supplier | tenderer
    sectors: frozenset[str]
    wfxw: str  # 违法行为类型
    facts: str  # 违法事实, formatted with the row's names
    basis: str  # 处罚依据
    categories: str  # 处罚类别
    fine_permille: tuple[int, int] | None = None  # fine as ‰ of the project amount (low, high)
    fine_range: tuple[int, int] | None = None  # fine in 元 (low, high)
    confiscation: bool = False  # 没收违法所得 as well


WORKS = frozenset({"construction", "transport", "water", "land", "agriculture"})
BIDDING_LAW = "《中华人民共和国招标投标法》"
REGULATIONS = "《中华人民共和国招标投标法实施条例》"

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "collusion", "bidder", WORKS, "串通投标（围标串标）",
        "经查，{party}在参与“{project}”（项目编号：{project_no}）投标过程中，与{other}的投标文件由同一单位编制，"
        "且投标保证金从同一单位的账户转出，依据{regs}第四十条，视为投标人相互串通投标。",
        f"{BIDDING_LAW}第五十三条、{REGULATIONS}第六十七条", "罚款", fine_permille=(5, 10),
    ),
    Scenario(
        "fraud", "bidder", WORKS, "弄虚作假骗取中标",
        "经查，{party}在“{project}”（项目编号：{project_no}）投标中，提供的拟派项目经理{person}的类似工程业绩证明"
        "系伪造，以弄虚作假方式骗取中标。",
        f"{BIDDING_LAW}第五十四条、{REGULATIONS}第六十八条", "罚款", fine_permille=(5, 10),
    ),
    Scenario(
        "borrowed_name", "bidder", WORKS, "以他人名义投标",
        "经查，{party}以{other}的名义参加“{project}”（项目编号：{project_no}）投标，拟派项目负责人与投标人无劳动合同"
        "及社会保险关系。",
        f"{BIDDING_LAW}第五十四条、{REGULATIONS}第六十八条", "罚款", fine_permille=(5, 10),
    ),
    Scenario(
        "illegal_subcontract", "bidder", WORKS, "违法分包",
        "经查，{party}作为“{project}”（项目编号：{project_no}）的中标人，将中标项目的主体结构施工分包给不具备相应"
        "资质条件的{other}，违法所得{gain_yuan}元。",
        f"{BIDDING_LAW}第五十八条、{REGULATIONS}第七十六条", "没收违法所得;罚款", fine_permille=(5, 10),
        confiscation=True,
    ),
    Scenario(
        "agency_leak", "agency", WORKS, "招标代理机构泄露应当保密的资料",
        "经查，{party}在代理“{project}”（项目编号：{project_no}）招标过程中，向部分潜在投标人泄露已获取招标文件的"
        "潜在投标人名称和数量。",
        f"{BIDDING_LAW}第五十条", "罚款", fine_range=(50_000, 250_000),
    ),
    Scenario(
        "expert_bribe", "expert", WORKS | {"procurement"}, "评标委员会成员收受投标人财物",
        "经查，{party}作为“{project}”（项目编号：{project_no}）评标委员会成员，收受投标人{other}给予的财物人民币"
        "{gain_yuan}元。",
        f"{BIDDING_LAW}第五十六条、{REGULATIONS}第七十二条", "警告;没收违法所得;罚款", fine_range=(3_000, 50_000),
        confiscation=True,
    ),
    Scenario(
        "tenderer_restrict", "tenderer", WORKS, "以不合理条件限制、排斥潜在投标人",
        "经查，{party}在“{project}”（项目编号：{project_no}）招标文件中设置与项目实际需要不相适应的特定地区业绩要求，"
        "以不合理的条件限制、排斥潜在投标人。",
        f"{BIDDING_LAW}第五十一条", "罚款", fine_range=(10_000, 50_000),
    ),
    Scenario(
        "procurement_false", "supplier", frozenset({"procurement"}), "提供虚假材料谋取中标、成交",
        "经查，{party}在“{project}”（采购编号：{project_no}）政府采购活动中，提供虚假的产品检测报告谋取成交。",
        "《中华人民共和国政府采购法》第七十七条第一款第（一）项", "罚款;其他", fine_permille=(5, 10),
    ),
    Scenario(
        "procurement_collusion", "supplier", frozenset({"procurement"}), "与其他供应商恶意串通",
        "经查，{party}在“{project}”（采购编号：{project_no}）政府采购活动中，与{other}的响应文件由同一单位编制，"
        "属于恶意串通。",
        "《中华人民共和国政府采购法》第七十七条第一款第（三）项", "罚款;其他", fine_permille=(5, 10),
    ),
)  # fmt: skip

PROJECTS: dict[str, tuple[str, ...]] = {
    "construction": ("{place}{n}号安置房建设项目施工", "{place}第{n}中学教学楼建设工程", "{place}老旧小区改造项目（{n}标段）",
                     "{place}污水处理厂提标改造工程", "{place}人民医院门诊综合楼建设项目"),
    "transport": ("{place}S{n}线改建工程施工第{m}标段", "{place}农村公路提质改造工程第{m}标段", "{place}城乡公交首末站建设工程"),
    "water": ("{place}河道综合治理工程第{m}标段", "{place}农村供水保障工程", "{place}灌区续建配套与节水改造项目"),
    "land": ("{place}土地整理项目（{n}期）", "{place}历史遗留矿山生态修复工程"),
    "agriculture": ("{place}{year}年高标准农田建设项目第{m}标段", "{place}农田水利设施提升工程"),
    "procurement": ("{place}第{n}中学多媒体教学设备采购项目", "{place}人民医院医疗设备采购项目", "{place}政务服务中心物业管理服务采购项目",
                    "{place}智慧城管平台建设采购项目"),
}  # fmt: skip
COMPANY_WORDS = ("宏远", "鑫达", "中豫", "恒通", "华晟", "泰和", "瑞丰", "广厦", "永安", "金诚", "博源", "正阳", "天宇", "盛世",
                 "润达", "汇通", "兴业", "诚信", "联创", "东方")  # fmt: skip
COMPANY_SUFFIXES: dict[str, tuple[str, ...]] = {
    "bidder:construction": (
        "建设工程有限公司",
        "建筑工程有限公司",
        "建设集团有限公司",
        "建筑安装工程有限公司",
    ),
    "bidder:transport": ("路桥工程有限公司", "公路工程有限公司", "交通建设有限公司"),
    "bidder:water": ("水利水电工程有限公司", "水利建筑工程有限公司"),
    "bidder:land": ("土地整理工程有限公司", "生态环境工程有限公司"),
    "bidder:agriculture": ("农业工程有限公司", "水利建筑工程有限公司"),
    "agency": ("招标代理有限公司", "工程咨询有限公司", "项目管理有限公司"),
    "tenderer": ("城市建设投资有限公司", "城乡发展投资有限公司"),
    "supplier": ("科技有限公司", "商贸有限公司", "医疗器械有限公司", "物业服务有限公司"),
}
SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
)
GIVEN = ("伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "秀英", "建国", "建华",
         "志强", "海燕", "红霞", "国庆", "晓东", "卫东", "振华", "春生", "文斌", "丽娟")  # fmt: skip
CHINESE_NUMERALS = "零一二三四五六七八九十"  # 千分之五 ... 千分之十
OTHER_REGIONS = (
    "410100",
    "410700",
    "410900",
    "410300",
    "140500",
)  # 郑州 新乡 濮阳 洛阳 晋城: bidders come from nearby

# ---------------------------------------------------------------------------------------------------
# Broken rows: each breaks one rule; the expected rule names follow contracts.md.

CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "bad_uscc_check_digit": (
        "统一社会信用代码校验位错误（警告，仍入库）",
        ("uscc_check_digit:cf_xdr_shxym",),
    ),
    "bad_uscc_format": ("统一社会信用代码格式错误", ("uscc_format:cf_xdr_shxym",)),
    "missing_decision_no": ("缺少行政处罚决定书文号", ("required:cf_wsh",)),
    "decision_after_validity": ("处罚决定日期晚于处罚有效期", ("date_order:decision_after_validity",)),
    "negative_amount": ("没收违法所得金额为负数", ("amount_negative:cf_nr_wfff",)),
    "unknown_category": ("处罚类别不在法定类别中", ("vocabulary:cf_cflb",)),
    "fine_without_amount": ("处罚类别含罚款但未填罚款金额", ("fine_requires_amount",)),
    "duplicate_decision_no": ("同一处罚机关两行文号相同、内容不同", ("decision_no_unique_per_authority",)),
    "exact_duplicate": ("与前面某行完全相同（由管道去重）", ()),
}
BROKEN_CASES: tuple[str, ...] = tuple(CASES)
LEGACY_CASES: tuple[str, ...] = ("missing_decision_no", "fine_without_amount", "exact_duplicate")
GBK_CASES: tuple[str, ...] = ("bad_uscc_check_digit", "missing_decision_no", "decision_after_validity")
WARNING_RULE_PREFIXES = ("uscc_check_digit:", "id_number_check_digit:")  # loaded with a flag (contracts.md)

# Template headers for Excel: the official template's labels (行政相对人代码_N notation for party codes).
TEMPLATE_HEADERS: dict[str, str] = {
    **{name: label for name, (label, _en) in FIELD_LABELS.items()},
    "cf_xdr_shxym": "行政相对人代码_1（统一社会信用代码）",
    "cf_xdr_gszc": "行政相对人代码_2（工商注册号）",
    "cf_xdr_zzjg": "行政相对人代码_3（组织机构代码）",
    "cf_xdr_swdj": "行政相对人代码_4（税务登记号）",
    "cf_xdr_sydw": "行政相对人代码_5（事业单位证书号）",
    "cf_xdr_shzz": "行政相对人代码_6（社会组织登记证号）",
}
LEGACY_CODES = ("CF_WSH", "CF_CFMC", "CF_CFLB1", "CF_CFLB2", "CF_SY", "CF_YJ", "CF_XDR_MC", "CF_XDR_SHXYM",
                "CF_XDR_ZDM", "CF_XDR_GSDJ", "CF_XDR_SWDJ", "CF_XDR_SFZ", "CF_FR", "CF_JG", "CF_JDRQ", "CF_XZJG",
                "CF_ZT", "DFBM", "SJC", "BZ")  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# Ground truth


@dataclass(frozen=True)
class ExpectedRow:
    """What validation must say about one source row of a generated file."""

    source_row: int
    case: str  # 'good', 'natural_person', 'individual_business' or a key of CASES
    rules: tuple[str, ...]  # every rule expected to fail (errors and warnings), sorted
    duplicate_of: int | None = None  # an exact copy of this earlier row: the pipeline drops it

    @property
    def outcome(self) -> str:
        """'duplicate', 'quarantined' (an error rule), 'warned' (warnings only) or 'loaded'."""
        if self.duplicate_of is not None:
            return "duplicate"
        if any(not r.startswith(WARNING_RULE_PREFIXES) for r in self.rules):
            return "quarantined"
        return "warned" if self.rules else "loaded"


@dataclass
class GeneratedFile:
    """One department file: its bytes and, for each source row, what validation must report."""

    filename: str
    data: bytes
    file_format: str  # xlsx | csv | json
    encoding: str | None  # utf-8 | gb18030 | None (xlsx)
    source_format: str  # current | legacy
    department: Department
    expected: dict[int, ExpectedRow]
    records: list[dict[str, str | None]] = field(repr=False, default_factory=list)  # canonical, in file order

    def expected_rules(self) -> dict[int, list[str]]:
        """source_row -> expected rule names, for rows that fail at least one rule."""
        return {row: list(e.rules) for row, e in self.expected.items() if e.rules}

    def count(self, outcome: str) -> int:
        """How many rows have this outcome ('loaded', 'warned', 'quarantined', 'duplicate')."""
        return sum(1 for e in self.expected.values() if e.outcome == outcome)

    @property
    def rows_in(self) -> int:
        """Data rows in the file (entirely empty rows are not rows)."""
        return len(self.expected)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description with the expected figures and per-row rules."""
        return {
            "unit": self.department.code,
            "filename": self.filename,
            "file_format": self.file_format,
            "encoding": self.encoding,
            "source_format": self.source_format,
            "rows_in": self.rows_in,
            "rows_loaded": self.count("loaded") + self.count("warned"),
            "rows_warned": self.count("warned"),
            "rows_quarantined": self.count("quarantined"),
            "rows_duplicate": self.count("duplicate"),
            "expected": {
                str(r): {"case": e.case, "rules": list(e.rules), "duplicate_of": e.duplicate_of}
                for r, e in sorted(self.expected.items())
            },
        }


# ---------------------------------------------------------------------------------------------------
# Row generation


@dataclass
class _Row:
    values: dict[str, str | None]
    case: str
    rules: tuple[str, ...] = ()
    copy_of: _Row | None = None


class _Generator:
    """Seeded source of realistic penalty records for one department."""

    def __init__(self, department: Department, seed: int | str, year: int) -> None:
        self.department = department
        self.rng = random.Random(f"departments:{seed}:{department.code}")
        self.year = year
        # Each file starts at its own hundred, so files of one department rarely share a 文号.
        self.sequence = self.rng.randint(1, 900) * 100
        self.places = JIAOZUO_PLACES if department.region_code == "410800" else (f"{department.city}市",)
        self.scenarios = [s for s in SCENARIOS if department.sector in s.sectors]

    # --- names and identifiers ---
    def person_name(self) -> str:
        """A plausible Chinese personal name."""
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)

    def id_number(self) -> str:
        """A well-formed citizen ID number (local county code, birth date, GB 11643 check character)."""
        region = (
            self.rng.choice(JIAOZUO_COUNTY_CODES)
            if self.department.region_code == "410800"
            else self.department.region_code[:4] + "02"
        )
        born = date(1960, 1, 1) + timedelta(days=self.rng.randrange(35 * 365))
        first17 = f"{region}{born:%Y%m%d}{self.rng.randrange(1000):03d}"
        return first17 + id_number_check_char(first17)

    def company(self, role: str) -> tuple[str, str]:
        """(name, USCC) of a company: registered here or in a neighbouring city."""
        suffixes = (
            COMPANY_SUFFIXES.get(f"{role}:{self.department.sector}")
            or COMPANY_SUFFIXES.get(role)
            or COMPANY_SUFFIXES["bidder:construction"]
        )
        name = (
            self.rng.choice((self.department.city, "河南", self.department.city))
            + self.rng.choice(COMPANY_WORDS)
            + self.rng.choice(suffixes)
        )
        region = self.department.region_code if self.rng.random() < 0.7 else self.rng.choice(OTHER_REGIONS)
        body = "MA" + "".join(self.rng.choice(USCC_ALPHABET) for _ in range(6))
        return name, make_uscc("91", region, body)

    def project(self) -> tuple[str, str]:
        """(name, number) of a project of the department's sector."""
        template = self.rng.choice(
            PROJECTS[self.department.sector if self.department.sector in PROJECTS else "construction"]
        )
        name = template.format(
            place=self.rng.choice(self.places),
            n=self.rng.randint(1, 30),
            m=self.rng.randint(1, 6),
            year=self.year,
        )
        letters = "".join(ch for ch in self.department.code if ch.isalpha())[:4].upper() or "GG"
        return name, f"{letters}{self.year}-{self.rng.randint(1, 999):03d}"

    def decision_no(self) -> str:
        """The department's next 文号, e.g. 焦住建罚〔2025〕13号."""
        self.sequence += 1
        return f"{self.department.doc_prefix}罚〔{self.year}〕{self.sequence}号"

    # --- records ---
    def record(self, *, party: str | None = None) -> dict[str, str | None]:
        """One valid penalty record (canonical field -> text)."""
        rng = self.rng
        scenarios = [s for s in self.scenarios if party is None or s.party == party] or self.scenarios
        scenario = rng.choice(scenarios)
        values: dict[str, str | None] = dict.fromkeys(PENALTY_FIELDS)
        project, project_no = self.project()
        other, _ = self.company("bidder" if scenario.party != "supplier" else "supplier")
        if scenario.party == "expert":
            name = self.person_name()
            values.update(
                cf_xdr_mc=name, cf_xdr_lb="自然人", cf_xdr_zjlx="身份证", cf_xdr_zjhm=self.id_number()
            )
        else:
            name, uscc = self.company(scenario.party)
            values.update(
                cf_xdr_mc=name, cf_xdr_lb="法人及非法人组织", cf_xdr_shxym=uscc, cf_frdb=self.person_name()
            )
            if rng.random() < 0.5:
                values.update(cf_fr_zjlx="身份证", cf_fr_zjhm=self.id_number())
        decided = date(self.year, 1, 2) + timedelta(days=rng.randrange(360))
        while decided.weekday() >= 5:
            decided -= timedelta(days=1)
        if scenario.fine_permille:
            contract_yuan = rng.randrange(3_000_000, 80_000_000, 10_000)
            permille = rng.randint(*scenario.fine_permille)
            fine_yuan = contract_yuan * permille // 1000 // 100 * 100
            content = f"处中标项目金额千分之{CHINESE_NUMERALS[permille]}的罚款，计人民币{fine_yuan}元"
        else:
            low, high = scenario.fine_range or (10_000, 50_000)
            fine_yuan = rng.randrange(low, high + 1, 100)
            content = f"罚款人民币{fine_yuan}元"
        gain_yuan = rng.randrange(20_000, 600_000, 100) if scenario.confiscation else 0
        if scenario.confiscation:
            content = f"没收违法所得人民币{gain_yuan}元，{content}"
        if scenario.party == "expert":
            content = "给予警告，" + content + "，取消担任评标委员会成员的资格"
        serious = scenario.key in ("collusion", "fraud", "borrowed_name", "procurement_collusion")
        validity = rng.choice(("long", "half_year", "year", "week"))
        valid_until = {
            "long": date(2099, 12, 31),
            "half_year": decided + timedelta(days=182),
            "year": decided + timedelta(days=365),
            "week": decided + timedelta(days=7),
        }[validity]
        values.update(
            cf_wsh=self.decision_no(),
            cf_wfxw=scenario.wfxw,
            cf_sy=scenario.facts.format(
                party=name,
                project=project,
                project_no=project_no,
                other=other,
                person=self.person_name(),
                gain_yuan=gain_yuan,
                regs=REGULATIONS,
            ),
            cf_yj=scenario.basis,
            cf_cflb=scenario.categories,
            cf_nr=content,
            cf_nr_fk=decimal_text(Decimal(fine_yuan) / 10000),
            cf_nr_wfff=decimal_text(Decimal(gain_yuan) / 10000) if scenario.confiscation else None,
            cf_jdrq=decided.isoformat(),
            cf_yxq=valid_until.isoformat(),
            cf_gsjzq=(decided + timedelta(days=3 * 365 if serious else 365)).isoformat(),
            cf_cfjg=self.department.name,
            cf_cfjgdm=self.department.uscc,
            cf_sjly=self.department.name,
            cf_sjlydm=self.department.uscc,
        )
        return values

    def individual_business(self) -> dict[str, str | None]:
        """A 个体工商户 without USCC: the placeholder code plus its business registration number."""
        values = self.record(party="supplier")
        name = (
            self.rng.choice(self.places)
            + self.person_name()
            + self.rng.choice(("建材经营部", "五金经营部", "办公用品店"))
        )
        old_name = values["cf_xdr_mc"] or ""
        values.update(
            cf_xdr_mc=name,
            cf_xdr_lb="个体工商户",
            cf_xdr_shxym="00000000000000000X",
            cf_xdr_gszc=f"{self.department.region_code[:4]}02600{self.rng.randrange(10**6):06d}",
            cf_sy=(values["cf_sy"] or "").replace(old_name, name),
        )
        return values

    # --- broken rows ---
    def broken(self, case: str) -> list[_Row]:
        """Rows that break exactly one rule (a pair for duplicate_decision_no)."""
        rules = CASES[case][1]
        organisation = next(s.party for s in self.scenarios if s.party != "expert")
        row = self.record(party=organisation if case in ("bad_uscc_check_digit", "bad_uscc_format") else None)
        if case == "bad_uscc_check_digit":
            code = row["cf_xdr_shxym"] or ""
            wrong = next(
                ch for ch in USCC_ALPHABET[self.rng.randrange(31) :] + USCC_ALPHABET if ch != code[17]
            )
            row["cf_xdr_shxym"] = code[:17] + wrong  # the code was valid, so any other character is wrong
        elif case == "bad_uscc_format":
            code = row["cf_xdr_shxym"] or ""
            row["cf_xdr_shxym"] = (
                code[:10] + "O" + code[11:17]
            )  # 17 characters, with a letter the alphabet lacks
        elif case == "missing_decision_no":
            row["cf_wsh"] = None
        elif case == "decision_after_validity":
            decided = date.fromisoformat(row["cf_jdrq"] or "")
            row["cf_yxq"] = (decided - timedelta(days=self.rng.randint(1, 30))).isoformat()
        elif case == "negative_amount":
            row = self.record()
            row["cf_cflb"] = "没收违法所得;罚款"
            row["cf_nr_wfff"] = "-" + decimal_text(Decimal(self.rng.randrange(10_000, 90_000, 100)) / 10000)
        elif case == "unknown_category":
            row["cf_cflb"] = (row["cf_cflb"] or "罚款") + ";取消投标资格"
        elif case == "fine_without_amount":
            row["cf_nr_fk"] = None
        elif case == "duplicate_decision_no":
            twin = self.record()
            twin["cf_wsh"] = row["cf_wsh"]
            return [_Row(row, case, rules), _Row(twin, case, rules)]
        elif case == "exact_duplicate":
            raise ValueError("exact_duplicate copies an existing good row; see _assemble")
        return [_Row(row, case, rules)]

    def legacy_fine_without_amount(self) -> _Row:
        """A legacy row whose 处罚结果 names a fine but no amount: the fine cannot be derived."""
        row = self.record(party="bidder")
        row["cf_nr"] = "处中标项目金额千分之五的罚款"
        row["cf_nr_fk"] = None
        return _Row(row, "fine_without_amount", CASES["fine_without_amount"][1])


def _assemble(gen: _Generator, good_rows: int, cases: Sequence[str], *, legacy: bool) -> list[_Row]:
    """Good rows with the broken cases spread among them, deterministically."""
    rows: list[_Row] = []
    for i in range(good_rows):
        if gen.department.sector == "procurement" and i == 2:
            rows.append(_Row(gen.individual_business(), "individual_business"))
        elif i % 6 == 4:
            rows.append(_Row(gen.record(party="expert"), "natural_person"))
        else:
            rows.append(_Row(gen.record(), "good"))
    for case in cases:
        if case == "exact_duplicate":
            continue
        broken = (
            [gen.legacy_fine_without_amount()]
            if legacy and case == "fine_without_amount"
            else gen.broken(case)
        )
        position = gen.rng.randint(1, len(rows))
        rows[position:position] = broken[:1]
        if len(broken) > 1:  # the twin goes further down
            later = gen.rng.randint(position + 1, len(rows))
            rows[later:later] = broken[1:]
    if "exact_duplicate" in cases:
        originals = [i for i, r in enumerate(rows) if r.case == "good"]
        source = rows[gen.rng.choice(originals[: max(1, len(originals) // 2)])]
        position = gen.rng.randint(rows.index(source) + 1, len(rows))
        rows.insert(position, _Row(dict(source.values), "exact_duplicate", (), copy_of=source))
    return rows


# ---------------------------------------------------------------------------------------------------
# Rendering


def _render_xlsx(rows: Sequence[_Row | None], department: Department) -> tuple[bytes, list[int]]:
    """An .xlsx from the template: a title row, Chinese headers, date and number cells; None = blank row."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "行政处罚"
    sheet.append([f"{department.name}行政处罚信息（双公示）"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(PENALTY_FIELDS))
    sheet.append([TEMPLATE_HEADERS[name] for name in PENALTY_FIELDS])
    numbers = []
    for row in rows:
        if row is None:
            sheet.append([None] * len(PENALTY_FIELDS))
            continue
        sheet.append([_xlsx_value(name, row.values[name]) for name in PENALTY_FIELDS])
        numbers.append(sheet.max_row)
    for column in ("A", "N", "P", "Q", "S"):
        sheet.column_dimensions[column].width = 30
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _stable_zip(buffer.getvalue()), numbers


def _xlsx_value(name: str, value: str | None) -> Any:
    if value is None:
        return None
    if name in ("cf_jdrq", "cf_yxq", "cf_gsjzq"):
        return datetime.fromisoformat(value)
    if name in ("cf_nr_fk", "cf_nr_wfff"):
        return float(value)
    return value


_ZIP_TIME = (2026, 1, 1, 0, 0, 0)


def _stable_zip(data: bytes) -> bytes:
    """Rewrite an OOXML package with fixed timestamps so the same seed gives the same bytes."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>2026-01-01T00:00:00Z", content
                )
            target.writestr(
                zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME), content, zipfile.ZIP_DEFLATED
            )
    return out.getvalue()


def _render_csv(rows: Sequence[_Row | None], *, headers: str, encoding: str) -> tuple[bytes, list[int]]:
    """A CSV: Chinese template headers or CF_ codes; dates in either style; None = an empty record."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([FIELD_LABELS[n][0] if headers == "zh" else n.upper() for n in PENALTY_FIELDS])
    numbers, line = [], 1
    for row in rows:
        line += 1
        if row is None:
            writer.writerow([""] * len(PENALTY_FIELDS))
            continue
        slash = zlib.crc32((row.values["cf_wsh"] or "").encode()) % 2 == 0  # same style for an exact copy
        writer.writerow([_csv_value(n, row.values[n], slash) for n in PENALTY_FIELDS])
        numbers.append(line)
    return buffer.getvalue().encode(encoding), numbers


def _csv_value(name: str, value: str | None, slash: bool) -> str:
    if value is None:
        return ""
    if slash and name in ("cf_jdrq", "cf_yxq", "cf_gsjzq"):
        return value.replace("-", "/")
    return value


def _render_json(rows: Sequence[_Row | None]) -> tuple[bytes, list[int]]:
    """JSON wrapped as {"data": [...]} with upper-case CF_ keys; amounts as JSON numbers, empty keys left out."""
    records = []
    for row in rows:
        if row is None:
            continue
        record: dict[str, Any] = {}
        for name in PENALTY_FIELDS:
            value = row.values[name]
            if value is None:
                continue
            record[name.upper()] = float(value) if name in ("cf_nr_fk", "cf_nr_wfff") else value
        records.append(record)
    body = {"total": len(records), "data": records}
    return json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8"), list(range(1, len(records) + 1))


def legacy_record(values: dict[str, str | None], department: Department) -> dict[str, str | None]:
    """A current-format record as an older system sends it in the legacy 20-field format."""
    categories = (values["cf_cflb"] or "").split(";")
    person = values["cf_xdr_lb"] == "自然人"
    uscc = values["cf_xdr_shxym"]
    fine = values["cf_nr_fk"]
    result = values["cf_nr"] or ""
    if fine is not None and "罚款" in categories:
        yuan = decimal_text(Decimal(fine) * 10000)
        result = f"罚款{yuan}元" + (
            "，没收违法所得" + decimal_text(Decimal(values["cf_nr_wfff"]) * 10000) + "元"
            if values["cf_nr_wfff"]
            else ""
        )
    return {
        "CF_WSH": values["cf_wsh"],
        "CF_CFMC": values["cf_wfxw"],
        "CF_CFLB1": categories[0] or None,
        "CF_CFLB2": ";".join(categories[1:]) or None,
        "CF_SY": values["cf_sy"],
        "CF_YJ": values["cf_yj"],
        "CF_XDR_MC": values["cf_xdr_mc"],
        "CF_XDR_SHXYM": uscc,
        "CF_XDR_ZDM": f"{uscc[8:16]}-{uscc[16]}" if uscc and len(uscc) == 18 and uscc[0] == "9" else None,
        "CF_XDR_GSDJ": values.get("cf_xdr_gszc"),  # 个体工商户 with the placeholder code need it
        "CF_XDR_SWDJ": None,
        "CF_XDR_SFZ": values["cf_xdr_zjhm"] if person else None,
        "CF_FR": values["cf_frdb"],
        "CF_JG": result,
        "CF_JDRQ": (values["cf_jdrq"] or "").replace("-", "/") or None,
        "CF_XZJG": values["cf_cfjg"],
        "CF_ZT": "正常",
        "DFBM": department.region_code,
        "SJC": f"{values['cf_jdrq']} 09:30:00" if values["cf_jdrq"] else None,
        "BZ": None,
    }


def _render_legacy_csv(
    rows: Sequence[_Row | None], department: Department, encoding: str
) -> tuple[bytes, list[int]]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(LEGACY_CODES)
    numbers, line = [], 1
    for row in rows:
        line += 1
        if row is None:
            writer.writerow([""] * len(LEGACY_CODES))
            continue
        record = legacy_record(row.values, department)
        writer.writerow(["" if record[c] is None else record[c] for c in LEGACY_CODES])
        numbers.append(line)
    return buffer.getvalue().encode(encoding), numbers


def _legacy_canonical(values: dict[str, str | None], department: Department) -> dict[str, str | None]:
    """The canonical record the connector must make of a legacy row (the oracle for tests)."""
    legacy = legacy_record(values, department)
    out: dict[str, str | None] = dict.fromkeys(PENALTY_FIELDS)
    out.update(
        cf_xdr_mc=values["cf_xdr_mc"],
        cf_xdr_lb=values["cf_xdr_lb"],
        cf_xdr_shxym=values["cf_xdr_shxym"],
        cf_xdr_zzjg=legacy["CF_XDR_ZDM"],
        cf_xdr_gszc=legacy["CF_XDR_GSDJ"],
        cf_frdb=values["cf_frdb"],
        cf_xdr_zjlx="身份证" if legacy["CF_XDR_SFZ"] else None,
        cf_xdr_zjhm=legacy["CF_XDR_SFZ"],
        cf_wsh=values["cf_wsh"],
        cf_wfxw=values["cf_wfxw"],
        cf_sy=values["cf_sy"],
        cf_yj=values["cf_yj"],
        cf_cflb=values["cf_cflb"],
        cf_nr=legacy["CF_JG"],
        cf_nr_fk=values["cf_nr_fk"],
        cf_jdrq=values["cf_jdrq"],
        cf_cfjg=values["cf_cfjg"],
    )
    return out


# ---------------------------------------------------------------------------------------------------
# Files


def make_file(
    file_format: str = "xlsx",
    *,
    department: Department | None = None,
    rows: int = 20,
    cases: Sequence[str] = (),
    seed: int | str = 0,
    year: int = 2025,
    encoding: str = "utf-8",
    headers: str = "zh",
    legacy: bool = False,
    blank_rows: bool = False,
) -> GeneratedFile:
    """A department file with `rows` good rows plus the given broken cases, and its ground truth.

    file_format: 'xlsx' (template with title row), 'csv' (headers 'zh' or 'codes', any encoding) or 'json'.
    legacy=True writes the legacy 20-field format as CSV. Decision dates fall in `year` (keep it in the
    past: a future decision date is an error). Legacy rows carry no authority code: the pipeline fills it
    from the submitting unit, so the ground truth assumes the file is submitted by `department`.
    """
    department = department or default_departments()[0]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        raise ValueError(f"unknown cases {unknown}; known: {list(CASES)}")
    gen = _Generator(
        department, f"{seed}:{file_format}:{encoding}:{headers}:{legacy}:{','.join(cases)}", year
    )
    assembled = _assemble(gen, rows, cases, legacy=legacy)
    laid_out: list[_Row | None] = list(assembled)
    if blank_rows and file_format != "json" and len(laid_out) > 3:
        laid_out.insert(gen.rng.randint(2, len(laid_out) - 1), None)
    if legacy:
        file_format = "csv"
        data, numbers = _render_legacy_csv(laid_out, department, encoding)
    elif file_format == "xlsx":
        data, numbers = _render_xlsx(laid_out, department)
    elif file_format == "csv":
        data, numbers = _render_csv(laid_out, headers=headers, encoding=encoding)
    elif file_format == "json":
        data, numbers = _render_json(laid_out)
    else:
        raise ValueError(f"unknown file format {file_format!r}")
    row_number = {id(row): number for row, number in zip(assembled, numbers, strict=True)}
    expected: dict[int, ExpectedRow] = {}
    for row in assembled:
        number = row_number[id(row)]
        expected[number] = ExpectedRow(
            source_row=number,
            case=row.case,
            rules=tuple(sorted(row.rules)),
            duplicate_of=row_number[id(row.copy_of)] if row.copy_of is not None else None,
        )
    kind = "legacy" if legacy else ("broken" if cases else "good")
    suffix = {"xlsx": "xlsx", "csv": "csv", "json": "json"}[file_format]
    enc = "" if file_format == "xlsx" or encoding == "utf-8" else f"-{encoding.replace('gb18030', 'gbk')}"
    filename = f"penalties-{department.code.lower()}-{year}-{kind}{enc}.{suffix}"
    records = [_legacy_canonical(r.values, department) if legacy else dict(r.values) for r in assembled]
    return GeneratedFile(
        filename=filename,
        data=data,
        file_format=file_format,
        encoding=None
        if file_format == "xlsx"
        else ("gb18030" if encoding.lower() in ("gbk", "gb18030", "gb2312") else encoding),
        source_format="legacy" if legacy else "current",
        department=department,
        expected=expected,
        records=records,
    )


def good_file(file_format: str = "xlsx", **options: Any) -> GeneratedFile:
    """A file in which every row is valid."""
    return make_file(file_format, cases=(), **options)


def broken_file(file_format: str = "xlsx", **options: Any) -> GeneratedFile:
    """Good rows mixed with one row per broken case (CASES), plus a blank row the connector skips."""
    options.setdefault("blank_rows", True)
    return make_file(file_format, cases=BROKEN_CASES, **options)


def gbk_csv_file(**options: Any) -> GeneratedFile:
    """A GBK-encoded CSV with Chinese headers, as departments export from Excel, with a few bad rows."""
    options.setdefault("cases", GBK_CASES)
    return make_file("csv", encoding="gb18030", headers="zh", **options)


def legacy_file(**options: Any) -> GeneratedFile:
    """A legacy 20-field CSV (CF_ codes) as older systems send it, with a few bad rows."""
    options.setdefault("cases", LEGACY_CASES)
    return make_file("csv", legacy=True, **options)


def demo_files(
    units: Sequence[Department] | Sequence[str] | None = None,
    *,
    seed: int | str = 0,
    rows: int = 20,
    year: int = 2025,
) -> list[GeneratedFile]:
    """The demo set: a broken workbook, a GBK CSV, a broken JSON, a legacy CSV, then good files, one per unit."""
    departments = resolve_departments(units)
    if not departments:
        raise ValueError("no departments to generate files for")
    plan = [
        lambda d, s: broken_file("xlsx", department=d, rows=rows, seed=s, year=year),
        lambda d, s: gbk_csv_file(department=d, rows=rows, seed=s, year=year),
        lambda d, s: broken_file("json", department=d, rows=rows, seed=s, year=year),
        lambda d, s: legacy_file(department=d, rows=rows, seed=s, year=year),
    ]
    files = [make(departments[i % len(departments)], f"{seed}:{i}") for i, make in enumerate(plan)]
    for i, department in enumerate(departments[len(plan) :]):
        files.append(
            good_file("xlsx" if i % 2 == 0 else "csv", department=department, rows=rows, seed=f"{seed}:g{i}", year=year)
        )
    return files


def write_demo_drop(
    drop: Path,
    units: Sequence[Department] | Sequence[str] | None = None,
    *,
    seed: int | str = 0,
    rows: int = 20,
    year: int = 2025,
) -> list[tuple[Path, GeneratedFile]]:
    """Write the demo set into a drop folder laid out as DROP/<unit code>/<file>; returns (path, file) pairs."""
    written = []
    for generated in demo_files(units, seed=seed, rows=rows, year=year):
        folder = Path(drop) / generated.department.code
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / generated.filename
        path.write_bytes(generated.data)
        written.append((path, generated))
    return written


# ---------------------------------------------------------------------------------------------------
# Benchmark file


def large_csv(path: Path, rows: int, seed: int | str = 0, *, year: int = 2025) -> Path:
    """Write a valid current-format CSV (UTF-8, CF_ code headers) of `rows` rows, streamed, for benchmarks.

    Rows are drawn from a seeded pool of realistic records; each gets its own 文号, so (authority, 文号)
    stays unique across the file.
    """
    departments = default_departments()
    pool: list[tuple[str, str]] = []
    marker = "@@WSH@@"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for index in range(min(rows, 4000) or 1):
        department = departments[index % len(departments)]
        gen = _Generator(department, f"large:{seed}:{index}", year)
        values = gen.record()
        prefix = f"{department.doc_prefix}罚〔{year}〕"
        values["cf_wsh"] = marker
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(["" if values[n] is None else values[n] for n in PENALTY_FIELDS])
        before, after = buffer.getvalue().split(marker)
        pool.append((before + prefix, "号" + after))
    path = Path(path)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(n.upper() for n in PENALTY_FIELDS) + "\n")
        chunk = 20_000
        for start in range(0, rows, chunk):
            out.write(
                "".join(
                    f"{pool[i % len(pool)][0]}{i + 1}{pool[i % len(pool)][1]}"
                    for i in range(start, min(rows, start + chunk))
                )
            )
    return path
