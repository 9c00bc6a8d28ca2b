"""`ggzy audit`: The hash-chained audit log: verify it, checkpoint it (审计日志)."""

from __future__ import annotations

import json
from pathlib import Path

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
def verify(
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    checkpoint: Path | None = typer.Option(
        None,
        "--checkpoint",
        exists=True,
        dir_okay=False,
        help="A signed checkpoint (from `ggzy audit checkpoint`): also prove the log was not rewritten since.",
    ),  # fmt: skip
    public_key: str | None = typer.Option(
        None,
        "--public-key",
        help="Trusted hub public key (base64); default: this hub's own key under GGZY_HOME.",
    ),
) -> None:
    """Recompute every hash, check every link, gap-free sequence and the chain head; exit 1 when broken."""
    settings = get_settings()
    engine = database.engine(settings)
    if checkpoint is None:
        result = audit.verify_chain(engine)
    else:
        try:
            document = json.loads(checkpoint.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            console.print(f"[red]检查点文件无法读取 unreadable checkpoint[/] {checkpoint}: {error}")
            raise typer.Exit(2) from None
        trusted = public_key or audit.public_key_text(audit.signing_key(settings.home))
        result = audit.verify_with_checkpoint(engine, document, trusted_public_key=trusted)
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


@app.command()
def checkpoint(
    out: Path | None = typer.Option(None, "--out", dir_okay=False, help="Write the checkpoint to this file."),
) -> None:
    """Sign the latest sequence number and hash with the hub's ed25519 key; keep the file outside the database."""
    settings = get_settings()
    document = audit.make_checkpoint(database.engine(settings), settings.home)
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    console.print(
        f"[green]检查点已签名 checkpoint signed[/]: seq {document['seq']} hash {document['hash'][:16]}… -> {out}\n"
        "请交监督机构和一次写入存储留存 / hand it to the oversight bodies and write-once storage"
    )
