"""Delivery and acknowledgement figures, and the list of units whose 签收 is overdue.

Counting (one outbox row = one decision version owed to one unit):
* expected = every owed row; each row is in exactly one of delivered / pending / failed / disabled, where
  `delivered` counts 'delivered' AND 'acknowledged' rows (acknowledged is a subset of delivered);
* `awaiting_acknowledgement` = delivered but not yet acknowledged.
Overdue: a row not acknowledged although its `ack_due` (the profile's working-day deadline, fixed when the
row was enqueued) is before `as_of`; a unit is listed with its counts, the oldest due date and the reasons:
never delivered (still pending), delivered not acknowledged, endpoint disabled, failed (gave up pushing).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

STATUSES = ("pending", "delivered", "acknowledged", "failed", "disabled")

# status of an overdue row -> (reason key, zh, en)
OVERDUE_REASONS = {
    "pending": ("never_delivered", "未送达", "never delivered"),
    "delivered": ("delivered_not_acknowledged", "已送达未签收", "delivered, not acknowledged"),
    "disabled": ("endpoint_disabled", "接收端已停用", "endpoint disabled"),
    "failed": ("failed", "推送失败（已超过重试期限）", "push failed (retry window exhausted)"),
}
REASON_ORDER = ("endpoint_disabled", "failed", "never_delivered", "delivered_not_acknowledged")


def _figures(counts: dict[str, int]) -> dict[str, int]:
    """The public figures from per-status counts."""
    delivered = counts.get("delivered", 0) + counts.get("acknowledged", 0)
    return {
        "expected": sum(counts.get(s, 0) for s in STATUSES),
        "delivered": delivered,
        "acknowledged": counts.get("acknowledged", 0),
        "awaiting_acknowledgement": counts.get("delivered", 0),
        "pending": counts.get("pending", 0),
        "failed": counts.get("failed", 0),
        "disabled": counts.get("disabled", 0),
    }


def delivery_status(engine: sa.Engine) -> dict[str, Any]:
    """Totals {expected, delivered, acknowledged, pending, failed, disabled, ...} and the same per unit."""
    with engine.connect() as conn:
        units = (
            conn.execute(
                sa.text(
                    "SELECT code, name, role, mode, endpoint_url IS NOT NULL AS has_endpoint, status,"
                    " disabled_reason FROM delivery.member_unit ORDER BY code"
                )
            )
            .mappings()
            .all()
        )
        counts = conn.execute(
            sa.text("SELECT unit_code, status, count(*) FROM delivery.outbox GROUP BY unit_code, status")
        ).all()
        last = (
            conn.execute(
                sa.text(
                    "SELECT DISTINCT ON (unit_code) unit_code, last_http_status, last_error, last_attempt_at"
                    " FROM delivery.outbox WHERE last_attempt_at IS NOT NULL"
                    " ORDER BY unit_code, last_attempt_at DESC"
                )
            )
            .mappings()
            .all()
        )
        events = conn.scalar(sa.text("SELECT count(*) FROM delivery.event"))
    per_unit: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for code, status, n in counts:
        per_unit.setdefault(code, {})[status] = n
        totals[status] = totals.get(status, 0) + n
    last_by_unit = {row["unit_code"]: row for row in last}
    unit_rows = []
    for unit in units:
        latest = last_by_unit.get(unit["code"])
        unit_rows.append(
            {
                **dict(unit),
                **_figures(per_unit.get(unit["code"], {})),
                "last_attempt_at": latest["last_attempt_at"].isoformat() if latest else None,
                "last_http_status": latest["last_http_status"] if latest else None,
                "last_error": latest["last_error"] if latest else None,
            }
        )
    return {"events": events, **_figures(totals), "units": unit_rows}


def overdue_report(engine: sa.Engine, as_of: date | None = None) -> list[dict[str, Any]]:
    """Units with rows not acknowledged by their ack_due, as of a day (default today), most overdue first."""
    as_of = as_of or date.today()
    with engine.connect() as conn:
        rows = (
            conn.execute(
                sa.text(
                    "SELECT o.unit_code, u.name, u.role, u.mode, u.status AS unit_status, u.disabled_reason,"
                    " o.status, count(*) AS n, min(o.ack_due) AS oldest_due"
                    " FROM delivery.outbox o JOIN delivery.member_unit u ON u.code = o.unit_code"
                    " WHERE o.status <> 'acknowledged' AND o.ack_due < :as_of"
                    " GROUP BY o.unit_code, u.name, u.role, u.mode, u.status, u.disabled_reason, o.status"
                ),
                {"as_of": as_of},
            )
            .mappings()
            .all()
        )
    units: dict[str, dict[str, Any]] = {}
    for row in rows:
        unit = units.setdefault(
            row["unit_code"],
            {
                "unit": row["unit_code"],
                "name": row["name"],
                "role": row["role"],
                "mode": row["mode"],
                "unit_status": row["unit_status"],
                "disabled_reason": row["disabled_reason"],
                "overdue": 0,
                "oldest_due": row["oldest_due"],
                "reasons": {},
            },
        )
        key = OVERDUE_REASONS[row["status"]][0]
        unit["overdue"] += row["n"]
        unit["reasons"][key] = unit["reasons"].get(key, 0) + row["n"]
        unit["oldest_due"] = min(unit["oldest_due"], row["oldest_due"])
    labels = {key: (zh, en) for key, zh, en in OVERDUE_REASONS.values()}
    result = []
    for unit in units.values():
        reason = next(key for key in REASON_ORDER if key in unit["reasons"])
        zh, en = labels[reason]
        oldest: date = unit["oldest_due"]
        unit.update(
            reason=reason,
            reason_zh=zh,
            reason_en=en,
            oldest_due=oldest.isoformat(),
            working_days_overdue=_working_days_late(oldest, as_of),
        )
        result.append(unit)
    return sorted(result, key=lambda u: (u["oldest_due"], -u["overdue"], u["unit"]))


def _working_days_late(due: date, as_of: date) -> int:
    """Working days elapsed after the due date, up to as_of."""
    from ggzy.workdays import working_days_between

    return working_days_between(due, as_of)
