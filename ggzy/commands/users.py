"""`ggzy users`: API tokens for people in member units and oversight bodies (签发/吊销令牌)."""

from __future__ import annotations

import getpass
import json

import typer
from rich.console import Console
from rich.table import Table

from ggzy import auth, database
from ggzy.errors import HubError
from ggzy.settings import get_settings

app = typer.Typer(
    help="API tokens for people in member units and oversight bodies (签发/吊销令牌).", no_args_is_help=True
)
console = Console(stderr=True)


def cli_actor() -> str:
    """Who runs this command, as recorded in the audit log."""
    return f"cli:{getpass.getuser()}"


def fail(error: HubError, as_json: bool) -> typer.Exit:
    """Print a HubError (JSON on stdout with --json, else bilingual on stderr) and return the exit to raise."""
    if as_json:
        typer.echo(json.dumps(error.to_dict(), ensure_ascii=False))
    else:
        console.print(f"[red]{error.zh}[/]\n{error.en}")
    return typer.Exit(1)


def _warn_unknown_org(org: str) -> None:
    try:
        from ggzy.jurisdictions import load_profile

        profile = load_profile()
    except Exception:  # the profile is advisory here; a token can be issued without it
        return
    if org != profile.lead_agency and all(unit.code != org for unit in profile.units):
        console.print(
            f"[yellow]注意：单位代码 {org} 不在辖区“{profile.name}”的成员单位中 / "
            f"note: {org} is not a member unit of profile {profile.key}[/]"
        )


@app.command()
def create(
    org: str = typer.Option(..., "--org", help="单位代码 / organisation (member unit) code"),
    role: str = typer.Option(..., "--role", help="oversight | member | engineer | admin"),
    person: str | None = typer.Option(
        None, "--person", help="持有人姓名 / holder's name (default: ROLE@ORG)"
    ),
    expires_days: int | None = typer.Option(
        None, "--expires-days", help="有效天数 / days valid (default GGZY_TOKEN_TTL_DAYS)"
    ),
    note: str | None = typer.Option(None, "--note", help="备注 / free note"),
    as_json: bool = typer.Option(False, "--json", help="Print the token and its record as JSON."),
) -> None:
    """Issue an API token; the token is printed once and only its hash is stored."""
    settings = get_settings()
    if not as_json:
        _warn_unknown_org(org)
    try:
        token, record = auth.create_token(
            database.engine(settings), person=person or f"{role}@{org}", org_code=org, role=role,
            ttl_days=expires_days, note=note, issued_by=cli_actor(),
        )  # fmt: skip
    except HubError as error:
        raise fail(error, as_json) from None
    if as_json:
        typer.echo(json.dumps({"token": token, **record.to_dict()}, ensure_ascii=False))
        return
    console.print(
        f"[green]令牌已签发 token issued[/] id={record.id} role={record.role} org={record.org_code} "
        f"person={record.person} expires={record.expires_at:%Y-%m-%d}\n"
        "[bold]只显示这一次，请妥善保存 / shown once only, store it safely:[/]"
    )
    typer.echo(token)


@app.command("list")
def list_command(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List issued tokens (prefix, holder, role, status; never the token)."""
    records = auth.list_tokens(database.engine(get_settings()))
    if as_json:
        typer.echo(json.dumps([record.to_dict() for record in records], ensure_ascii=False))
        return
    table = Table()
    for name in ("id", "prefix", "person", "org", "role", "status", "expires", "last used"):
        table.add_column(name, overflow="fold")
    for r in records:
        last_used = f"{r.last_used_at:%Y-%m-%d %H:%M}" if r.last_used_at else "-"
        table.add_row(
            r.id,
            r.prefix + "…",
            r.person,
            r.org_code,
            r.role,
            r.status,
            f"{r.expires_at:%Y-%m-%d}",
            last_used,
        )
    Console().print(table)


@app.command()
def revoke(
    token_id: str = typer.Argument(..., help="令牌编号（见 ggzy users list）/ token id"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Revoke a token immediately."""
    try:
        record = auth.revoke_token(database.engine(get_settings()), token_id, revoked_by=cli_actor())
    except HubError as error:
        raise fail(error, as_json) from None
    if as_json:
        typer.echo(json.dumps(record.to_dict(), ensure_ascii=False))
    else:
        console.print(
            f"[green]已吊销 revoked[/] {record.id} ({record.person}, {record.org_code}) at {record.revoked_at}"
        )
