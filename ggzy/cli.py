"""The `ggzy` command line: one entry point, sub-commands per area (see `ggzy --help`)."""

from __future__ import annotations

import os

import typer

from ggzy.commands import (
    airflow,
    api,
    audit,
    calendar,
    credit,
    db,
    delivery,
    ingest,
    profile,
    report,
    standins,
    trading,
    units,
    users,
)
from ggzy.commands.run import demo_command, run_command
from ggzy.commands.screen import screen_command

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

app = typer.Typer(
    help=(
        "ggzy-hub: 公共资源交易协同监管数据共享中心 / data-sharing hub for collaborative supervision of "
        "public resource trading.\n\nStart with `ggzy demo --json` (one-shot end to end on local stand-ins) "
        "or `ggzy run` (the whole hub, long-running). Settings come from GGZY_* environment variables; "
        "see README.md."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(db.app, name="db")
app.add_typer(ingest.app, name="ingest")
app.add_typer(delivery.app, name="delivery")
app.add_typer(units.app, name="units")
app.add_typer(users.app, name="users")
app.add_typer(audit.app, name="audit")
app.add_typer(standins.app, name="standins")
app.add_typer(airflow.app, name="airflow")
app.add_typer(api.app, name="api")
app.add_typer(calendar.app, name="calendar")
app.add_typer(profile.app, name="profile")
app.add_typer(trading.app, name="trading")
app.add_typer(credit.app, name="credit")
app.add_typer(report.app, name="report")
app.add_typer(report.supervision_app, name="supervision")
app.command("run")(run_command)
app.command("demo")(demo_command)
app.command("screen")(screen_command)


def main() -> None:
    """Console-script entry point."""
    app()
