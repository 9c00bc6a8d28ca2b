"""Airflow DAG loader: ggzy_penalty_delivery (the DAG is built by ggzy.workflows.dags.penalty_delivery_dag)."""

from ggzy.workflows.dags import penalty_delivery_dag

dag = penalty_delivery_dag()
