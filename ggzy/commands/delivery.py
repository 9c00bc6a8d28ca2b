"""`ggzy delivery`: Distribution of penalty decisions to member units: deliver, status, overdue (抄送与签收)."""

from __future__ import annotations

import json
from datetime import date

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ggzy import database
from ggzy.commands.users import fail
from ggzy.errors import HubError
from ggzy.settings import get_settings

app = typer.Typer(
    help="抄送与签收 Distribution of penalty decisions to member units: deliver, status, overdue.",
    no_args_is_help=True,
)
console = Console(stderr=True)


@app.command()
def run(
    until_idle: bool = typer.Option(
        False, "--until-idle", help="重复推送直到没有到期消息 / repeat passes while messages are due."
    ),
    max_seconds: float = typer.Option(
        300.0, "--max-seconds", help="--until-idle 的时间上限 / time limit (s)."
    ),
    limit: int = typer.Option(
        None, "--limit", help="每轮最多条数 / rows per pass (default GGZY_DELIVERY_BATCH_SIZE)."
    ),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出摘要 / print the summary as JSON."),
) -> None:
    """推送到期消息 Push due messages to member units (one pass, or until idle); retries wait for their backoff."""
    from ggzy.delivery import outbox

    settings = get_settings()
    engine = database.engine(settings)
    due = outbox.due_count(engine)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("推送 delivering", total=due or None)
        if until_idle:

            def advance(one: outbox.DeliveryRunSummary) -> None:
                progress.update(task, total=max(due, progress.tasks[0].completed + one.claimed))
                progress.advance(task, one.claimed)

            summary = outbox.deliver_until_idle(engine, settings, max_seconds, on_pass=advance)
        else:
            summary = outbox.deliver_due(engine, settings, limit=limit)
            progress.advance(task, summary.claimed)
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), ensure_ascii=False))
        return
    console.print(
        f"尝试 attempted {summary.claimed} · [green]送达 delivered {summary.delivered}[/] · "
        f"[yellow]待重试 retrying {summary.retrying}[/] · [red]失败 failed {summary.failed}[/] · "
        f"停用 disabled rows {summary.rows_disabled} · {summary.passes} pass(es), {summary.seconds}s"
    )
    for unit in summary.units_disabled:
        console.print(
            f"[red]成员单位 {unit} 的接收端返回 410，已停用 / unit {unit} answered 410 Gone: disabled[/]"
        )
    if summary.errors:
        console.print("错误 errors: " + ", ".join(f"{k} × {v}" for k, v in sorted(summary.errors.items())))


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="以 JSON 输出 / print JSON.")) -> None:
    """送达与签收统计 Expected, delivered, acknowledged, pending, failed and disabled, overall and per unit."""
    from ggzy.delivery.report import delivery_status

    report = delivery_status(database.engine(get_settings()))
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, default=str))
        return
    figures = ("expected", "delivered", "acknowledged", "pending", "failed", "disabled")
    table = Table(title=f"抄送与签收 delivery · {report['events']} events")
    for column in ("unit 单位", "mode", "status", *figures, "last error"):
        table.add_column(column, overflow="fold")
    for unit in report["units"]:
        table.add_row(
            f"{unit['code']} {unit['name']}",
            unit["mode"],
            unit["status"],
            *(str(unit[f]) for f in figures),
            unit["last_error"] or "",
        )
    table.add_row("[bold]合计 total[/]", "", "", *(f"[bold]{report[f]}[/]" for f in figures), "")
    Console().print(table)


@app.command()
def overdue(
    as_of: str = typer.Option(
        None, "--as-of", help="截止日期 YYYY-MM-DD，默认今天 / as of this date (default today)."
    ),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出 / print JSON."),
) -> None:
    """逾期未签收 Units whose acknowledgement (签收) is overdue by the profile's working-day deadline."""
    from ggzy.delivery.report import overdue_report

    try:
        day = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        raise fail(
            HubError(
                "invalid_date",
                f"--as-of 须为 YYYY-MM-DD 日期：{as_of}",
                f"--as-of must be a YYYY-MM-DD date: {as_of}",
                detail={"field": "--as-of", "value": as_of},
            ),
            as_json,
        ) from None
    items = overdue_report(database.engine(get_settings()), day)
    if as_json:
        typer.echo(json.dumps({"as_of": day.isoformat(), "items": items}, ensure_ascii=False))
        return
    if not items:
        console.print(f"[green]截至 {day} 没有逾期未签收的单位 / no overdue acknowledgements as of {day}[/]")
        return
    table = Table(title=f"逾期未签收 overdue acknowledgements as of {day}")
    for column in (
        "unit 单位",
        "overdue 逾期条数",
        "oldest due 最早应签收",
        "working days late 逾期工作日",
        "reason 原因",
    ):
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(
            f"{item['unit']} {item['name']}",
            str(item["overdue"]),
            item["oldest_due"],
            str(item["working_days_overdue"]),
            f"{item['reason_zh']} / {item['reason_en']}",
        )
    Console().print(table)
