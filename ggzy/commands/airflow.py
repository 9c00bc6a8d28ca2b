"""`ggzy airflow`: Airflow for the hub: its environment, metadata database and DAG runs."""

import typer

app = typer.Typer(help="Airflow for the hub: its environment, metadata database and DAG runs.", no_args_is_help=True)
