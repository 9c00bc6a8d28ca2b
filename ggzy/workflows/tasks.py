"""Plain task functions behind the hub's DAGs: importable and testable without Airflow.

Each takes and returns plain JSON-able values (only those cross XCom). Pipeline and delivery
modules are imported inside the functions so that parsing a DAG file stays cheap.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

HUB_TIMEZONE = ZoneInfo("Asia/Shanghai")
DELIVERY_PASS_SECONDS = 240.0  # stay inside the 5-minute schedule of the delivery DAG
REPORT_NAME = "overdue-acknowledgements-{as_of}.json"


class RowConservationError(AssertionError):
    """A batch whose rows_in differs from loaded + quarantined + duplicate."""


def _compact(report: dict[str, Any]) -> dict[str, Any]:
    """A batch report for XCom: the figures, with quarantined rows reduced to counts per rule."""
    rules = Counter(rule for row in report.get("quarantined", []) for rule in row.get("rules", []))
    compact = {key: value for key, value in report.items() if key != "quarantined"}
    compact["quarantine_rules"] = dict(sorted(rules.items()))
    compact["conserved"] = report["rows_in"] == (
        report["rows_loaded"] + report["rows_quarantined"] + report["rows_duplicate"]
    )
    return compact


def ingest_drop_folder() -> list[dict[str, Any]]:
    """Ingest every file waiting in the drop folder; one compact batch report per file."""
    from ggzy.pipelines.penalties import scan_drop_folder

    reports = [_compact(report.to_dict()) for report in scan_drop_folder()]
    for report in reports:
        log.info(
            "batch %s %s: in=%s loaded=%s quarantined=%s duplicate=%s warned=%s status=%s%s",
            report["batch_id"], report["filename"], report["rows_in"], report["rows_loaded"],
            report["rows_quarantined"], report["rows_duplicate"], report["rows_warned"], report["status"],
            " (already processed)" if report["already_processed"] else "",
        )  # fmt: skip
    return reports


def check_row_conservation(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Fail when a batch lost rows; otherwise sum the batches up (new rows exclude already-processed files)."""
    broken = [r for r in reports if not r["conserved"]]
    if broken:
        raise RowConservationError(
            "行数不守恒 / row conservation broken: "
            + "; ".join(
                f"{r['filename']} (batch {r['batch_id']}): rows_in={r['rows_in']} != loaded {r['rows_loaded']}"
                f" + quarantined {r['rows_quarantined']} + duplicate {r['rows_duplicate']}"
                for r in broken
            )
        )
    fresh = [r for r in reports if not r["already_processed"]]
    summary = {
        "files": len(reports),
        "new_files": len(fresh),
        "rows_in": sum(r["rows_in"] for r in fresh),
        "rows_loaded": sum(r["rows_loaded"] for r in fresh),
        "rows_inserted": sum(r["rows_inserted"] for r in fresh),
        "rows_updated": sum(r["rows_updated"] for r in fresh),
        "rows_quarantined": sum(r["rows_quarantined"] for r in fresh),
        "rows_duplicate": sum(r["rows_duplicate"] for r in fresh),
        "rows_warned": sum(r["rows_warned"] for r in fresh),
        "rejected_files": [r["filename"] for r in fresh if r["status"] != "loaded"],
    }
    log.info("drop folder summary: %s", summary)
    return summary


def penalty_decisions_changed(summary: dict[str, Any]) -> bool:
    """True when this run inserted or updated penalty decisions (the asset event is worth emitting)."""
    return summary["rows_inserted"] + summary["rows_updated"] > 0


def announce_penalty_decisions(summary: dict[str, Any]) -> dict[str, Any]:
    """Let the task (and its asset event) succeed when decisions changed; skip it, so no event, otherwise."""
    from airflow.sdk.exceptions import AirflowSkipException

    if not penalty_decisions_changed(summary):
        raise AirflowSkipException(
            "no penalty decision inserted or updated in this run / 本次无新增或变更的处罚决定"
        )
    return {"rows_inserted": summary["rows_inserted"], "rows_updated": summary["rows_updated"]}


def deliver_outbox() -> dict[str, Any]:
    """Push every outbox row due now to its member unit; rows that fail wait for their next_attempt_at."""
    from ggzy import database
    from ggzy.delivery.outbox import deliver_until_idle

    summary = deliver_until_idle(database.engine(), max_seconds=DELIVERY_PASS_SECONDS).to_dict()
    log.info("delivery: %s", summary)
    return summary


def hub_date(moment: datetime | None) -> date:
    """The calendar day in the hub's time zone (Asia/Shanghai) of an aware datetime; today when None."""
    return (moment or datetime.now(HUB_TIMEZONE)).astimezone(HUB_TIMEZONE).date()


def write_overdue_report(as_of: date) -> dict[str, Any]:
    """Write the overdue-acknowledgement report as of a day to <GGZY_HOME>/reports/ and log it."""
    from ggzy import database
    from ggzy.delivery.report import overdue_report
    from ggzy.settings import get_settings

    settings = get_settings()
    units = overdue_report(database.engine(settings), as_of=as_of)
    path = Path(settings.home) / "reports" / REPORT_NAME.format(as_of=as_of.isoformat())
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"as_of": as_of.isoformat(), "jurisdiction": settings.jurisdiction, "units": units}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)
    for unit in units:
        log.warning(
            "签收逾期 / acknowledgement overdue: %s %s: %s rows, oldest due %s (%s working days), %s / %s",
            unit["unit"], unit["name"], unit["overdue"], unit["oldest_due"], unit["working_days_overdue"],
            unit["reason_zh"], unit["reason_en"],
        )  # fmt: skip
    log.info("overdue report as of %s: %d units overdue -> %s", as_of, len(units), path)
    return {"as_of": as_of.isoformat(), "path": str(path), "units_overdue": len(units),
            "rows_overdue": sum(u["overdue"] for u in units)}  # fmt: skip
