"""`ggzy units`: Member units of the jurisdiction: list, sync, enable, disable, secrets (成员单位)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ggzy import database
from ggzy.commands.users import fail
from ggzy.errors import HubError
from ggzy.settings import get_settings

app = typer.Typer(
    help="成员单位 Member units of the jurisdiction: list, sync from the profile, enable, disable, secrets.",
    no_args_is_help=True,
)
console = Console(stderr=True)


@app.command("list")
def list_command(as_json: bool = typer.Option(False, "--json", help="以 JSON 输出 / print JSON.")) -> None:
    """列出成员单位 List member units: delivery mode, endpoint, status (never the secret)."""
    from ggzy.delivery.units import list_units

    rows = list_units(database.engine(get_settings()))
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, default=str))
        return
    table = Table(title="成员单位 member units")
    for column in ("code", "name 名称", "role", "mode", "endpoint", "status", "reason"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            r["code"],
            r["name"],
            r["role"],
            r["mode"],
            r["endpoint_url"] or "-",
            r["status"],
            r["disabled_reason"] or "",
        )
    Console().print(table)


@app.command()
def sync(
    profile: str = typer.Option(
        None, "--profile", help="辖区配置 / profile key or YAML (default GGZY_JURISDICTION)."
    ),
    receiver: str = typer.Option(
        None,
        "--receiver",
        help="接收端基础地址 / base URL of a receiver hosting /units/<code>/webhook for push units.",
    ),
    endpoints: str = typer.Option(
        "", "--endpoints", help="推送地址文件 / JSON or YAML file {unit code: endpoint URL}."
    ),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出 / print JSON (without secrets)."),
) -> None:
    """从辖区配置同步成员单位 Upsert member units from the profile; secrets are generated once, never replaced.

    Endpoints: --endpoints FILE wins, then --receiver URL; a unit with neither keeps its current endpoint.
    """
    from ggzy.delivery.units import sync_units
    from ggzy.jurisdictions import load_profile

    try:
        loaded = load_profile(profile)
        mapping = _read_endpoints(Path(endpoints)) if endpoints else {}
    except HubError as error:
        raise fail(error, as_json) from None
    base = receiver.rstrip("/") if receiver else None

    def endpoint_for(unit) -> str | None:
        return mapping.get(unit.code) or (f"{base}/units/{unit.code}/webhook" if base else None)

    rows = sync_units(database.engine(get_settings()), loaded, endpoint_for)
    public = [{k: v for k, v in r.items() if k != "secret"} for r in rows]
    if as_json:
        typer.echo(json.dumps(public, ensure_ascii=False, default=str))
        return
    console.print(
        f"[green]已同步 {len(loaded.units)} 个成员单位 / synced {len(loaded.units)} units[/] ({loaded.key})"
    )
    list_command(as_json=False)


def _read_endpoints(path: Path) -> dict[str, str]:
    """The {unit code: endpoint URL} mapping of an endpoints file (JSON is YAML too)."""
    import yaml

    try:
        mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        mapping = exc
    if not isinstance(mapping, dict):
        raise HubError(
            "invalid_endpoints_file",
            f"推送地址文件 {path} 无法读取或不是映射（单位代码: URL）",
            f"endpoints file {path} cannot be read or is not a mapping (unit code: URL)",
            detail={"file": str(path), "problem": str(mapping)[:200]},
        )
    return mapping


@app.command()
def enable(
    code: str = typer.Argument(..., help="单位代码 / unit code"),
    keep_failed: bool = typer.Option(
        False,
        "--keep-failed",
        help="不重新排队失败的消息 / do not re-queue 'failed' rows (only 'disabled' ones).",
    ),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出 / print JSON."),
) -> None:
    """启用成员单位 Re-activate a unit; its disabled (and failed) messages are queued again."""
    from ggzy.delivery.units import enable_unit

    try:
        unit = enable_unit(database.engine(get_settings()), code, requeue_failed=not keep_failed)
    except HubError as error:
        raise fail(error, as_json) from None
    if as_json:
        typer.echo(json.dumps(unit, ensure_ascii=False, default=str))
    else:
        console.print(
            f"[green]已启用 enabled {code}[/]; 重新排队 re-queued {unit['rows_requeued']} message(s)"
        )


@app.command()
def disable(
    code: str = typer.Argument(..., help="单位代码 / unit code"),
    reason: str = typer.Option("operator", "--reason", help="停用原因 / reason (shown in reports)."),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出 / print JSON."),
) -> None:
    """停用成员单位 Stop pushing to a unit; its pending messages become 'disabled' and are reported."""
    from ggzy.delivery.units import disable_unit

    try:
        unit = disable_unit(database.engine(get_settings()), code, reason)
    except HubError as error:
        raise fail(error, as_json) from None
    if as_json:
        typer.echo(json.dumps(unit, ensure_ascii=False, default=str))
    else:
        console.print(
            f"[yellow]已停用 disabled {code}[/]: {unit['rows_disabled']} pending message(s) set 'disabled'"
        )


@app.command()
def secret(code: str = typer.Argument(..., help="单位代码 / unit code")) -> None:
    """显示签名密钥 Print a unit's webhook signing secret (whsec_…), to configure its receiver."""
    from ggzy.delivery.units import unit_secret

    try:
        typer.echo(unit_secret(database.engine(get_settings()), code))
    except HubError as error:
        raise fail(error, False) from None
