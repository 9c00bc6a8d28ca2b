"""Airflow DAG loader: ggzy_monthly_report (the DAG is built by ggzy.workflows.supervision.monthly_report_dag)."""

from ggzy.workflows.supervision import monthly_report_dag

dag = monthly_report_dag()
