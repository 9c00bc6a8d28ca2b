"""`ggzy ingest`: load department files by hand (the drop folder and upload endpoint do the same)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ggzy.errors import HubError
from ggzy.settings import get_settings

app = typer.Typer(
    help="Load files into the warehouse by hand: land, validate, quarantine, merge (手工导入).",
    no_args_is_help=True,
)
console = Console(stderr=True)


@app.command()
def penalties(
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, help="双公示 penalty files: .xlsx, .csv, .json"),
    submitted_by: str = typer.Option(None, "--as", help="Submitting member-unit code (fills legacy authority codes)."),
    as_json: bool = typer.Option(False, "--json", help="Print every batch report as JSON on stdout."),
) -> None:
    """Ingest 双公示 administrative-penalty files: bad rows are quarantined with reasons, the rest merged.

    Example: ggzy ingest penalties decisions.xlsx --as JZ-ZJJ
    """
    from ggzy.pipelines.penalties import ingest_path

    settings = get_settings()
    reports = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("ingesting", total=len(files))
        for path in files:
            try:
                reports.append(ingest_path(path, submitted_by=submitted_by, settings=settings))
            except HubError as exc:
                console.print(f"[red]{path}: {exc}[/]")
                raise typer.Exit(2) from exc
            progress.advance(task)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in reports], ensure_ascii=False, indent=2))
        return
    table = Table("file", "status", "in", "loaded", "quarantined", "duplicate", "warned")
    for r in reports:
        table.add_row(r.filename, r.status + (" (already)" if r.already_processed else ""), str(r.rows_in),
                      str(r.rows_loaded), str(r.rows_quarantined), str(r.rows_duplicate), str(r.rows_warned))
    console.print(table)
    for r in reports:
        if r.error:
            console.print(f"[red]{r.filename}: {r.error['message']['zh']} / {r.error['message']['en']}[/]")
        for q in r.quarantined:
            for e in q["errors"]:
                if e["severity"] == "error":
                    console.print(f"  {r.filename} 第{q['row']}行 row {q['row']} [{e['rule']}] {e['zh']} / {e['en']}")


@app.command("drop-folder")
def drop_folder() -> None:
    """Ingest every file waiting in the drop folder (<GGZY_HOME>/drop/<unit code>/)."""
    from ggzy.pipelines.penalties import scan_drop_folder

    reports = scan_drop_folder(get_settings())
    typer.echo(json.dumps([r.to_dict() for r in reports], ensure_ascii=False, indent=2))
