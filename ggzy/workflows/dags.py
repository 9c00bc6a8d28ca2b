"""DAG factories of the hub (Airflow 3 SDK). Loader files in dags/ call these; the work lives in tasks.py.

Conventions every DAG follows (checked by tests/unit/test_dag_structure.py): owner OWNER, tags from
ALLOWED_TAGS, a bilingual doc_md, catchup off, one active run at a time, schedules in Asia/Shanghai.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from ggzy.workflows import OVERDUE_REPORT, PENALTY_DECISIONS_URI, PENALTY_DELIVERY, PENALTY_INGEST, tasks

OWNER = "ggzy-hub"
ALLOWED_TAGS = frozenset({"ggzy", "penalty", "ingest", "delivery", "report"})
TIMEZONE = "Asia/Shanghai"
START_DATE = pendulum.datetime(2025, 1, 1, tz=TIMEZONE)

# Emitted when a run inserted or updated rows of core.penalty_decision; the delivery DAG listens.
PENALTY_DECISIONS = Asset(PENALTY_DECISIONS_URI, group="ggzy")


def _default_args(retries: int, retry_minutes: float = 2.0, timeout_minutes: float = 30.0) -> dict[str, Any]:
    """Task defaults shared by the hub's DAGs."""
    return {
        "owner": OWNER,
        "retries": retries,
        "retry_delay": timedelta(minutes=retry_minutes),
        "execution_timeout": timedelta(minutes=timeout_minutes),
    }


def _every(cron: str) -> CronTriggerTimetable:
    """A cron schedule in the hub's time zone (runs at the cron time, no data interval)."""
    return CronTriggerTimetable(cron, timezone=TIMEZONE)


PENALTY_INGEST_DOC = """
### 行政处罚决定入库 / Penalty decision ingest

**中文**：每 10 分钟扫描部门投递目录 `<GGZY_HOME>/drop/<单位代码>/`，对每个新文件落地原始字节、
Great Expectations 校验、错误行隔离、其余行按（处罚机关代码 + 决定书文号）合并入
`core.penalty_decision` 并为每个成员单位生成待推送记录；处理过的文件移入 `processed/<日期>/`。
每个批次核对行数守恒（rows_in = 入库 + 隔离 + 重复），不守恒则本次运行失败。
有新增或变更的处罚决定时发出资产事件，触发推送 DAG。同一文件重复投递不会重复入库。

**English**: every 10 minutes, ingests each new file in the departments' drop folder
(`<GGZY_HOME>/drop/<unit code>/`): raw bytes landed, validated with Great Expectations, failing rows
quarantined, the rest merged into `core.penalty_decision` by (authority code, decision number) with one
outbox row per member unit; processed files move to `processed/<date>/`. Row conservation
(rows_in = loaded + quarantined + duplicate) is checked per batch and fails the run when broken.
Emits the `core.penalty_decision` asset event when decisions changed, which triggers delivery.
Re-sending the same file loads nothing twice. Code: `ggzy.workflows.tasks`, `ggzy.pipelines.penalties`.
"""

PENALTY_DELIVERY_DOC = """
### 处罚决定抄送成员单位 / Penalty delivery to member units

**中文**：处罚决定资产更新时或每 5 分钟运行一次：把到期的待推送记录以 Standard Webhooks 签名 JSON
推送给各成员单位并记录每次尝试。失败的推送按退避时间（`next_attempt_at`）在之后的运行中重试，
而不是依靠 Airflow 任务重试；返回 410 的接收端被停用。

**English**: runs when the `core.penalty_decision` asset changes and every 5 minutes: pushes every
outbox row due now to its member unit as Standard Webhooks-signed JSON and records every attempt.
Failed pushes are retried by later runs at their back-off time (`next_attempt_at`), not by Airflow task
retries; a 410 Gone disables the endpoint. Code: `ggzy.delivery.outbox`.
"""

OVERDUE_REPORT_DOC = """
### 签收逾期报告 / Overdue acknowledgement report

**中文**：每天 08:00（北京时间）生成签收逾期报告：列出在辖区配置的工作日期限内未签收处罚决定的
成员单位及原因（未送达、已送达未签收、接收端停用、推送失败），写入
`<GGZY_HOME>/reports/overdue-acknowledgements-<日期>.json` 并记入任务日志。

**English**: daily at 08:00 Beijing time, lists the member units that have not acknowledged (签收)
penalty decisions within the profile's working-day deadline, with the reason (never delivered, delivered
not acknowledged, endpoint disabled, push failed); written to
`<GGZY_HOME>/reports/overdue-acknowledgements-<date>.json` and logged. Code: `ggzy.delivery.report`.
"""


def penalty_ingest_dag() -> DAG:
    """The drop-folder ingest DAG: ingest, check row conservation, announce changed decisions."""

    @dag(
        dag_id=PENALTY_INGEST,
        schedule=_every("*/10 * * * *"),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=timedelta(hours=2),
        default_args=_default_args(retries=1, timeout_minutes=90),
        tags=["ggzy", "penalty", "ingest"],
        doc_md=PENALTY_INGEST_DOC,
    )
    def ggzy_penalty_ingest() -> None:
        """Ingest, check, announce (doc_md above)."""

        @task
        def ingest_drop_folder() -> list[dict]:
            """Ingest every new file of the drop folder; one batch report (dict) per file."""
            return tasks.ingest_drop_folder()

        @task(retries=0)
        def check_row_conservation(reports: list[dict]) -> dict:
            """Fail if any batch lost rows; return the run's totals."""
            return tasks.check_row_conservation(reports)

        @task(outlets=[PENALTY_DECISIONS], retries=0)
        def announce_penalty_decisions(summary: dict) -> dict:
            """Emit the penalty-decision asset event when decisions changed (skipped otherwise)."""
            return tasks.announce_penalty_decisions(summary)

        announce_penalty_decisions(check_row_conservation(ingest_drop_folder()))

    return ggzy_penalty_ingest()


def penalty_delivery_dag() -> DAG:
    """The delivery DAG: on the penalty asset or every 5 minutes, push due outbox rows."""

    @dag(
        dag_id=PENALTY_DELIVERY,
        schedule=AssetOrTimeSchedule(timetable=_every("*/5 * * * *"), assets=PENALTY_DECISIONS),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=timedelta(minutes=15),
        # Retries come from the outbox (next_attempt_at), never from Airflow.
        default_args=_default_args(retries=0, timeout_minutes=10),
        tags=["ggzy", "penalty", "delivery"],
        doc_md=PENALTY_DELIVERY_DOC,
    )
    def ggzy_penalty_delivery() -> None:
        """Deliver due outbox rows (doc_md above)."""

        @task
        def deliver_outbox() -> dict:
            """Push every outbox row due now; failures wait for their next attempt time."""
            return tasks.deliver_outbox()

        deliver_outbox()

    return ggzy_penalty_delivery()


def delivery_overdue_report_dag() -> DAG:
    """The daily overdue-acknowledgement report DAG."""

    @dag(
        dag_id=OVERDUE_REPORT,
        schedule=_every("0 8 * * *"),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=timedelta(minutes=30),
        default_args=_default_args(retries=2, retry_minutes=5, timeout_minutes=15),
        tags=["ggzy", "delivery", "report"],
        doc_md=OVERDUE_REPORT_DOC,
    )
    def ggzy_delivery_overdue_report() -> None:
        """Write the overdue report (doc_md above)."""

        @task
        def write_overdue_report(dag_run=None) -> dict:
            """Write and log the overdue report as of the run's day (Beijing time)."""
            return tasks.write_overdue_report(as_of=tasks.hub_date(dag_run.run_after))

        write_overdue_report()

    return ggzy_delivery_overdue_report()
