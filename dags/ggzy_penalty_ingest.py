"""Airflow DAG loader: ggzy_penalty_ingest (the DAG is built by ggzy.workflows.dags.penalty_ingest_dag)."""

from ggzy.workflows.dags import penalty_ingest_dag

dag = penalty_ingest_dag()
