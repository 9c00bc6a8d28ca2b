"""Airflow DAG loader: ggzy_delivery_overdue_report (the DAG is built by ggzy.workflows.dags.delivery_overdue_report_dag)."""

from ggzy.workflows.dags import delivery_overdue_report_dag

dag = delivery_overdue_report_dag()
