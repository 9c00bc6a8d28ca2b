"""`ggzy db`: the warehouse database (embedded PostgreSQL by default)."""

from __future__ import annotations

import typer
from rich.console import Console

from ggzy import database
from ggzy.settings import get_settings

app = typer.Typer(help="The warehouse database: start/stop the embedded server, print its URL, migrate.", no_args_is_help=True)
console = Console(stderr=True)


@app.command()
def start() -> None:
    """Start the embedded PostgreSQL under GGZY_HOME (no-op for an external GGZY_DATABASE_URL)."""
    settings = get_settings()
    if not settings.embedded:
        console.print("GGZY_DATABASE_URL is set: the warehouse is external, nothing to start.")
        return
    url = database.start_embedded(settings)
    console.print(f"[green]embedded PostgreSQL running[/] data={settings.pgdata}")
    typer.echo(url)


@app.command()
def stop() -> None:
    """Stop the embedded PostgreSQL."""
    settings = get_settings()
    stopped = database.stop_embedded(settings)
    console.print("stopped" if stopped else "not running")


@app.command()
def url(airflow: bool = typer.Option(False, "--airflow", help="Print Airflow's metadata database URL instead.")) -> None:
    """Print the warehouse URL (starting the embedded server if needed)."""
    settings = get_settings()
    typer.echo(database.airflow_url(settings) if airflow else database.warehouse_url(settings))


@app.command()
def migrate(revision: str = typer.Argument("heads", help="Alembic revision to upgrade to (default: every head).")) -> None:
    """Apply the warehouse migrations (Alembic) up to REVISION."""
    settings = get_settings()
    database.migrate(settings, revision)
    console.print(f"[green]warehouse schema at {revision}[/]")
