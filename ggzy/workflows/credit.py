"""The credit workflow: task functions (plain, testable without Airflow) and the `ggzy_credit` DAG factory.

pull -> validate_merge -> check_row_conservation -> propagate:
- pull: read every Credit China list from its committed watermark (signed API); each list's changes are written
  as one pull document under <GGZY_HOME>/credit/pulls/ (nothing is committed to the warehouse yet);
- validate_merge: each pull document goes through the pipeline (land in raw zone + ops.batch, GX suite,
  quarantine, one-transaction merge with history, delivery events and outbox, watermark); penalties go through
  the penalty pipeline and their restricting decisions become restrictions; the exchange centre's 302/303 when
  present; a document is deleted once its batch is loaded;
- check_row_conservation: fail when a batch lost rows;
- propagate: cross-checks against trading data (402 alerts) and one delivery pass of the outbox, so member
  units receive inclusions, corrections and removals at once.

Where the channel is: GGZY_CREDIT_CHINA_URL, GGZY_CREDIT_CHINA_APP_KEY, GGZY_CREDIT_CHINA_APP_SECRET
(environment; unset = the pull is skipped and said so).
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CREDIT_DAG_ID = "ggzy_credit"
CHANNEL_ENV = ("GGZY_CREDIT_CHINA_URL", "GGZY_CREDIT_CHINA_APP_KEY", "GGZY_CREDIT_CHINA_APP_SECRET")
LISTS = ("dishonest_debtor", "serious_dishonesty", "penalty")


def pulls_folder() -> Path:
    """<GGZY_HOME>/credit/pulls: pull documents waiting to be loaded."""
    from ggzy.settings import get_settings

    return Path(get_settings().home) / "credit" / "pulls"


def pull() -> list[dict[str, Any]]:
    """Pull every list after its watermark; one pull document per list with changes ({list, path, changes})."""
    from connectors.credit_china import CreditChinaApi
    from ggzy import database
    from ggzy.pipelines.credit import watermark
    from ggzy.settings import get_settings

    settings = get_settings()
    url, key, secret = settings.credit_china_url, settings.credit_china_app_key, settings.credit_china_app_secret
    if not (url and key and secret):
        log.warning("信用中国通道未配置，跳过拉取 / Credit China channel not configured (%s): pull skipped",
                    ", ".join(CHANNEL_ENV))  # fmt: skip
        return []
    engine = database.engine()
    folder = pulls_folder()
    folder.mkdir(parents=True, exist_ok=True)
    api = CreditChinaApi(url, key, secret)
    pulled_docs = []
    try:
        for name in LISTS:
            pulled = api.pull(name, watermark(engine, name))
            if not pulled.changes:
                continue
            path = folder / f"{name}_{pulled.since or 'start'}_{pulled.watermark}.json"
            path.write_bytes(pulled.to_bytes())
            pulled_docs.append({"list": name, "path": str(path), "changes": len(pulled.changes)})
    finally:
        api.close()
    log.info("credit pull: %s", pulled_docs)
    return pulled_docs


def validate_merge(pulled_docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Load every waiting pull document (this run's and any left by a failed run) and the exchange blacklist."""
    from connectors.credit_china import PulledChanges
    from ggzy import database
    from ggzy.pipelines.credit import ingest_changes, ingest_exchange_blacklist, ingest_penalty_changes
    from ggzy.settings import get_settings
    from ggzy.workflows.tasks import _compact

    settings = get_settings()
    engine = database.engine(settings)
    paths = sorted({*(Path(d["path"]) for d in pulled_docs), *pulls_folder().glob("*.json")}, key=lambda p: p.name)
    reports = []
    for path in paths:
        body = json.loads(path.read_bytes())
        pulled = PulledChanges(body["list"], body.get("since"), body.get("watermark"), body["changes"])
        if pulled.list == "penalty":
            batch_reports = ingest_penalty_changes(pulled, settings=settings, engine=engine)
        else:
            batch_reports = [ingest_changes(pulled.list, path.read_bytes(), path.name, source="api:credit_china",
                                            watermark=pulled.watermark, settings=settings, engine=engine)]  # fmt: skip
        reports += [{**_compact(r.to_dict()), "list": pulled.list} for r in batch_reports]
        if all(r.status == "loaded" for r in batch_reports):
            path.unlink()
    blacklist = ingest_exchange_blacklist(settings=settings, engine=engine)
    if blacklist is not None:
        reports.append({**_compact(blacklist.to_dict()), "list": "exchange_blacklist"})
    return reports


def check_row_conservation(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Fail when a batch lost rows; else the figures per dataset."""
    from ggzy.workflows.tasks import RowConservationError

    broken = [r for r in reports if not r["conserved"]]
    if broken:
        raise RowConservationError("行数不守恒 / row conservation broken: " + "; ".join(
            f"{r['dataset']} {r['filename']}: {r['rows_in']} != {r['rows_loaded']} + {r['rows_quarantined']}"
            f" + {r['rows_duplicate']}" for r in broken))  # fmt: skip
    figures: dict[str, dict[str, int]] = {}
    for r in reports:
        f = figures.setdefault(r["dataset"], dict.fromkeys(("rows_in", "rows_loaded", "rows_quarantined", "rows_duplicate"), 0))
        for key in f:
            f[key] += r[key]
    return figures


def propagate(figures: dict[str, Any]) -> dict[str, Any]:
    """Cross-checks into 402 alerts, then one delivery pass so member units get the changes now."""
    from ggzy import database
    from ggzy.delivery.outbox import deliver_until_idle
    from ggzy.pipelines.credit import credit_figures, run_cross_checks

    engine = database.engine()
    alerts = run_cross_checks(engine)
    delivery = deliver_until_idle(engine, max_seconds=120.0).to_dict()
    result = {"datasets": figures, "cross_checks": alerts, "credit": credit_figures(engine),
              "delivered": delivery.get("delivered", 0)}  # fmt: skip
    log.info("credit propagate: %s", result)
    return result


CREDIT_DOC = """
### 失信名单拉取与联合惩戒 / Credit lists and joint punishment

**中文**：每小时从信用中国数据共享通道（签名 API）按水位增量拉取失信被执行人、严重失信主体名单和外地行政处罚，
逐批落地原始数据、Great Expectations 校验、错误行隔离，合并入统一的限制模型（含完整历史版本），
交易中心 302/303 黑名单存在时一并合并；检查行数守恒；再与投标、中标、合同数据交叉比对生成 402 报警，
并把新增、更正和移出推送给各成员单位（移出自移出日起不再限制）。

**English**: hourly, pulls Credit China's dishonest-debtor list, serious dishonesty list and other regions'
penalties from their watermarks (signed API), lands, validates (Great Expectations), quarantines and merges
them into one restriction model with full history (plus the exchange centre's 302/303 when present), checks
row conservation, cross-checks bids, awards and contracts into 402 alerts, and delivers inclusions,
corrections and removals to every member unit (a removal stops the restriction from its date).
Code: `ggzy.workflows.credit`, `ggzy.pipelines.credit`.
"""


def credit_dag():
    """The `ggzy_credit` DAG: pull, validate_merge, check_row_conservation, propagate."""
    from airflow.sdk import dag, task

    from ggzy.workflows.dags import START_DATE, _default_args, _every

    @dag(
        dag_id=CREDIT_DAG_ID,
        schedule=_every("17 * * * *"),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=timedelta(hours=1),
        default_args=_default_args(retries=1, timeout_minutes=45),
        tags=["ggzy", "ingest", "delivery"],
        doc_md=CREDIT_DOC,
    )
    def ggzy_credit() -> None:
        """Pull, validate and merge, check, propagate (doc_md above)."""

        @task(task_id="pull")
        def pull_task() -> list[dict]:
            """Pull every list after its watermark into pull documents."""
            return pull()

        @task(task_id="validate_merge")
        def validate_merge_task(pulled_docs: list[dict]) -> list[dict]:
            """Validate, quarantine and merge each pull document; one compact batch report each."""
            return validate_merge(pulled_docs)

        @task(task_id="check_row_conservation", retries=0)
        def check_task(reports: list[dict]) -> dict:
            """Fail if any batch lost rows."""
            return check_row_conservation(reports)

        @task(task_id="propagate")
        def propagate_task(figures: dict) -> dict:
            """Cross-checks (402 alerts) and delivery of the changes to member units."""
            return propagate(figures)

        propagate_task(check_task(validate_merge_task(pull_task())))

    return ggzy_credit()
