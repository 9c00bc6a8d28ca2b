"""`ggzy delivery`: Distribution of penalty decisions to member units: deliver, status, overdue (抄送与签收)."""

import typer

app = typer.Typer(help="Distribution of penalty decisions to member units: deliver, status, overdue (抄送与签收).", no_args_is_help=True)
