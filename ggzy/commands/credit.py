"""`ggzy credit`: 失信惩戒 restrictions: check an entity as of a date, pull the lists, run the cross-checks."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ggzy import database
from ggzy.commands.users import fail
from ggzy.errors import HubError
from ggzy.settings import get_settings

app = typer.Typer(
    help="失信惩戒 Credit restrictions: as-of checks, Credit China pulls, cross-checks against trading data.",
    no_args_is_help=True,
)
console = Console(stderr=True)


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HubError(
            "invalid_date", f"{option} 不是有效日期（YYYY-MM-DD）：{value}", f"{option} is not a date (YYYY-MM-DD): {value}",
            detail={"option": option, "value": value},
        ) from None  # fmt: skip


def _parse_moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise HubError(
            "invalid_date", f"--known-on 不是有效时间（ISO 8601）：{value}", f"--known-on is not an ISO 8601 time: {value}",
            detail={"option": "--known-on", "value": value},
        ) from None  # fmt: skip
    if moment.tzinfo is None:  # a bare date/time is China time
        from zoneinfo import ZoneInfo

        moment = moment.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    return moment


@app.command()
def check(
    uscc: str = typer.Argument(..., help="统一社会信用代码 / unified social credit code (or P:... key of a person)."),
    as_of: str = typer.Option(None, "--as-of", help="日期 YYYY-MM-DD（默认今天）/ the day to answer for (default today)."),
    known_on: str = typer.Option(None, "--known-on", help="按当时所知 / as the hub knew it at this ISO time."),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出 / print JSON."),
) -> None:
    """某日是否受限 Is the entity restricted on a date, by which entries, and which entries were removed."""
    from ggzy.pipelines.credit import credit_check

    try:
        answer = credit_check(database.engine(get_settings()), uscc, _parse_date(as_of, "--as-of"), _parse_moment(known_on))
    except HubError as error:
        raise fail(error, as_json) from None
    if as_json:
        typer.echo(json.dumps(answer, ensure_ascii=False, default=str))
        return
    verdict = "[red]受限 RESTRICTED[/]" if answer["restricted"] else "[green]未受限 not restricted[/]"
    console.print(f"{answer['entity']['name'] or uscc} · {answer['as_of']} · {verdict}")
    for title, entries in (("限制中 active", answer["restrictions"]), ("已移出 removed", answer["removed"]),
                           ("已到期 ended", answer["ended"])):  # fmt: skip
        if not entries:
            continue
        table = Table(title=title)
        for col in ("source", "source_key", "basis_document", "reason", "start_date", "end_date", "removed_on",
                    "removal_document"):  # fmt: skip
            table.add_column(col)
        for e in entries:
            table.add_row(*(str(e[c] or "") for c in ("source", "source_key", "basis_document", "reason", "start_date",
                                                      "end_date", "removed_on", "removal_document")))  # fmt: skip
        console.print(table)


@app.command()
def pull(
    base_url: str = typer.Option(..., "--url", help="信用中国数据共享接口地址 / Credit China channel base URL."),
    app_key: str = typer.Option(..., "--app-key", envvar="GGZY_CREDIT_CHINA_APP_KEY", help="应用 key / app key."),
    app_secret: str = typer.Option(..., "--app-secret", envvar="GGZY_CREDIT_CHINA_APP_SECRET", help="应用密钥 / app secret."),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出 / print JSON."),
) -> None:
    """拉取并入库 Pull every list from its watermark, merge the exchange blacklist, run the cross-checks."""
    from connectors.credit_china import CreditChinaApi
    from ggzy.pipelines.credit import run_all

    api = CreditChinaApi(base_url, app_key, app_secret)
    try:
        report = run_all(api)
    except HubError as error:
        raise fail(error, as_json) from None
    finally:
        api.close()
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, default=str))
        return
    for dataset, figures in report.figures().items():
        console.print(f"{dataset}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    console.print(f"alerts: {report.alerts}")


@app.command("ingest-file")
def ingest_file(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="<list>_<yyyyMMdd>.json|csv"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出 / print JSON."),
) -> None:
    """文件交换入库 Ingest one daily file of the Credit China file exchange."""
    from ggzy.pipelines.credit import ingest_exchange_file

    try:
        report = ingest_exchange_file(path)
    except HubError as error:
        raise fail(error, as_json) from None
    typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, default=str) if as_json else
               f"{report.dataset}: in {report.rows_in}, loaded {report.rows_loaded}, quarantined"
               f" {report.rows_quarantined}, duplicate {report.rows_duplicate}")  # fmt: skip


@app.command("cross-check")
def cross_check(as_json: bool = typer.Option(False, "--json", help="以 JSON 输出 / print JSON.")) -> None:
    """交叉比对 Alerts (402 form) for restricted bidders, winners, contractors and IS_LOST disagreements."""
    from ggzy.pipelines.credit import run_cross_checks

    result = run_cross_checks(database.engine(get_settings()))
    typer.echo(json.dumps(result, ensure_ascii=False) if as_json else ", ".join(f"{k}: {v}" for k, v in result.items()))
