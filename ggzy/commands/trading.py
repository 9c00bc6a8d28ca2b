"""`ggzy trading`: pull the trading centre's data (API, database, file drops) and see where each pull stands."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ggzy.errors import HubError
from ggzy.settings import get_settings

app = typer.Typer(
    help="Trading-centre data in the national spec: incremental pulls, file drops, status (交易数据采集).",
    no_args_is_help=True,
)
console = Console(stderr=True)

CODES_HELP = "Only these dataset codes (repeat the option), e.g. --dataset 507 --dataset 519."


@contextmanager
def _progress():
    """A rich progress display on stderr counting pulled rows per dataset."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        tasks: dict[str, Any] = {}

        def advance(code: str, rows: int) -> None:
            if code not in tasks:
                tasks[code] = progress.add_task(f"dataset {code}", total=None)
            progress.advance(tasks[code], rows)

        yield advance


def _show(reports: dict[str, dict[str, Any]], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(reports, ensure_ascii=False, indent=2, default=str))
        return
    table = Table("dataset", "in", "loaded", "quarantined", "duplicate", "waiting", "released", "warned")
    for name, r in reports.items():
        table.add_row(
            name,
            *(
                str(r.get(k, 0))
                for k in (
                    "rows_in",
                    "rows_loaded",
                    "rows_quarantined",
                    "rows_duplicate",
                    "rows_waiting",
                    "rows_released",
                    "rows_warned",
                )
            ),
        )
    console.print(table)
    for name, r in reports.items():
        for q in r.get("quarantined", [])[:20]:
            for e in q["errors"]:
                if e["severity"] == "error":
                    console.print(f"  {name} [{e['rule']}] {e['zh']} / {e['en']}")


def _run(action: Callable[..., dict[str, dict[str, Any]]], *args: Any, as_json: bool, **kwargs: Any) -> None:
    try:
        with _progress() as advance:
            reports = action(get_settings(), *args, progress=advance, **kwargs)
    except HubError as exc:
        console.print(f"[red]{exc.zh} / {exc.en}[/]")
        raise typer.Exit(2) from exc
    _show(reports, as_json)


@app.command("pull")
def pull(
    api: str = typer.Option(..., "--api", help="Base URL of the centre's API, e.g. http://127.0.0.1:8700"),
    key: str = typer.Option(..., "--key", help="API key (sent as X-Api-Key)."),
    dataset: list[str] = typer.Option(None, "--dataset", help=CODES_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the per-dataset reports as JSON on stdout."),
) -> None:
    """Pull every dataset from the centre's HTTP API since its watermark (resumes a killed pull).

    Example: ggzy trading pull --api http://127.0.0.1:8700 --key standin-key
    """
    from ggzy.pipelines.trading import pull_api

    _run(pull_api, api, key, dataset or None, as_json=as_json)


@app.command("pull-db")
def pull_db(
    url: str = typer.Argument(
        ..., help="SQLAlchemy URL of the centre's database (mysql+pymysql://, postgresql://)."
    ),
    dataset: list[str] = typer.Option(None, "--dataset", help=CODES_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the per-dataset reports as JSON on stdout."),
) -> None:
    """Pull every spec table of the centre's own database since its watermark.

    Example: ggzy trading pull-db mysql+pymysql://reader@centre-db/trading
    """
    from ggzy.pipelines.trading import pull_database

    _run(pull_database, url, dataset or None, as_json=as_json)


@app.command("ingest-files")
def ingest_files(
    folder: Path = typer.Argument(
        ..., exists=True, file_okay=False, help="Folder of <TABLE>_<yyyyMMdd>.json|xml|csv"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the per-dataset reports as JSON on stdout."),
) -> None:
    """Ingest the centre's file drops (JSON, XML, CSV); files already loaded are skipped.

    Example: ggzy trading ingest-files /data/exchange/2025-03-01
    """
    from ggzy.pipelines import trading

    def action(settings, folder_path, progress=None):
        return trading.ingest_files(settings, folder_path)

    _run(action, folder, as_json=as_json)


@app.command("status")
def status(
    days: int = typer.Option(7, "--days", help="Report children waiting longer than this many days."),
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON on stdout."),
) -> None:
    """Watermarks per source and dataset, and children waiting for their parent (overdue ones listed)."""
    from ggzy import database
    from ggzy.pipelines.trading import status as trading_status

    found = trading_status(database.engine(get_settings()), waiting_days=days)
    if as_json:
        typer.echo(json.dumps(found, ensure_ascii=False, indent=2, default=str))
        return
    marks = Table("source", "dataset", "since", "in progress", "rows pulled", "updated")
    for m in found["watermarks"]:
        marks.add_row(
            m["source"],
            m["dataset"],
            m["since"] or "-",
            "yes" if m["in_progress"] else "",
            str(m["rows_pulled"]),
            str(m["updated_at"]),
        )
    console.print(marks)
    waiting = Table("dataset", "waiting", "oldest", f"over {days} days")
    for w in found["waiting"]:
        waiting.add_row(w["dataset"], str(w["rows"]), str(w["oldest"]), str(w["overdue"]))
    console.print(waiting)
    for w in found["overdue_waiting"]:
        console.print(
            f"[yellow]等待父记录超过 {days} 天 / waiting over {days} days: dataset {w['dataset']}"
            f" {w['natural_key']} (parent {w['parent_dataset']} {w['parent_key']}) since {w['first_seen']}[/]"
        )
