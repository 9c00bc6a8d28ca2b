"""`ggzy airflow`: Airflow for the hub: its environment, metadata database and DAG runs."""

from __future__ import annotations

import json
import os
import shlex
import subprocess

import typer
from rich.console import Console

from ggzy.settings import get_settings

app = typer.Typer(
    help="Airflow for the hub: its environment, metadata database and DAG runs.", no_args_is_help=True
)
console = Console(stderr=True)

SECRET_NAMES = ("SECRET", "FERNET", "PASSWORD", "SQL_ALCHEMY_CONN")


@app.command("env")
def env_command(
    export: bool = typer.Option(
        False, "--export", help="Print `export K=V` lines for `eval $(ggzy airflow env --export)`."
    ),
    show_secrets: bool = typer.Option(
        False, "--show-secrets", help="Print secrets and connection strings in clear."
    ),
) -> None:
    """Print the environment every Airflow process of the hub gets (secrets masked unless asked)."""
    from ggzy.airflow_env import airflow_environment

    env = airflow_environment(get_settings())
    if not show_secrets and not export:
        env = {k: ("***" if any(s in k for s in SECRET_NAMES) else v) for k, v in env.items()}
    if export:
        typer.echo("\n".join(f"export {key}={shlex.quote(value)}" for key, value in env.items()))
    else:
        typer.echo(json.dumps(env, indent=2, ensure_ascii=False))


@app.command("migrate")
def migrate_command(
    force: bool = typer.Option(False, "--force", help="Run `airflow db migrate` even if done."),
) -> None:
    """Create or upgrade Airflow's metadata database (skipped when this Airflow version already did)."""
    from ggzy.airflow_env import ensure_airflow_db

    outcome = ensure_airflow_db(get_settings(), force=force)
    if outcome["migrated"]:
        console.print(
            f"[green]Airflow metadata at {outcome['revision']}[/] (migrated in {outcome['seconds']} s)"
        )
    else:
        console.print(
            f"Airflow metadata already at {outcome['revision']} (Airflow {outcome['airflow_version']})"
        )


@app.command("admin")
def admin_command(
    show_password: bool = typer.Option(False, "--show-password", help="Print the password."),
) -> None:
    """Where Airflow's admin login is kept (user `admin`, generated password under AIRFLOW_HOME)."""
    from ggzy.airflow_env import admin_credentials, airflow_base_url

    settings = get_settings()
    user, password, path = admin_credentials(settings)
    console.print(f"Airflow UI {airflow_base_url(settings)} · user [bold]{user}[/] · password file {path}")
    if show_password:
        typer.echo(password)


@app.command(
    "cli",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def cli_command(ctx: typer.Context) -> None:
    """Run any Airflow CLI command with the hub's environment, e.g. `ggzy airflow cli dags list`."""
    from ggzy.airflow_env import airflow_command, airflow_environment

    env = {**os.environ, **airflow_environment(get_settings())}
    raise typer.Exit(subprocess.call(airflow_command(*ctx.args), env=env))
