"""Airflow DAG loader: ggzy_supervision (the DAG is built by ggzy.workflows.supervision.supervision_dag)."""

from ggzy.workflows.supervision import supervision_dag

dag = supervision_dag()
