"""Jurisdiction profiles: one YAML per notice (lead agency, member units, working-day deadlines).

`GGZY_JURISDICTION` picks a bundled profile by key (jiaozuo, haikou, anyang, hegang, yunnan) or names an
operator's own YAML file (a path ending in .yaml/.yml). Every profile is validated when loaded; a broken
file raises HubError('invalid_profile') naming the file and the field.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from ggzy.errors import HubError
from ggzy.identifiers import uscc_check_digit_ok
from ggzy.settings import get_settings

PROFILE_DIR = Path(__file__).resolve().parent

ROLES = frozenset(
    {
        "lead_agency",  # 牵头部门 (发改委 / 公管办)
        "supervising_department",  # 行政监督部门
        "discipline",  # 纪检监察机关
        "audit",  # 审计机关
        "police",  # 公安机关
        "credit_platform",  # 信用信息共享平台 / 信用中国 city site
        "trading_centre",  # 公共资源交易中心
        "other",
    }
)
DELIVERY_MODES = frozenset({"push", "pull"})  # push: signed webhook; pull: cursor feed only
MEETING_CADENCES = frozenset({"half_yearly", "yearly", "not_fixed"})
DEADLINE_KEYS = {
    "inspection_results_public": ("抽查检查结果公示", "publication of random-inspection results"),
    "liaison_change_report": ("联络员变动报送", "report of a change of liaison officer"),
    "complaint_transfer": ("投诉转办", "transfer of a complaint to the competent department"),
    "remote_evaluation_copy": (
        "远程异地评标处理结果抄送",
        "copy of remote-evaluation findings to the host site",
    ),
    "penalty_acknowledgement": ("行政处罚决定签收", "acknowledgement (签收) of a penalty decision"),
}
REQUIRED_DEADLINES = ("penalty_acknowledgement",)  # delivery computes ack_due from it
UNIT_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")  # also a drop-folder name: ASCII, no slashes
REGION_CODE_RE = re.compile(r"^\d{6}$")
PROFILE_FIELDS = frozenset(
    {
        "key", "name", "name_en", "region_code", "notice", "lead_agency", "units", "deadlines", "meeting_cadence",
    }
)  # fmt: skip
NOTICE_FIELDS = frozenset({"doc_no", "title", "issuer", "date"})
UNIT_FIELDS = frozenset({"code", "name", "name_en", "role", "uscc", "delivery"})


@dataclass(frozen=True)
class MemberUnit:
    """A member unit (成员单位) that receives every penalty decision and may submit its own."""

    code: str
    name: str
    role: str
    uscc: str
    delivery: str  # 'push' (signed webhook to its endpoint) | 'pull' (reads the cursor feed)
    name_en: str = ""


@dataclass(frozen=True)
class Profile:
    """One jurisdiction's collaborative-supervision set-up as its notice defines it."""

    key: str
    name: str
    region_code: str
    notice: str  # 文号 (or title) and date as the notice gives them
    lead_agency: str  # unit code of the lead agency
    units: tuple[MemberUnit, ...]
    deadlines: dict[str, int] = field(hash=False)  # working days (工作日)
    meeting_cadence: str = "not_fixed"  # half_yearly | yearly | not_fixed
    name_en: str = ""
    notice_title: str = ""
    notice_date: date | None = None
    source: Path | None = field(default=None, compare=False)

    def unit(self, code: str) -> MemberUnit:
        """The member unit with this code; HubError('unknown_unit', 404) if the profile has none."""
        for member in self.units:
            if member.code == code:
                return member
        raise HubError(
            "unknown_unit",
            f"成员单位代码 {code} 不在辖区配置 {self.key} 中",
            f"unit code {code} is not a member unit of jurisdiction profile {self.key}",
            status_code=404,
            detail={"unit": code, "profile": self.key, "known": [m.code for m in self.units]},
        )

    @property
    def lead(self) -> MemberUnit:
        """The lead agency (牵头部门) as a member unit."""
        return self.unit(self.lead_agency)

    def units_by_role(self, role: str) -> tuple[MemberUnit, ...]:
        """The member units with this role, in profile order."""
        return tuple(m for m in self.units if m.role == role)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view of the profile (for `ggzy profile show --json` and the API)."""
        body = asdict(self)
        body["notice_date"] = self.notice_date.isoformat() if self.notice_date else None
        body["source"] = str(self.source) if self.source else None
        return body


def available_profiles() -> list[str]:
    """Keys of the bundled profiles (the YAML files shipped in ggzy/jurisdictions/)."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def profile_path(key: str) -> Path:
    """The YAML file for a profile key, or the operator's own file when key is a .yaml/.yml path."""
    if key.endswith((".yaml", ".yml")) or "/" in key or "\\" in key:
        path = Path(key).expanduser()
        if not path.is_file():
            raise HubError(
                "unknown_jurisdiction",
                f"辖区配置文件不存在：{path}",
                f"jurisdiction profile file not found: {path}",
                status_code=404,
                detail={"file": str(path)},
            )
        return path
    if key not in available_profiles():
        raise HubError(
            "unknown_jurisdiction",
            f"未知辖区配置 {key!r}（GGZY_JURISDICTION）；可选：{'、'.join(available_profiles())}，或一个 YAML 文件路径",
            f"unknown jurisdiction profile {key!r} (GGZY_JURISDICTION); choose one of "
            f"{', '.join(available_profiles())} or give a path to a YAML file",
            status_code=404,
            detail={"profile": key, "available": available_profiles()},
        )
    return PROFILE_DIR / f"{key}.yaml"


def load_profile(key: str | None = None) -> Profile:
    """Load and validate a profile; default: get_settings().jurisdiction."""
    return load_profile_file(profile_path(key or get_settings().jurisdiction))


def load_profile_file(path: Path) -> Profile:
    """Load and validate one profile YAML file (bundled or the operator's own)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError) as exc:  # ValueError: bad date
        raise _invalid(
            path, "-", "文件无法读取或不是有效的 YAML", "file cannot be read or is not valid YAML", str(exc)
        ) from None
    return _ProfileReader(path).read(raw)


def _invalid(path: Path, field_name: str, zh_rule: str, en_rule: str, value: Any = None) -> HubError:
    """The bilingual error for a broken profile, naming the file, the field and the rule."""
    return HubError(
        "invalid_profile",
        f"辖区配置文件 {path} 字段 {field_name}：{zh_rule}",
        f"jurisdiction profile {path}, field {field_name}: {en_rule}",
        detail={"file": str(path), "field": field_name, "value": None if value is None else str(value)},
    )


class _ProfileReader:
    """Checks one parsed YAML document field by field and builds the Profile."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, field_name: str, zh_rule: str, en_rule: str, value: Any = None) -> HubError:
        """An invalid_profile error for this file."""
        return _invalid(self.path, field_name, zh_rule, en_rule, value)

    def text(self, data: dict, key: str, where: str, *, required: bool = True) -> str:
        """A non-empty string field (or '' when optional and absent)."""
        value = data.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, "必填，须为非空文本", "required, must be non-empty text", value)
        return value.strip()

    def no_unknown(self, data: dict, allowed: frozenset[str], where: str) -> None:
        """Reject keys the loader does not know (catches typos such as 'delivry')."""
        unknown = sorted(str(k) for k in data if k not in allowed)
        if unknown:
            raise self.fail(
                f"{where}{unknown[0]}",
                f"未知字段；允许的字段：{', '.join(sorted(allowed))}",
                f"unknown field; allowed fields: {', '.join(sorted(allowed))}",
                unknown[0],
            )

    def read(self, raw: Any) -> Profile:
        """Validate the whole document and return the Profile."""
        if not isinstance(raw, dict):
            raise self.fail(
                "-",
                "顶层须为映射（key: value）",
                "top level must be a mapping (key: value)",
                type(raw).__name__,
            )
        self.no_unknown(raw, PROFILE_FIELDS, "")
        key = self.text(raw, "key", "key")
        region_code = str(raw.get("region_code") or "")
        if not REGION_CODE_RE.match(region_code):
            raise self.fail(
                "region_code",
                "须为 6 位 GB/T 2260 行政区划代码",
                "must be a 6-digit GB/T 2260 region code",
                region_code,
            )
        notice, notice_title, notice_date = self.read_notice(raw.get("notice"))
        units = self.read_units(raw.get("units"))
        lead = self.text(raw, "lead_agency", "lead_agency")
        lead_unit = next((u for u in units if u.code == lead), None)
        if lead_unit is None:
            raise self.fail(
                "lead_agency",
                "须为 units 中某个成员单位的 code",
                "must be the code of one of the units",
                lead,
            )
        if lead_unit.role != "lead_agency":
            raise self.fail(
                "lead_agency",
                f"牵头单位 {lead} 的 role 须为 lead_agency",
                f"the lead agency unit {lead} must have role lead_agency",
                lead_unit.role,
            )
        cadence = raw.get("meeting_cadence")
        if cadence not in MEETING_CADENCES:
            raise self.fail(
                "meeting_cadence",
                f"须为 {' | '.join(sorted(MEETING_CADENCES))} 之一",
                f"must be one of {' | '.join(sorted(MEETING_CADENCES))}",
                cadence,
            )
        return Profile(
            key=key,
            name=self.text(raw, "name", "name"),
            region_code=region_code,
            notice=notice,
            lead_agency=lead,
            units=units,
            deadlines=self.read_deadlines(raw.get("deadlines")),
            meeting_cadence=cadence,
            name_en=self.text(raw, "name_en", "name_en", required=False),
            notice_title=notice_title,
            notice_date=notice_date,
            source=self.path,
        )

    def read_notice(self, notice: Any) -> tuple[str, str, date | None]:
        """The notice reference: 文号 if it has one, else its title, plus the date."""
        if not isinstance(notice, dict):
            raise self.fail(
                "notice",
                "须为映射（doc_no / title / issuer / date）",
                "must be a mapping (doc_no / title / issuer / date)",
            )
        self.no_unknown(notice, NOTICE_FIELDS, "notice.")
        title = self.text(notice, "title", "notice.title")
        doc_no = self.text(notice, "doc_no", "notice.doc_no", required=False)
        issued = notice.get("date")
        if issued is not None and not isinstance(issued, date):
            raise self.fail("notice.date", "须为日期 YYYY-MM-DD", "must be a date YYYY-MM-DD", issued)
        issuer = self.text(notice, "issuer", "notice.issuer", required=False)
        reference = doc_no or f"{issuer}《{title}》"
        if issued is not None:
            reference += f"（{issued.isoformat()}）"
        return reference, title, issued

    def read_units(self, units: Any) -> tuple[MemberUnit, ...]:
        """Every member unit: code pattern, unique codes, known role and delivery mode, valid USCC."""
        if not isinstance(units, list) or not units:
            raise self.fail("units", "须为非空列表", "must be a non-empty list", units)
        result: list[MemberUnit] = []
        seen: set[str] = set()
        for index, item in enumerate(units):
            where = f"units[{index}]"
            if not isinstance(item, dict):
                raise self.fail(where, "须为映射", "must be a mapping", item)
            self.no_unknown(item, UNIT_FIELDS, f"{where}.")
            code = self.text(item, "code", f"{where}.code")
            if not UNIT_CODE_RE.match(code):
                raise self.fail(
                    f"{where}.code",
                    "须为 2-32 位大写字母、数字、'-' 或 '_'",
                    "must be 2-32 upper-case ASCII letters, digits, '-' or '_'",
                    code,
                )
            if code in seen:
                raise self.fail(f"{where}.code", "成员单位代码重复", "duplicate unit code", code)
            seen.add(code)
            role = item.get("role")
            if role not in ROLES:
                raise self.fail(
                    f"{where}.role",
                    f"未知角色；须为 {' | '.join(sorted(ROLES))} 之一",
                    f"unknown role; must be one of {' | '.join(sorted(ROLES))}",
                    role,
                )
            uscc = str(item.get("uscc") or "")
            if not uscc_check_digit_ok(uscc):
                raise self.fail(
                    f"{where}.uscc",
                    "统一社会信用代码格式或校验位错误（GB 32100-2015）",
                    "invalid unified social credit code: format or check character (GB 32100-2015)",
                    uscc,
                )
            delivery = item.get("delivery")
            if delivery not in DELIVERY_MODES:
                raise self.fail(
                    f"{where}.delivery",
                    "须为 push（推送）或 pull（拉取）",
                    "must be push (webhook) or pull (cursor feed)",
                    delivery,
                )
            result.append(
                MemberUnit(
                    code=code,
                    name=self.text(item, "name", f"{where}.name"),
                    role=role,
                    uscc=uscc,
                    delivery=delivery,
                    name_en=self.text(item, "name_en", f"{where}.name_en", required=False),
                )
            )
        usccs = [u.uscc for u in result]
        duplicate = next((c for c in usccs if usccs.count(c) > 1), None)
        if duplicate:
            raise self.fail(
                "units[].uscc", "统一社会信用代码重复", "duplicate unified social credit code", duplicate
            )
        return tuple(result)

    def read_deadlines(self, deadlines: Any) -> dict[str, int]:
        """Deadlines in working days: known keys, positive integers, penalty_acknowledgement present."""
        if not isinstance(deadlines, dict):
            raise self.fail(
                "deadlines", "须为映射（名称: 工作日数）", "must be a mapping (name: working days)", deadlines
            )
        result: dict[str, int] = {}
        for name, days in deadlines.items():
            where = f"deadlines.{name}"
            if name not in DEADLINE_KEYS:
                raise self.fail(
                    where,
                    f"未知期限；须为 {', '.join(DEADLINE_KEYS)} 之一",
                    f"unknown deadline; must be one of {', '.join(DEADLINE_KEYS)}",
                    name,
                )
            if isinstance(days, bool) or not isinstance(days, int) or days <= 0:
                raise self.fail(
                    where, "须为正整数（工作日）", "must be a positive whole number of working days", days
                )
            result[name] = days
        for name in REQUIRED_DEADLINES:
            if name not in result:
                raise self.fail(f"deadlines.{name}", "必填", "required", None)
        return result
