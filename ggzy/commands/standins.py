"""`ggzy standins`: Local stand-ins for external systems: member-unit receiver, department submitters."""

import typer

app = typer.Typer(help="Local stand-ins for external systems: member-unit receiver, department submitters.", no_args_is_help=True)
