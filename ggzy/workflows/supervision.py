"""Supervision workflows: task functions (plain, testable without Airflow) and two DAG factories.

- `ggzy_supervision` (every 30 minutes): rescore -> deliver. Rescores the sections whose trading rows changed
  since the last successful run (ggzy.supervision.service), raises 402-form alerts routed to the supervising
  departments, updates the watch list, then pushes the outbox so the alerts leave at once.
- `ggzy_monthly_report` (the 1st of each month, 06:00 Beijing time): write the previous month's report
  (HTML + PDF under GGZY_HOME/reports/<yyyy-mm>/), record and deliver it, push the outbox.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

SUPERVISION_DAG_ID = "ggzy_supervision"
MONTHLY_REPORT_DAG_ID = "ggzy_monthly_report"

SUPERVISION_DOC = """
### 围标串标监测与报警 / Bid-rigging monitoring and alerts

**中文**：每 30 分钟对自上次运行以来有变化的标段重新计算价格、身份关联和市场行为指标及综合可疑度；
达到阈值的标段生成 402 格式项目报警（注明法律条款），按招标项目的监督部门路由并写入抄送队列；
更新重点关注对象名单（列入、移出及原因），随后推送。

**English**: every 30 minutes, rescores the sections whose trading data changed since the last run (price,
identity and market screens, combined explained score), raises 402-form alerts citing their articles,
routed to each tender project's supervising department through the outbox, updates the watch list
(entries and exits with reasons), then pushes the outbox. Code: `ggzy.supervision`.
"""

MONTHLY_DOC = """
### 监管月度报告 / Monthly supervision report

**中文**：每月 1 日 06:00（北京时间）生成上月报告（HTML 与 PDF，含图表）：交易基本情况、价格分析、
市场分析、效率评估、发现的问题和线索、成员单位抄送签收情况；抄送牵头部门、行政监督部门、纪检监察机关和公安机关。

**English**: on the 1st of each month at 06:00 Beijing time, writes last month's report (HTML and PDF with
charts): trading basics, prices, market, efficiency, problems and clues, each member unit's delivery record;
delivered to the lead agency, supervising departments, discipline and police units.
Code: `ggzy.supervision.report`.
"""


def rescore() -> dict[str, Any]:
    """Rescore what changed, alert and update the watch list; the run's figures."""
    from ggzy.supervision.service import run_supervision

    figures = run_supervision()
    log.info("supervision run: %s", figures)
    return {k: v for k, v in figures.items() if isinstance(v, (int, float, str)) or v is None}


def previous_month(moment: datetime | date) -> str:
    """'YYYY-MM' of the month before the given day (Beijing time for datetimes)."""
    from ggzy.workflows.tasks import hub_date

    day = hub_date(moment) if isinstance(moment, datetime) else moment
    last = day.replace(day=1) - timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


def write_report(month: str) -> dict[str, Any]:
    """Write, record and deliver one month's report; paths, hashes and headline figures."""
    from ggzy import database
    from ggzy.settings import get_settings
    from ggzy.supervision.report import write_monthly_report

    settings = get_settings()
    files = write_monthly_report(database.engine(settings), settings, month)
    return {"month": month, "html": str(files.html), "pdf": str(files.pdf), "pdf_sha256": files.pdf_sha256,
            "report_id": files.report_id, "delivered_to": files.outbox_rows,
            "figures": {k: v for k, v in files.figures.items() if v is not None}}  # fmt: skip


def supervision_dag():
    """The `ggzy_supervision` DAG: rescore -> deliver."""
    from airflow.sdk import dag, task

    from ggzy.workflows import tasks
    from ggzy.workflows.dags import START_DATE, _default_args, _every

    @dag(dag_id=SUPERVISION_DAG_ID, schedule=_every("*/30 * * * *"), start_date=START_DATE, catchup=False,
         max_active_runs=1, dagrun_timeout=timedelta(hours=1), default_args=_default_args(retries=1, timeout_minutes=45),
         tags=["ggzy", "report", "delivery"], doc_md=SUPERVISION_DOC)  # fmt: skip
    def ggzy_supervision() -> None:
        """Rescore and deliver (doc_md above)."""

        @task(task_id="rescore")
        def rescore_task() -> dict:
            """Rescore changed sections, raise and route alerts, update the watch list."""
            return rescore()

        @task(task_id="deliver", retries=0)
        def deliver_task(figures: dict) -> dict:
            """Push every outbox row due now (the new alerts among them)."""
            return {**tasks.deliver_outbox(), "raised": figures.get("raised", 0)}

        deliver_task(rescore_task())

    return ggzy_supervision()


def monthly_report_dag():
    """The `ggzy_monthly_report` DAG: write_report -> deliver."""
    from airflow.sdk import dag, task

    from ggzy.workflows import tasks
    from ggzy.workflows.dags import START_DATE, _default_args, _every

    @dag(dag_id=MONTHLY_REPORT_DAG_ID, schedule=_every("0 6 1 * *"), start_date=START_DATE, catchup=False,
         max_active_runs=1, dagrun_timeout=timedelta(hours=2), default_args=_default_args(retries=2, timeout_minutes=60),
         tags=["ggzy", "report"], doc_md=MONTHLY_DOC)  # fmt: skip
    def ggzy_monthly_report() -> None:
        """Write and deliver last month's report (doc_md above)."""

        @task(task_id="write_report")
        def write_task(dag_run=None) -> dict:
            """Write last month's report (relative to the run's day, Beijing time)."""
            return write_report(previous_month(dag_run.run_after))

        @task(task_id="deliver", retries=0)
        def deliver_task(report: dict) -> dict:
            """Push the report's outbox rows that are due now."""
            return {**tasks.deliver_outbox(), "report_id": report.get("report_id")}

        deliver_task(write_task())

    return ggzy_monthly_report()
