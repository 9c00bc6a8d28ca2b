"""The hub's Airflow workflows: DAG factories (dags.py) over plain, importable task functions (tasks.py).

The dags/ folder only holds tiny loader files calling the factories; every @task is a thin wrapper
around a function in tasks.py, which can be called and tested without Airflow. The DAG ids live here,
free of Airflow imports, for the supervisor and the CLI.
"""

PENALTY_INGEST = "ggzy_penalty_ingest"
PENALTY_DELIVERY = "ggzy_penalty_delivery"
OVERDUE_REPORT = "ggzy_delivery_overdue_report"
HUB_DAG_IDS = (PENALTY_INGEST, PENALTY_DELIVERY, OVERDUE_REPORT)
PENALTY_DECISIONS_URI = "ggzy://warehouse/core/penalty_decision"
