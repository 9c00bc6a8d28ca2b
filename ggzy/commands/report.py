"""`ggzy report monthly` (月度报告) and `ggzy supervision` (rescore, alerts, handling, watch list)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from ggzy import database
from ggzy.commands.users import fail
from ggzy.errors import HubError
from ggzy.settings import get_settings

app = typer.Typer(help="报告 Reports: the monthly supervision report (HTML + PDF).", no_args_is_help=True)
supervision_app = typer.Typer(
    help="智慧监管 Smart supervision: rescore, 402-form alerts and their handling, the watch list.",
    no_args_is_help=True,
)
console = Console(stderr=True)


def _print(result: object, as_json: bool) -> None:
    text = json.dumps(result, ensure_ascii=False, indent=None if as_json else 2, default=str)
    typer.echo(text)


@app.command("monthly")
def monthly(
    month: str = typer.Option(..., "--month", help="月份 YYYY-MM / the month, e.g. 2025-03."),
    out: Path = typer.Option(
        None, "--out", help="输出目录（默认 GGZY_HOME/reports/YYYY-MM）/ output folder."
    ),
    no_deliver: bool = typer.Option(False, "--no-deliver", help="只生成不抄送 / write only, do not deliver."),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出 / print JSON."),
) -> None:
    """写出月度报告 HTML 与 PDF 并抄送牵头部门、监督部门、纪检监察与公安 / write and deliver the monthly report."""
    from ggzy.supervision.report import write_monthly_report

    settings = get_settings()
    try:
        files = write_monthly_report(database.engine(settings), settings, month, out, deliver=not no_deliver)
    except HubError as error:
        raise fail(error, as_json) from None
    _print({"html": str(files.html), "pdf": str(files.pdf), "html_sha256": files.html_sha256,
            "pdf_sha256": files.pdf_sha256, "report_id": files.report_id, "delivered_to": files.outbox_rows,
            "figures": files.figures}, as_json)  # fmt: skip


@supervision_app.command("score")
def score(
    full: bool = typer.Option(False, "--full", help="全部重算 / rescore everything, not only what changed."),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出 / print JSON."),
) -> None:
    """重新评分自上次以来变化的标段，报警并更新重点关注名单 / rescore what changed, alert, update the watch list."""
    from ggzy.supervision.service import run_supervision

    try:
        _print(run_supervision(full=full), as_json)
    except HubError as error:
        raise fail(error, as_json) from None


@supervision_app.command("alerts")
def alerts(
    unit: str = typer.Option(None, "--unit", help="接收单位代码 / routed member unit."),
    handled: str = typer.Option(None, "--handled", help="0 未处理 / 1 已处理."),
    limit: int = typer.Option(50, "--limit"),
) -> None:
    """列出报警（402 格式）/ list alerts in the 402 form."""
    from ggzy.supervision.alerts import list_alerts

    _print(list_alerts(database.engine(get_settings()), unit=unit, handled=handled, limit=limit), True)


@supervision_app.command("handle")
def handle(
    alert_id: int = typer.Argument(..., help="报警编号 / alert id."),
    handled: str = typer.Option("1", "--handled", help="HANDLED 0/1."),
    result: str = typer.Option(..., "--result", help="HANDLE_RESULT 处理结果."),
    by: str = typer.Option(..., "--by", help="处理人及单位 / who reports the handling."),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出 / print JSON."),
) -> None:
    """反馈报警处理情况 / feed back how an alert was handled (HANDLED, HANDLE_RESULT)."""
    from ggzy.supervision.alerts import record_handling

    settings = get_settings()
    try:
        _print(record_handling(database.engine(settings), settings, alert_id, handled, result, by), as_json)
    except HubError as error:
        raise fail(error, as_json) from None


@supervision_app.command("watchlist")
def watchlist(
    current: bool = typer.Option(False, "--current", help="只列当前在册 / only current entries."),
) -> None:
    """重点关注对象名单（含列入、移出日期与原因）/ the watch list with reasons and dates."""
    from ggzy.supervision.watchlist import watch_list

    _print(watch_list(database.engine(get_settings()), current_only=current), True)
