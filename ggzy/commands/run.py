"""`ggzy run` and `ggzy demo`: the whole hub, long-running or one-shot."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from ggzy.errors import HubError
from ggzy.settings import get_settings


def run_command() -> None:
    """Start everything on the embedded default and run every pipeline once (Ctrl-C stops).

    Starts PostgreSQL (embedded under GGZY_HOME unless GGZY_DATABASE_URL is set), migrates the warehouse and
    Airflow's metadata, starts the hub API, the member-unit receiver stand-in and Airflow (api-server,
    scheduler, dag-processor, triggerer), seeds the drop folder with the departments stand-in's files on a
    first start, triggers every hub DAG once and prints where everything is.
    """
    from ggzy.services import run_hub

    raise typer.Exit(run_hub(get_settings(), Console(stderr=True)))


def demo_command(
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout (progress on stderr)."),
) -> None:
    """One-shot end to end on the local stand-ins; prints the summary and exits (0 when every check holds).

    Uses its own database (<warehouse>_demo, recreated each time) and GGZY_HOME/demo, so it never touches the
    hub's data. Example: ggzy demo --json | jq .deliveries
    """
    from ggzy.demo import run_demo

    console = Console(stderr=True)
    try:
        with console.status("demo …") as status:
            summary = run_demo(get_settings(), progress=lambda m: (console.print(f"  [green]✓[/] {m}"),
                                                                   status.update(m)))  # fmt: skip
    except HubError as error:
        console.print(f"[red]{error.zh}\n{error.en}[/]")
        raise typer.Exit(1) from error
    ok = demo_checks_hold(summary)
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2, default=str))
    else:
        _print_summary(console, summary)
    if not ok:
        console.print("[red]some demo checks did not hold / 演示检查未全部通过[/]")
    raise typer.Exit(0 if ok else 1)


def demo_checks_hold(summary: dict) -> bool:
    """True when conservation holds for every dataset, nothing is owed or failed, and the audit chain verifies."""
    deliveries = summary["deliveries"]
    return (
        all(d["conserved"] for d in summary["datasets"].values())
        and deliveries["pending"] == 0
        and deliveries["failed"] == 0
        and deliveries["every_unit_holds_every_decision_once"]
        and summary["audit"]["verified"]
    )


def _print_summary(console: Console, summary: dict) -> None:
    table = Table("dataset / 数据集", "files", "in", "loaded", "quarantined", "duplicate", "warned", "conserved")
    for name, d in summary["datasets"].items():
        table.add_row(name, str(d["files"]), str(d["rows_in"]), str(d["rows_loaded"]), str(d["rows_quarantined"]),
                      str(d["rows_duplicate"]), str(d["rows_warned"]), "✓" if d["conserved"] else "✗")  # fmt: skip
    console.print(table)
    d = summary["deliveries"]
    console.print(
        f"deliveries / 抄送: expected {d['expected']}, delivered {d['delivered']}, acknowledged {d['acknowledged']},"
        f" pending {d['pending']}, failed {d['failed']}"
    )
    overdue = summary["overdue"]
    console.print(f"overdue as of {overdue['as_of']} / 逾期未签收: "
                  + (", ".join(f"{u['unit']} ({u['overdue']})" for u in overdue["units"]) or "none"))  # fmt: skip
    a = summary["audit"]
    console.print(f"audit / 审计日志: {a['events']} events, verified {a['verified']}")
