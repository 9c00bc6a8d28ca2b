"""`ggzy audit`: The hash-chained audit log: verify it, checkpoint it (审计日志)."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from ggzy import audit, database
from ggzy.settings import get_settings

app = typer.Typer(
    help="The hash-chained audit log: verify it, checkpoint it (审计日志).", no_args_is_help=True
)
console = Console(stderr=True)


@app.command()
def verify(as_json: bool = typer.Option(False, "--json", help="Print the result as JSON.")) -> None:
    """Recompute every hash, check every link, gap-free sequence and the chain head; exit 1 when broken."""
    result = audit.verify_chain(database.engine(get_settings()))
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    elif result.ok:
        console.print(
            f"[green]审计日志完整 audit log intact[/]: {result.events} events, head seq {result.head_seq}"
        )
    else:
        console.print(
            f"[red]审计日志已被篡改 audit log BROKEN[/] at seq {result.first_broken_seq} "
            f"({result.problems} problem(s), {result.events} rows read)\n{result.reason_zh}\n{result.reason}"
        )
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def tail(
    n: int = typer.Option(20, "-n", "--lines", min=1, help="How many of the latest events."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (one array)."),
) -> None:
    """Show the latest audit events, oldest first."""
    events = audit.tail(database.engine(get_settings()), n)
    if as_json:
        typer.echo(json.dumps(events, ensure_ascii=False))
        return
    table = Table()
    for name in ("seq", "time (UTC)", "actor", "org", "role", "case", "action", "rows", "client"):
        table.add_column(name, overflow="fold")
    for e in events:
        table.add_row(
            str(e["seq"]), e["occurred_at"], e["actor"] or "-", e["org_code"] or "-", e["role"] or "-",
            e["case_ref"] or "-", e["action"], "-" if e["row_count"] is None else str(e["row_count"]),
            e["client_addr"] or "-",
        )  # fmt: skip
    Console().print(table)
