"""Chinese working days (工作日) for the notices' deadlines (data-standards §5).

Source of truth, per date: the operator holiday file (YAML at get_settings().holidays_path) first, then the
official tables of `chinese_calendar` (2004-2026 in 1.11), then — for a year neither covers — Monday to
Friday, with a loud warning once per year per process. A year listed in the operator file is covered:
its weekends are non-working unless listed under `workdays` (调休 make-up days). File format:

    2027:
      holidays: [2027-01-01, 2027-02-06, ...]   # 放假 (days off, including weekdays)
      workdays: [2027-02-14, ...]               # 调休上班 (make-up working Saturdays/Sundays)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import yaml

from ggzy.errors import HubError
from ggzy.settings import get_settings

log = logging.getLogger(__name__)

COVERAGE_OPERATOR = "operator"  # the operator holiday file lists the year
COVERAGE_LIBRARY = "library"  # chinese_calendar has the official table
COVERAGE_FALLBACK = "fallback"  # neither: Monday-Friday, with a warning

_warned_years: set[int] = set()  # years already warned about in this process
_library_years: dict[int, bool] = {}


@dataclass(frozen=True)
class OperatorYear:
    """The operator's entries for one year: days off and make-up working days."""

    holidays: frozenset[date]
    workdays: frozenset[date]


def library_covers(year: int) -> bool:
    """True when chinese_calendar has the official table for this year."""
    if year not in _library_years:
        try:
            chinese_calendar.is_workday(date(year, 1, 1))
            _library_years[year] = True
        except NotImplementedError:
            _library_years[year] = False
    return _library_years[year]


class _DatesAsTextLoader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so a bad date is reported with its entry, not as a YAML crash."""


_DatesAsTextLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_scalar)


def _holiday_error(path: Path, where: str, zh_rule: str, en_rule: str, entry: Any = None) -> HubError:
    """The bilingual error for a malformed holiday file, naming the file and the entry."""
    return HubError(
        "invalid_holiday_file",
        f"节假日文件 {path} 中 {where}：{zh_rule}",
        f"holiday file {path}, {where}: {en_rule}",
        detail={"file": str(path), "entry": where, "value": None if entry is None else str(entry)},
    )


def _parse_day(path: Path, year: int, kind: str, index: int, value: Any) -> date:
    """One listed date: a YAML date or 'YYYY-MM-DD' text inside its year."""
    where = f"{year}.{kind}[{index}]"
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise _holiday_error(
                path, where, "不是有效日期 YYYY-MM-DD", "not a valid date YYYY-MM-DD", value
            ) from None
    if not isinstance(value, date):
        raise _holiday_error(path, where, "须为日期 YYYY-MM-DD", "must be a date YYYY-MM-DD", value)
    if value.year != year:
        raise _holiday_error(
            path, where, f"日期不在 {year} 年内", f"date is not in year {year}", value.isoformat()
        )
    return value


def load_holiday_file(path: Path) -> dict[int, OperatorYear]:
    """Parse and validate the operator holiday file; a missing file is an empty table."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_DatesAsTextLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise _holiday_error(
            path, "-", "文件无法读取或不是有效的 YAML", "cannot be read or is not valid YAML", exc
        ) from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _holiday_error(
            path, "-", "顶层须为按年份的映射（2027: {holidays: [...], workdays: [...]}）",
            "top level must map years to {holidays: [...], workdays: [...]}", type(raw).__name__,
        )  # fmt: skip
    table: dict[int, OperatorYear] = {}
    for year_key, entry in raw.items():
        year = int(year_key) if isinstance(year_key, int | str) and str(year_key).strip().isdigit() else None
        if year is None or not 1900 <= year <= 2100:
            raise _holiday_error(
                path,
                str(year_key),
                "年份须为 1900-2100 的整数",
                "year must be a whole number 1900-2100",
                year_key,
            )
        entry = entry or {}
        if not isinstance(entry, dict):
            raise _holiday_error(
                path,
                str(year),
                "须为映射（holidays / workdays）",
                "must be a mapping (holidays / workdays)",
                entry,
            )
        unknown = sorted(str(k) for k in entry if k not in ("holidays", "workdays"))
        if unknown:
            raise _holiday_error(
                path, f"{year}.{unknown[0]}", "未知字段；只允许 holidays 与 workdays",
                "unknown key; only holidays and workdays are allowed", unknown[0],
            )  # fmt: skip
        days: dict[str, frozenset[date]] = {}
        for kind in ("holidays", "workdays"):
            listed = entry.get(kind) or []
            if not isinstance(listed, list):
                raise _holiday_error(
                    path, f"{year}.{kind}", "须为日期列表", "must be a list of dates", listed
                )
            days[kind] = frozenset(_parse_day(path, year, kind, i, v) for i, v in enumerate(listed))
        both = sorted(days["holidays"] & days["workdays"])
        if both:
            raise _holiday_error(
                path, f"{year}", "同一日期同时列在 holidays 与 workdays 中",
                "the same date is listed under both holidays and workdays", both[0].isoformat(),
            )  # fmt: skip
        if year in table:
            raise _holiday_error(path, str(year_key), "年份重复", "year listed twice", year_key)
        table[year] = OperatorYear(holidays=days["holidays"], workdays=days["workdays"])
    return table


def _as_date(d: date) -> date:
    """Accept a datetime where a date is meant."""
    return d.date() if isinstance(d, datetime) else d


class WorkingDayCalendar:
    """Working days from the operator's table, then chinese_calendar, then Mon-Fri (with a warning)."""

    def __init__(self, operator: dict[int, OperatorYear] | None = None, source: Path | None = None) -> None:
        self.operator = dict(operator or {})
        self.source = source

    @classmethod
    def from_file(cls, path: Path) -> WorkingDayCalendar:
        """A calendar with the operator holiday file at path (absent file: library only)."""
        return cls(load_holiday_file(path), Path(path))

    def coverage(self, year: int) -> str:
        """Where the year's days come from: 'operator', 'library' or 'fallback' (Mon-Fri)."""
        if year in self.operator:
            return COVERAGE_OPERATOR
        return COVERAGE_LIBRARY if library_covers(year) else COVERAGE_FALLBACK

    def _warn_uncovered(self, year: int) -> None:
        """Warn loudly (once per year per process) that a year falls back to Monday-Friday."""
        if year in _warned_years:
            return
        _warned_years.add(year)
        where = self.source or get_settings().holidays_path
        log.warning(
            "工作日历未覆盖 %(year)d 年：chinese_calendar 与节假日文件 %(file)s 均无该年数据，暂按周一至周五计算工作日"
            "（未计法定节假日和调休），期限可能算错。请在 %(file)s 中补充 %(year)d 年的 holidays 和 workdays。 / "
            "WORKING-DAY CALENDAR DOES NOT COVER %(year)d: neither chinese_calendar nor the holiday file %(file)s "
            "has it, so deadlines fall back to Monday-Friday (public holidays and make-up days ignored) and may "
            "be wrong. Add %(year)d holidays and workdays to %(file)s.",
            {"year": year, "file": where},
        )

    def is_working_day(self, d: date) -> bool:
        """True when d is a Chinese working day (调休 make-up days included, holidays excluded)."""
        d = _as_date(d)
        listed = self.operator.get(d.year)
        if listed is not None:
            if d in listed.workdays:
                return True
            if d in listed.holidays:
                return False
        if library_covers(d.year):
            return chinese_calendar.is_workday(d)
        if listed is None:
            self._warn_uncovered(d.year)
        return d.weekday() < 5

    def add_working_days(self, start: date, n: int) -> date:
        """The date n working days after start (before it for negative n; start itself for 0)."""
        current = _as_date(start)
        step = timedelta(days=1 if n >= 0 else -1)
        remaining = abs(n)
        while remaining:
            current += step
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative when end is before start (counts (end, start])."""
        start, end = _as_date(start), _as_date(end)
        if end < start:
            return -self.working_days_between(end, start)
        return sum(self.is_working_day(start + timedelta(days=i)) for i in range(1, (end - start).days + 1))


_cache: dict[Path, tuple[tuple[int, int] | None, WorkingDayCalendar]] = {}


def current_calendar() -> WorkingDayCalendar:
    """The calendar for get_settings().holidays_path, reloaded when the file changes."""
    path = get_settings().holidays_path
    try:
        stat = path.stat()
        stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
    except FileNotFoundError:
        stamp = None
    cached = _cache.get(path)
    if cached is None or cached[0] != stamp:
        cached = (stamp, WorkingDayCalendar.from_file(path))
        _cache[path] = cached
    return cached[1]


def is_working_day(d: date) -> bool:
    """True when d is a Chinese working day (operator file, then chinese_calendar, then Mon-Fri)."""
    return current_calendar().is_working_day(d)


def add_working_days(start: date, n: int) -> date:
    """The date n working days after start (e.g. a deadline of n 工作日 from start)."""
    return current_calendar().add_working_days(start, n)


def working_days_between(start: date, end: date) -> int:
    """Working days in (start, end]: 0 for the same day, n for add_working_days(start, n)."""
    return current_calendar().working_days_between(start, end)
