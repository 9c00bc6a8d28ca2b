"""Airflow DAG loader: ggzy_trading_db_pull (built by ggzy.workflows.trading.trading_dag("database"))."""

from ggzy.workflows.trading import trading_dag

dag = trading_dag("database")
