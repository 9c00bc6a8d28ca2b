"""`ggzy profile`: the jurisdiction profile in use (辖区配置): member units, deadlines, meetings."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from ggzy.errors import HubError
from ggzy.jurisdictions import DEADLINE_KEYS, available_profiles, load_profile
from ggzy.settings import get_settings

app = typer.Typer(help="Jurisdiction profiles (辖区配置): list them, show one.", no_args_is_help=True)
console = Console(stderr=True)
CADENCE_LABELS = {
    "half_yearly": "每半年 / every half year",
    "yearly": "每年 / yearly",
    "not_fixed": "定期（未定频次）/ not fixed",
}


@app.command("list")
def list_command(as_json: bool = typer.Option(False, "--json", help="Print the result as JSON.")) -> None:
    """List the bundled profiles; the one in use (GGZY_JURISDICTION) is marked."""
    current = get_settings().jurisdiction
    if as_json:
        typer.echo(json.dumps({"profiles": available_profiles(), "current": current}))
        return
    for key in available_profiles():
        profile = load_profile(key)
        typer.echo(f"{'*' if key == current else ' '} {key:8} {profile.name} {profile.notice}")


@app.command("show")
def show_command(
    key: str = typer.Argument(None, help="Profile key or YAML path; default: GGZY_JURISDICTION."),
    as_json: bool = typer.Option(False, "--json", help="Print the profile as JSON."),
) -> None:
    """Show a profile: notice, lead agency, member units with delivery mode, working-day deadlines."""
    try:
        profile = load_profile(key)
    except HubError as error:
        if as_json:
            typer.echo(json.dumps(error.to_dict(), ensure_ascii=False))
        else:
            console.print(f"[red]{error.zh}[/]\n[red]{error.en}[/]")
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(profile.to_dict(), ensure_ascii=False, indent=2))
        return
    out = Console()
    out.print(f"[bold]{profile.name}[/] ({profile.name_en}) region {profile.region_code} — {profile.notice}")
    out.print(f"牵头单位 / lead agency: {profile.lead.name} ({profile.lead_agency})")
    out.print(
        f"联席会议 / joint meeting: {CADENCE_LABELS.get(profile.meeting_cadence, profile.meeting_cadence)}"
    )
    units = Table(title="成员单位 / member units")
    for column in ("code", "name / 名称", "role", "delivery", "USCC"):
        units.add_column(column)
    for unit in profile.units:
        units.add_row(unit.code, unit.name, unit.role, unit.delivery, unit.uscc)
    out.print(units)
    deadlines = Table(title="期限（工作日）/ deadlines (working days)")
    for column in ("deadline", "期限", "working days"):
        deadlines.add_column(column)
    for name, days in profile.deadlines.items():
        deadlines.add_row(name, DEADLINE_KEYS[name][0], str(days))
    out.print(deadlines)
