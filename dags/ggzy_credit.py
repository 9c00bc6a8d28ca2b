"""Airflow DAG loader: ggzy_credit (the DAG is built by ggzy.workflows.credit.credit_dag)."""

from ggzy.workflows.credit import credit_dag

dag = credit_dag()
