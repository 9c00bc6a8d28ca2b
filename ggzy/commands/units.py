"""`ggzy units`: Member units of the jurisdiction: list, sync, secrets (成员单位)."""

import typer

app = typer.Typer(help="Member units of the jurisdiction: list, sync, secrets (成员单位).", no_args_is_help=True)
