"""`ggzy audit`: The hash-chained audit log: verify it, checkpoint it (审计日志)."""

import typer

app = typer.Typer(help="The hash-chained audit log: verify it, checkpoint it (审计日志).", no_args_is_help=True)
