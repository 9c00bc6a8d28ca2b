"""`ggzy calendar`: working days (工作日) for the notices' deadlines; check the operator holiday file."""

from __future__ import annotations

import json
from datetime import date

import typer
from rich.console import Console
from rich.table import Table

from ggzy import workdays
from ggzy.errors import HubError
from ggzy.settings import get_settings

app = typer.Typer(
    help="Working days (工作日): add, count, and check the holiday file's coverage (节假日文件).",
    no_args_is_help=True,
)
console = Console(stderr=True)
JSON_OPTION = typer.Option(False, "--json", help="Print the result as JSON.")
YEARS_OPTION = typer.Option(None, "--year", help="Year to check (repeatable); default: this year and next.")


def _fail(error: HubError, as_json: bool) -> None:
    """Print a HubError (JSON on stdout with --json, else bilingual text on stderr) and exit 2."""
    if as_json:
        typer.echo(json.dumps(error.to_dict(), ensure_ascii=False))
    else:
        console.print(f"[red]{error.zh}[/]\n[red]{error.en}[/]")
    raise typer.Exit(2)


def _parse_date(text: str, name: str) -> date:
    """An ISO date argument, or a bilingual HubError naming the argument."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HubError(
            "invalid_date",
            f"参数 {name} 不是有效日期 YYYY-MM-DD：{text}",
            f"argument {name} is not a date YYYY-MM-DD: {text}",
        ) from None


@app.command("add")
def add_command(
    start: str = typer.Argument(..., help="Start date YYYY-MM-DD."),
    n: int = typer.Argument(..., help="Working days to add (negative: go back)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Print the date N working days after START (a deadline of N 工作日)."""
    try:
        begin = _parse_date(start, "START")
        result = workdays.add_working_days(begin, n)
    except HubError as error:
        _fail(error, as_json)
    if as_json:
        typer.echo(json.dumps({"start": begin.isoformat(), "working_days": n, "date": result.isoformat()}))
    else:
        typer.echo(result.isoformat())


@app.command("between")
def between_command(
    start: str = typer.Argument(..., help="Start date YYYY-MM-DD (not counted)."),
    end: str = typer.Argument(..., help="End date YYYY-MM-DD (counted)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Print the number of working days in (START, END]."""
    try:
        begin, finish = _parse_date(start, "START"), _parse_date(end, "END")
        count = workdays.working_days_between(begin, finish)
    except HubError as error:
        _fail(error, as_json)
    if as_json:
        typer.echo(json.dumps({"start": begin.isoformat(), "end": finish.isoformat(), "working_days": count}))
    else:
        typer.echo(str(count))


@app.command("check")
def check_command(
    years: list[int] = YEARS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Validate the holiday file and show where each year's days come from; exit 1 if a year falls back."""
    path = get_settings().holidays_path
    try:
        calendar = workdays.current_calendar()
    except HubError as error:
        _fail(error, as_json)
    this_year = date.today().year
    checked = sorted(set(years or [this_year, this_year + 1]))
    coverage = {year: calendar.coverage(year) for year in checked}
    uncovered = [year for year, source in coverage.items() if source == workdays.COVERAGE_FALLBACK]
    if as_json:
        body = {
            "holiday_file": str(path),
            "holiday_file_exists": path.exists(),
            "operator_years": sorted(calendar.operator),
            "coverage": {str(year): source for year, source in coverage.items()},
            "uncovered": uncovered,
        }
        typer.echo(json.dumps(body, ensure_ascii=False))
    else:
        table = Table(title=f"工作日历覆盖 / working-day calendar coverage — {path}")
        table.add_column("year / 年份")
        table.add_column("source / 来源")
        labels = {
            workdays.COVERAGE_OPERATOR: "节假日文件 / operator holiday file",
            workdays.COVERAGE_LIBRARY: "chinese_calendar（官方安排 / official table）",
            workdays.COVERAGE_FALLBACK: "[red]未覆盖，按周一至周五 / NOT COVERED, Mon-Fri fallback[/]",
        }
        for year, source in coverage.items():
            table.add_row(str(year), labels[source])
        Console().print(table)
        if uncovered:
            console.print(
                f"[red]请在 {path} 中补充 {'、'.join(map(str, uncovered))} 年的 holidays 和 workdays / "
                f"add holidays and workdays for {', '.join(map(str, uncovered))} to {path}[/]"
            )
    if uncovered:
        raise typer.Exit(1)
