"""Airflow DAG loader: ggzy_trading_file_ingest (built by ggzy.workflows.trading.trading_dag("files"))."""

from ggzy.workflows.trading import trading_dag

dag = trading_dag("files")
