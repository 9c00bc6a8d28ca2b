"""Airflow DAG loader: ggzy_trading_api_pull (built by ggzy.workflows.trading.trading_dag("api"))."""

from ggzy.workflows.trading import trading_dag

dag = trading_dag("api")
