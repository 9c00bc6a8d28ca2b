"""`ggzy users`: API tokens for people in member units and oversight bodies (签发/吊销令牌)."""

import typer

app = typer.Typer(help="API tokens for people in member units and oversight bodies (签发/吊销令牌).", no_args_is_help=True)
