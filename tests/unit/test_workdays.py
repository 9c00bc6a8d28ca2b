"""Working-day calendar: 国庆 2026 from chinese_calendar, the loud 2027 fallback, the operator holiday file."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ggzy import workdays
from ggzy.errors import HubError
from ggzy.settings import get_settings
from ggzy.workdays import (
    WorkingDayCalendar,
    add_working_days,
    is_working_day,
    load_holiday_file,
    working_days_between,
)


@pytest.fixture
def holiday_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Point GGZY_HOLIDAYS_FILE at a temporary path (not created) and forget earlier warnings."""
    path = tmp_path / "holidays.yaml"
    monkeypatch.setenv("GGZY_HOLIDAYS_FILE", str(path))
    monkeypatch.setattr(workdays, "_warned_years", set())
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def days(start: date, end: date) -> list[date]:
    """Every date from start to end inclusive."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def test_national_day_2026_follows_the_official_table(holiday_file: Path) -> None:
    # chinese_calendar 1.11 (国办发明电〔2025〕7号): 国庆 10-01..10-07 off; make-up days Sun 09-20 and Sat 10-10;
    # 中秋 09-25..09-27 off.
    off = {d for d in days(date(2026, 9, 18), date(2026, 10, 13)) if not is_working_day(d)}
    assert off == set(days(date(2026, 10, 1), date(2026, 10, 7))) | {
        date(2026, 9, 19), date(2026, 9, 25), date(2026, 9, 26), date(2026, 9, 27), date(2026, 10, 11),
    }  # fmt: skip
    assert is_working_day(date(2026, 9, 20)) and is_working_day(date(2026, 10, 10))  # 调休 weekend days
    # 5 working days after 09-30: 10-08, 10-09, 10-10 (Sat, make-up), 10-12, 10-13.
    assert add_working_days(date(2026, 9, 30), 5) == date(2026, 10, 13)
    assert working_days_between(date(2026, 9, 30), date(2026, 10, 8)) == 1
    # 09-28, 09-29, 09-30, 10-08, 10-09
    assert working_days_between(date(2026, 9, 24), date(2026, 10, 9)) == 5


def test_2027_is_not_covered_warns_loudly_once_and_falls_back_to_monday_friday(
    holiday_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ggzy.workdays")
    assert workdays.current_calendar().coverage(2027) == workdays.COVERAGE_FALLBACK
    assert is_working_day(date(2027, 1, 1))  # New Year's Day, but the fallback only knows Mon-Fri
    assert not is_working_day(date(2027, 1, 2))  # Saturday
    assert add_working_days(date(2026, 12, 31), 3) == date(2027, 1, 5)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "2027" in r.getMessage()]
    assert len(warnings) == 1, "one warning per year per process"
    message = warnings[0].getMessage()
    assert str(holiday_file) in message and "工作日历未覆盖 2027 年" in message and "Monday-Friday" in message


def test_operator_file_covers_2027_and_overrides_the_library(
    holiday_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holiday_file.write_text(
        "2027:\n"
        "  holidays: [2027-01-01, '2027-02-05', 2027-02-08]\n"
        "  workdays: [2027-02-07]   # make-up Sunday\n"
        "2026:\n"
        "  holidays: [2026-10-08]   # operator override of a library working day\n"
        "  workdays: [2026-10-03]\n",
        encoding="utf-8",
    )
    caplog.set_level(logging.WARNING, logger="ggzy.workdays")
    assert workdays.current_calendar().coverage(2027) == workdays.COVERAGE_OPERATOR
    assert not is_working_day(date(2027, 1, 1))
    assert not is_working_day(date(2027, 1, 2))  # weekend stays off in an operator year
    assert is_working_day(date(2027, 2, 7))  # listed make-up Sunday
    assert not is_working_day(date(2027, 2, 5)) and not is_working_day(date(2027, 2, 8))
    assert is_working_day(date(2027, 1, 4))  # unlisted Monday
    assert not is_working_day(date(2026, 10, 8)) and is_working_day(date(2026, 10, 3))
    assert is_working_day(date(2026, 10, 9))  # unlisted dates still come from chinese_calendar
    assert not is_working_day(date(2026, 10, 5))
    assert add_working_days(date(2027, 2, 4), 2) == date(2027, 2, 9)  # 02-07 (Sun, make-up), 02-09
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_operator_file_is_reloaded_when_it_changes(holiday_file: Path) -> None:
    assert is_working_day(date(2026, 11, 23))
    holiday_file.write_text("2026:\n  holidays: [2026-11-23]\n", encoding="utf-8")
    assert not is_working_day(date(2026, 11, 23))


@pytest.mark.parametrize(
    ("content", "entry", "value"),
    [
        ("2027:\n  holidays: [2027-13-01]\n", "2027.holidays[0]", "2027-13-01"),
        ("2027:\n  holidays: [2026-12-31]\n", "2027.holidays[0]", "2026-12-31"),
        ("2027:\n  holidays: [2027-01-01]\n  workdays: [2027-01-01]\n", "2027", "2027-01-01"),
        ("2027:\n  holiday: [2027-01-01]\n", "2027.holiday", "holiday"),
        ("twenty27:\n  holidays: []\n", "twenty27", "twenty27"),
        ("2027:\n  holidays: 2027-01-01\n", "2027.holidays", "2027-01-01"),
        ("- 2027-01-01\n", "-", "list"),
        ("2027: [unclosed\n", "-", None),
    ],
)
def test_malformed_holiday_file_names_file_and_entry(
    holiday_file: Path, content: str, entry: str, value: str | None
) -> None:
    holiday_file.write_text(content, encoding="utf-8")
    with pytest.raises(HubError) as raised:
        is_working_day(date(2027, 1, 4))
    error = raised.value
    assert error.code == "invalid_holiday_file"
    assert error.detail["file"] == str(holiday_file) and error.detail["entry"] == entry
    if value is not None:
        assert error.detail["value"] == value
    assert str(holiday_file) in error.zh and str(holiday_file) in error.en and entry in error.en


def test_missing_or_empty_holiday_file_is_an_empty_table(tmp_path: Path) -> None:
    assert load_holiday_file(tmp_path / "absent.yaml") == {}
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    assert load_holiday_file(tmp_path / "empty.yaml") == {}


def test_zero_and_negative_offsets() -> None:
    calendar = WorkingDayCalendar()
    assert calendar.add_working_days(date(2026, 10, 3), 0) == date(2026, 10, 3)
    assert calendar.add_working_days(date(2026, 10, 8), -1) == date(2026, 9, 30)
    assert calendar.working_days_between(date(2026, 10, 8), date(2026, 9, 30)) == -1
    assert calendar.working_days_between(date(2026, 10, 8), date(2026, 10, 8)) == 0


LIBRARY_DAYS = st.dates(min_value=date(2005, 1, 1), max_value=date(2026, 9, 30))


@settings(max_examples=200, deadline=None)
@given(start=LIBRARY_DAYS, n=st.integers(min_value=-40, max_value=40))
def test_between_inverts_add_from_a_working_day(start: date, n: int) -> None:
    calendar = WorkingDayCalendar()
    while not calendar.is_working_day(start):
        start += timedelta(days=1)
    end = calendar.add_working_days(start, n)
    assert calendar.is_working_day(end)
    assert calendar.working_days_between(start, end) == n
    assert (end > start) == (n > 0) and (end == start) == (n == 0)


@settings(max_examples=100, deadline=None)
@given(
    start=st.dates(min_value=date(2027, 1, 1), max_value=date(2027, 11, 30)),
    n=st.integers(min_value=-20, max_value=20),
)
def test_between_inverts_add_in_an_operator_year(start: date, n: int) -> None:
    calendar = WorkingDayCalendar(
        {
            2027: workdays.OperatorYear(
                frozenset({date(2027, 2, 8), date(2027, 5, 3)}), frozenset({date(2027, 2, 7)})
            )
        }
    )
    while not calendar.is_working_day(start):
        start += timedelta(days=1)
    assert calendar.working_days_between(start, calendar.add_working_days(start, n)) == n


def test_calendar_commands(holiday_file: Path) -> None:
    import json

    import typer
    from typer.testing import CliRunner

    from ggzy.commands import calendar

    app = typer.Typer()
    app.add_typer(calendar.app, name="calendar")
    runner = CliRunner()
    assert runner.invoke(app, ["calendar", "add", "2026-09-30", "5"]).output.strip() == "2026-10-13"
    between = runner.invoke(app, ["calendar", "between", "2026-09-30", "2026-10-13", "--json"])
    assert json.loads(between.output)["working_days"] == 5
    bad = runner.invoke(app, ["calendar", "add", "2026-13-01", "1", "--json"])
    assert bad.exit_code == 2 and json.loads(bad.output)["error"] == "invalid_date"
    uncovered = runner.invoke(app, ["calendar", "check", "--year", "2026", "--year", "2027", "--json"])
    assert uncovered.exit_code == 1
    assert json.loads(uncovered.output)["coverage"] == {"2026": "library", "2027": "fallback"}
    holiday_file.write_text("2027:\n  holidays: [2027-01-01]\n", encoding="utf-8")
    covered = runner.invoke(app, ["calendar", "check", "--year", "2027", "--json"])
    assert covered.exit_code == 0 and json.loads(covered.output)["operator_years"] == [2027]
    holiday_file.write_text("2027:\n  holidays: [2027-02-30]\n", encoding="utf-8")
    broken = runner.invoke(app, ["calendar", "check", "--json"])
    assert broken.exit_code == 2 and json.loads(broken.output)["detail"]["entry"] == "2027.holidays[0]"
