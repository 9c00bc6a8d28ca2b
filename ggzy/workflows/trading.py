"""The trading workflows: one DAG per source kind (HTTP API, centre database, file drops), built here.

Each DAG: pull -> check_row_conservation -> one `announce_<code>` task per dataset whose outlet is that core
dataset's Airflow asset (``ggzy://warehouse/trading/<code>``); an announce task succeeds (emitting the
asset event downstream work listens to) when its dataset changed in the run, and is skipped otherwise.

Where the sources are (environment, like the credit channel; unset = the pull is skipped and said so):
GGZY_EXCHANGE_API_URL + GGZY_EXCHANGE_API_KEY; GGZY_EXCHANGE_DB_URL; GGZY_EXCHANGE_DROP (default
<GGZY_HOME>/exchange/drop). Task functions are plain and testable without Airflow.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from connectors.trading import TRADING_DATASETS

log = logging.getLogger(__name__)

SOURCES = {
    "api": ("ggzy_trading_api_pull", "*/15 * * * *", ("exchange_api_url", "exchange_api_key")),
    "database": ("ggzy_trading_db_pull", "5-59/15 * * * *", ("exchange_db_url",)),
    "files": ("ggzy_trading_file_ingest", "*/10 * * * *", ()),
}
TRADING_DAG_IDS = tuple(dag_id for dag_id, _, _ in SOURCES.values())


def asset_uri(code: str) -> str:
    """The Airflow asset URI of one core trading dataset."""
    return f"ggzy://warehouse/trading/{code}"


def drop_folder() -> Path:
    """Where trading file drops arrive: GGZY_EXCHANGE_DROP or <GGZY_HOME>/exchange/drop."""
    from ggzy.settings import get_settings

    settings = get_settings()
    return Path(settings.exchange_drop or settings.home / "exchange" / "drop")


def pull_source(kind: str) -> list[dict[str, Any]]:
    """Run one source kind's pull; compact per-dataset reports (empty when the source is not configured)."""
    from ggzy.pipelines import trading
    from ggzy.settings import get_settings
    from ggzy.workflows.tasks import _compact

    settings = get_settings()
    names = SOURCES[kind][2]
    values = [getattr(settings, n) for n in names]
    if not all(values):
        log.warning(
            "交易中心%s未配置，跳过 / exchange centre %s not configured (%s): skipped",
            kind,
            kind,
            ", ".join("GGZY_" + n.upper() for n in names),
        )
        return []
    if kind == "api":
        reports = trading.pull_api(settings, values[0], values[1])
    elif kind == "database":
        reports = trading.pull_database(settings, values[0])
    else:
        folder = drop_folder()
        reports = trading.ingest_files(settings, folder) if folder.exists() else {}
    compact = [_compact(r) for r in reports.values()]
    for r in compact:
        log.info("%s: in=%s loaded=%s quarantined=%s duplicate=%s waiting=%s released=%s", r["dataset"],
                 r["rows_in"], r["rows_loaded"], r["rows_quarantined"], r["rows_duplicate"], r["rows_waiting"],
                 r["rows_released"])  # fmt: skip
    return compact


def check_row_conservation(reports: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Fail when a dataset's figures do not conserve rows; else {dataset code: figures}."""
    from ggzy.workflows.tasks import RowConservationError

    broken = [r for r in reports if not r["conserved"]]
    if broken:
        raise RowConservationError("行数不守恒 / row conservation broken: " + "; ".join(
            f"{r['dataset']}: {r['rows_in']} != {r['rows_loaded']} + {r['rows_quarantined']} + {r['rows_duplicate']}"
            for r in broken))  # fmt: skip
    keys = ("rows_in", "rows_loaded", "rows_inserted", "rows_updated", "rows_quarantined", "rows_duplicate",
            "rows_waiting", "rows_released")  # fmt: skip
    return {r["dataset"].removeprefix("trading_"): {k: r.get(k, 0) for k in keys} for r in reports}


def dataset_changed(figures: dict[str, dict[str, int]], code: str) -> dict[str, int]:
    """The dataset's figures when it changed in this run; raise AirflowSkipException (no asset event) otherwise."""
    from airflow.sdk.exceptions import AirflowSkipException

    f = figures.get(code)
    if not f or f["rows_inserted"] + f["rows_updated"] + f["rows_released"] == 0:
        raise AirflowSkipException(f"dataset {code} unchanged in this run / 数据集 {code} 本次无变化")
    return f


DOC = """
### 交易数据采集（{kind}）/ Trading data ingest ({kind})

**中文**：按国家《公共资源交易平台系统数据规范》从交易中心{zh}增量采集各数据集（按 DATA_TIMESTAMP 水位，
逐页提交，中断后从最后提交的页继续，不漏不重），落地原始区，Great Expectations 校验，错误行隔离，父记录未到的
子记录进入等待表，其余按自然键合并入 core。核对行数守恒（rows_in = 入库 + 隔离 + 重复），不守恒则失败；
有变化的数据集发出各自的资产事件（ggzy://warehouse/trading/<编号>）。

**English**: pulls every dataset of the national trading data specification from the centre's {en}
incrementally (DATA_TIMESTAMP watermark, one transaction per page, a killed run resumes with no gap and no
duplicate), lands it, validates it with Great Expectations, quarantines failing rows, parks children whose
parent has not arrived, merges the rest into core by natural key. Fails when a dataset breaks row conservation;
emits one asset event per changed dataset (ggzy://warehouse/trading/<code>). Code: `ggzy.pipelines.trading`.
"""
WHERE = {
    "api": ("数据接口", "HTTP API"),
    "database": ("业务数据库", "database"),
    "files": ("投递文件", "file drops"),
}


def trading_dag(kind: str):
    """The DAG of one source kind: pull, check row conservation, announce each changed dataset's asset."""
    from airflow.sdk import Asset, dag, task

    from ggzy.workflows.dags import START_DATE, _default_args, _every

    dag_id, cron, _ = SOURCES[kind]

    @dag(
        dag_id=dag_id,
        schedule=_every(cron),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=timedelta(hours=3),
        default_args=_default_args(retries=1, timeout_minutes=150),
        tags=["ggzy", "ingest"],
        doc_md=DOC.format(kind=kind, zh=WHERE[kind][0], en=WHERE[kind][1]),
    )
    def trading_ingest() -> None:
        """Pull, check, announce (doc_md above)."""

        @task(task_id="pull")
        def pull() -> list[dict]:
            """Pull every dataset from the source; one compact report per dataset."""
            return pull_source(kind)

        @task(task_id="check_row_conservation", retries=0)
        def check(reports: list[dict]) -> dict:
            """Fail if a dataset lost rows; figures per dataset code."""
            return check_row_conservation(reports)

        figures = check(pull())
        for code in TRADING_DATASETS:

            @task(task_id=f"announce_{code}", outlets=[Asset(asset_uri(code), group="ggzy")], retries=0)
            def announce(figures: dict, code: str = code) -> dict:
                """Emit this dataset's asset event when it changed (skipped otherwise)."""
                return dataset_changed(figures, code)

            announce(figures)

    return trading_ingest()
