"""`ggzy ingest`: load department files by hand (the drop folder and upload endpoint do the same)."""

import typer

app = typer.Typer(help="Load files into the warehouse by hand: land, validate, quarantine, merge.", no_args_is_help=True)
