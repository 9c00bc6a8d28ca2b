"""`ggzy standins`: Local stand-ins for external systems: member-unit receiver, department submitters."""

import typer

app = typer.Typer(help="Local stand-ins for external systems: member-unit receiver, department submitters.", no_args_is_help=True)


# --- departments (department stand-in: realistic good and broken 双公示 files) ---------------------


@app.command("departments")
def departments_command(
    out: str = typer.Option(
        ..., "--out", help="Drop folder to write into, laid out as OUT/<unit code>/<file>."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed writes the same bytes."),
    rows: int = typer.Option(20, "--rows", min=1, help="Good rows per file (broken rows come on top)."),
    units: str = typer.Option(
        "",
        "--units",
        help="Comma-separated unit codes (default: the jurisdiction's supervising departments).",
    ),
    truth: str = typer.Option(
        "", "--truth", help="Also write the ground truth (expected rules per row) to this JSON file."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print what was written as JSON on stdout."),
) -> None:
    """Write demo department files: a broken workbook, a GBK CSV, a broken JSON, a legacy CSV, then good files.

    Example: ggzy standins departments --out .ggzy/drop --seed 1
    """
    import json
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from standins.departments import write_demo_drop

    codes = [code.strip() for code in units.split(",") if code.strip()] or None
    written = write_demo_drop(Path(out), codes, seed=seed, rows=rows)
    summaries = [{"path": str(path), **generated.summary()} for path, generated in written]
    if truth:
        Path(truth).write_text(json.dumps(summaries, ensure_ascii=False, indent=2), encoding="utf-8")
    if as_json:
        typer.echo(
            json.dumps(
                [{k: v for k, v in s.items() if k != "expected"} for s in summaries], ensure_ascii=False
            )
        )
        return
    table = Table(
        "unit", "file", "rows", "loaded", "warned", "quarantined", "duplicate", title=f"written to {out}"
    )
    columns = "unit filename rows_in rows_loaded rows_warned rows_quarantined rows_duplicate".split()
    for s in summaries:
        table.add_row(*(str(s[c]) for c in columns))
    Console(stderr=True).print(table)


# --- members (member-unit receiver stand-in: verifies, de-duplicates, stores, acknowledges) -------

members_app = typer.Typer(
    help="成员单位接收端模拟 Member-unit receiver stand-in: many units' webhook endpoints on one port.",
    no_args_is_help=True,
)
app.add_typer(members_app, name="members")


@members_app.command("serve")
def members_serve_command(
    config: str = typer.Option(..., "--config", help="配置文件 / JSON or YAML {hub_url, data_dir, units}."),
    port: int = typer.Option(8700, "--port", help="监听端口 / port on 127.0.0.1."),
    host: str = typer.Option("127.0.0.1", "--host", help="监听地址 / bind address."),
    data_dir: str = typer.Option("", "--data-dir", help="存储目录 / where received messages are kept (SQLite)."),
    poll_seconds: float = typer.Option(
        0.0, "--poll-seconds", help="拉取单位读取订阅的间隔（0 = 不拉取）/ read pull units' feeds every N s (0: off)."
    ),
) -> None:
    """运行接收端 Serve /units/<code>/webhook for every configured unit until Ctrl-C.

    Failure modes: POST /control/<code> {"mode": "ok"|"down"|"500"|"slow"|"410", "slow_seconds": n,
    "acknowledge": true|false}. Inspect: GET /units, /units/<code>/messages, /units/<code>/stats.
    """
    from pathlib import Path

    from rich.console import Console

    from standins.member_units import load_config, receiver_from_config

    settings = load_config(Path(config))
    receiver = receiver_from_config(settings, host=host, port=port, data_dir=Path(data_dir) if data_dir else None)
    Console(stderr=True).print(
        f"[green]member-unit receiver[/] on http://{host}:{port} · {len(receiver.units)} unit(s) · "
        f"receipts to {receiver.hub_url or '(none: acknowledging off)'} · data {receiver.store.path}"
    )
    receiver.serve(poll_seconds=poll_seconds or None)


@members_app.command("config")
def members_config_command(
    out: str = typer.Option(..., "--out", help="写入的配置文件 / configuration file to write (JSON)."),
    hub_url: str = typer.Option("", "--hub", help="中心 API 地址 / hub API base URL (default GGZY_PUBLIC_BASE_URL)."),
    data_dir: str = typer.Option("", "--data-dir", help="接收端存储目录 / receiver data dir (default GGZY_HOME/standins/members)."),
    no_tokens: bool = typer.Option(False, "--no-tokens", help="不签发令牌（不签收）/ issue no tokens (no receipts)."),
) -> None:
    """生成接收端配置 Write a receiver configuration from the warehouse: every unit's secret and a new member token."""
    import json
    import os
    from pathlib import Path

    from ggzy import database
    from ggzy.settings import get_settings
    from standins.member_units import config_from_warehouse

    settings = get_settings()
    config = config_from_warehouse(
        database.engine(settings), hub_url=hub_url or settings.api_base_url,
        data_dir=Path(data_dir) if data_dir else settings.home / "standins" / "members", issue_tokens=not no_tokens,
    )  # fmt: skip
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds secrets and tokens
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(config, fh, ensure_ascii=False, indent=2)
    typer.echo(str(path))
