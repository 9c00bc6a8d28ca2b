"""Bid-rigging alerts in the 402 PROJECT_ALERTING_INFO form, routed to the section's supervising department.

Alerts reuse core.alert (created by 0004_credit for restriction alerts; 0005_supervision adds legal_basis,
score, supervise_dept_code, routed_unit_code, handled_at/by, run_id) with alert_type 'bid_rigging': one per
section whose combined score reaches the threshold. BODY is the most implicated bidder (the winner when it
is implicated, else the first bidder of the strongest identity pair, else the winner). ALERT_LEVEL is 1 at
score >= 0.8, else 2. ALERT_INFO names the flags, the bidders and the articles, in Chinese and English.

Routing: the tender project's SUPERVISE_DEPT_CODE / SUPERVISE_DEPT_NAME (dataset 501) is matched to a member
unit of role supervising_department by USCC, then by exact name; with no match the alert goes to the lead
agency (recorded in the evidence as 'unrouted'). Delivery uses the foundation's outbox: one delivery.event
(record_type 'project_alert', record_id = alert id, record_version = 1 when raised, +1 for every handling
update) in a batch of the run (ops.batch dataset 'supervision_alert', the alert documents written to the raw
zone with their sha256), and ONE outbox row, for the routed unit only, in the same transaction. Discipline,
audit and police units see every alert through the oversight library (library.deliveries).

Handling is fed back with `record_handling` (CLI `ggzy supervision handle`, API POST /v1/alerts/{id}/handling):
HANDLED / HANDLE_RESULT are updated, the history kept in supervision.alert_handling, the act audited.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ggzy.delivery.outbox import acknowledgement_due
from ggzy.errors import HubError
from ggzy.settings import Settings
from ggzy.supervision.flags import SECTION_FLAGS_BY_CODE, articles_text

ALERT_TYPE = "bid_rigging"
RECORD_TYPE = "project_alert"
HIGH_LEVEL_SCORE = 0.8
SUPERVISORY_NODE = "开标评标"  # the screens read the opening list, bid files and deposits


def _body(row: pd.Series, pairs: pd.DataFrame) -> str | None:
    """The most implicated bidder of a section."""
    winner = row.get("winner")
    mine = pairs[pairs["bid_section_code"] == row.name]
    implicated = list(dict.fromkeys([*mine["bidder_a"], *mine["bidder_b"]]))
    if isinstance(winner, str) and (winner in implicated or not implicated):
        return winner
    if implicated:
        return implicated[0]
    for text in row["evidence"].values():  # market evidence names bidders as 'A+B'
        for token in str(text).replace(";", " ").replace("+", " ").split():
            if len(token) == 18 and token[:2].isdigit():
                return token
    return winner if isinstance(winner, str) else None


def alert_info(
    section: str, score: float, flags: list[str], evidence: dict[str, str], articles: list[str]
) -> str:
    """The ALERT_INFO text: score, flags with evidence, articles (zh / en)."""
    zh = "；".join(f"{SECTION_FLAGS_BY_CODE[f].zh}（{evidence.get(f, '')}）" for f in flags[:4])
    en = "; ".join(SECTION_FLAGS_BY_CODE[f].en for f in flags[:4])
    return (f"标段 {section} 围标串标可疑度 {score:.2f}：{zh}。依据：{'、'.join(articles)}"
            f" / section {section} bid-rigging suspicion {score:.2f}: {en}")  # fmt: skip


def _batch(conn: sa.Connection, settings: Settings, run_id: int, documents: list[dict[str, Any]]) -> str:
    """An ops.batch for the run's alerts: the documents written to the raw zone, hashed."""
    body = json.dumps(
        {"run_id": run_id, "alerts": documents}, ensure_ascii=False, sort_keys=True, default=str
    ).encode()
    digest = hashlib.sha256(body).hexdigest()
    folder = Path(settings.home) / "raw" / "supervision_alert"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"run-{run_id}-{digest[:12]}.json"
    path.write_bytes(body)
    return str(conn.scalar(sa.text(
        "INSERT INTO ops.batch (dataset, source, filename, file_format, sha256, byte_size, raw_path, status,"
        " rows_in, rows_loaded, rows_inserted, rows_updated, rows_quarantined, rows_duplicate, finished_at)"
        " VALUES ('supervision_alert', 'ggzy.supervision', :f, 'json', :h, :n, :p, 'loaded', :r, :r, :r, 0, 0, 0, now())"
        " ON CONFLICT (dataset, sha256) DO UPDATE SET finished_at = now() RETURNING id"
    ), {"f": path.name, "h": digest, "n": len(body), "p": str(path), "r": len(documents)}))  # fmt: skip


def alert_document(row: dict[str, Any]) -> dict[str, Any]:
    """An alert as delivered: the 402 record (spec field names), the articles and the explanation."""
    return {
        "PROJECT_ALERTING_INFO": {
            "TENDER_PROJECT_CODE": row["tender_project_code"], "BID_SECTION_CODE": row["bid_section_code"],
            "BODY_NAME": row["body_name"], "BODY_CODE": row["body_code"],
            "SUPERVISOR_UNIT_NAME": row["supervisor_unit_name"], "SUPERVISORY_NODE": row["supervisory_node"],
            "ALERT_LEVEL": row["alert_level"], "ALERT_DATE": row["alert_date"].strftime("%Y%m%d"),
            "ALERT_INFO": row["alert_info"], "HANDLED": row["handled"], "HANDLE_RESULT": row["handle_result"],
        },
        "alert_id": row["id"], "alert_type": row["alert_type"], "score": float(row["score"]) if row["score"] is not None else None,
        "legal_basis": [{"article": a, "zh": articles_text(a)[0], "en": articles_text(a)[1]} for a in row["legal_basis"]],
        "evidence": row["evidence"], "routed_unit_code": row["routed_unit_code"],
    }  # fmt: skip


ROUTE_SQL = """
SELECT coalesce(
    (SELECT u.code FROM delivery.member_unit u WHERE u.role = 'supervising_department'
       AND (u.uscc = t.supervise_dept_code OR u.name = t.supervise_dept_name)
     ORDER BY (u.uscc = t.supervise_dept_code) DESC NULLS LAST, u.code LIMIT 1),
    (SELECT u.code FROM delivery.member_unit u WHERE u.role = 'lead_agency' ORDER BY u.code LIMIT 1)) AS unit,
    t.supervise_dept_code, t.supervise_dept_name,
    EXISTS (SELECT 1 FROM delivery.member_unit u WHERE u.role = 'supervising_department'
       AND (u.uscc = t.supervise_dept_code OR u.name = t.supervise_dept_name)) AS matched
FROM (SELECT max(tp.supervise_dept_code) AS supervise_dept_code, max(tp.supervise_dept_name) AS supervise_dept_name
        FROM core.tender_project tp WHERE tp.tender_project_code = :project) t
"""


def raise_alerts(conn: sa.Connection, settings: Settings, sections: pd.DataFrame, pairs: pd.DataFrame, run_id: int,
                 *, threshold: float, today: date | None = None) -> dict[str, int]:  # fmt: skip
    """Insert a 402-form alert per section at or above the threshold (once), route and deliver each new one."""
    today = today or date.today()
    hot = sections[sections["score"].fillna(0) >= threshold]
    names = dict(conn.execute(sa.text("SELECT bidder_code, max(bidder_name) FROM core.bid WHERE bidder_code = ANY(:c)"
                                      " GROUP BY bidder_code"), {"c": list({b for b in pairs['bidder_a']} | {b for b in pairs['bidder_b']} | set(hot['winner'].dropna()))}).all())  # fmt: skip
    new_ids: list[int] = []
    updated = 0
    for code, row in hot.iterrows():
        body = _body(row, pairs)
        if body is None:
            continue
        project = row["tender_project_code"] if isinstance(row["tender_project_code"], str) else code[:20]
        route = conn.execute(sa.text(ROUTE_SQL), {"project": project}).mappings().one()
        evidence = {"flags": row["flags"], "contributions": row["contributions"], "evidence": row["evidence"],
                    "routing": "matched" if route["matched"] else "unrouted: lead agency"}  # fmt: skip
        params = {
            "project": project, "section": code, "body_name": names.get(body), "body": body,
            "unit_name": route["supervise_dept_name"], "node": SUPERVISORY_NODE,
            "level": "1" if row["score"] >= HIGH_LEVEL_SCORE else "2", "day": today,
            "info": alert_info(code, float(row["score"]), row["flags"], row["evidence"], row["legal_basis"]),
            "evidence": json.dumps(evidence, ensure_ascii=False, default=str), "basis": row["legal_basis"],
            "score": float(row["score"]), "dept": route["supervise_dept_code"], "routed": route["unit"], "run": run_id,
        }  # fmt: skip
        existing = conn.execute(sa.text(
            "SELECT id, handled FROM core.alert WHERE alert_type = :t AND bid_section_code = :section"
        ), {"t": ALERT_TYPE, "section": code}).mappings().first()  # fmt: skip
        if existing is not None:  # one open alert per section: refresh its figures while unhandled
            updated += conn.execute(sa.text(
                "UPDATE core.alert SET score = :score, alert_info = :info, evidence = CAST(:evidence AS jsonb),"
                " legal_basis = :basis, alert_level = :level, run_id = :run WHERE id = :id AND handled = '0'"
            ), {**params, "id": existing["id"]}).rowcount  # fmt: skip
            continue
        new_ids.append(conn.scalar(sa.text(
            "INSERT INTO core.alert (alert_type, tender_project_code, bid_section_code, body_name, body_code,"
            " supervisor_unit_name, supervisory_node, alert_level, alert_date, alert_info, evidence, legal_basis,"
            " score, supervise_dept_code, routed_unit_code, run_id)"
            " VALUES (:t, :project, :section, :body_name, :body, :unit_name, :node, :level, :day, :info,"
            " CAST(:evidence AS jsonb), :basis, :score, :dept, :routed, :run) RETURNING id"
        ), {**params, "t": ALERT_TYPE}))  # fmt: skip
    delivered = deliver_alerts(conn, settings, new_ids, run_id)
    return {"raised": len(new_ids), "refreshed": updated, "outbox_rows": delivered}


def _alert_rows(conn: sa.Connection, ids: list[int]) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sa.text(
        "SELECT * FROM core.alert WHERE id = ANY(:ids) ORDER BY id"), {"ids": ids}).mappings()]  # fmt: skip


def deliver_alerts(conn: sa.Connection, settings: Settings, ids: list[int], run_id: int,
                   event_type: str = "project_alert.raised") -> int:  # fmt: skip
    """One delivery event per alert (next record_version) and one outbox row for its routed unit."""
    rows = _alert_rows(conn, ids)
    if not rows:
        return 0
    documents = [alert_document(r) for r in rows]
    batch = _batch(conn, settings, run_id, documents)
    due = acknowledgement_due()
    added = 0
    for row, document in zip(rows, documents, strict=True):
        text = json.dumps(document, ensure_ascii=False, sort_keys=True, default=str)
        event = conn.scalar(sa.text(
            "INSERT INTO delivery.event (event_type, record_type, record_id, record_version, batch_id, document,"
            " document_hash) VALUES (:type, :rt, :id, (SELECT coalesce(max(record_version), 0) + 1 FROM delivery.event"
            " WHERE record_type = :rt AND record_id = :id), CAST(:b AS uuid), CAST(:doc AS jsonb),"
            " encode(sha256(convert_to(CAST(:doc AS jsonb)::text, 'UTF8')), 'hex')) RETURNING id"
        ), {"type": event_type, "rt": RECORD_TYPE, "id": row["id"], "b": batch, "doc": text})  # fmt: skip
        added += conn.execute(sa.text(
            "INSERT INTO delivery.outbox (event_id, unit_code, status, ack_due)"
            " SELECT :e, u.code, CASE WHEN u.status = 'active' THEN 'pending' ELSE 'disabled' END, :due"
            " FROM delivery.member_unit u WHERE u.code = :unit ON CONFLICT (event_id, unit_code) DO NOTHING"
        ), {"e": event, "unit": row["routed_unit_code"], "due": due}).rowcount  # fmt: skip
    return added


def record_handling(engine: sa.Engine, settings: Settings, alert_id: int, handled: str, handle_result: str | None,
                    handled_by: str) -> dict[str, Any]:  # fmt: skip
    """Feed back a department's handling (HANDLED 0/1, HANDLE_RESULT); kept as history, audited, re-delivered."""
    from ggzy import audit

    if handled not in ("0", "1"):
        raise HubError("invalid_handled", f"HANDLED 只能为 0 或 1，收到 {handled!r}",
                       f"HANDLED must be 0 or 1, got {handled!r}", status_code=400,
                       detail={"field": "HANDLED", "value": handled})  # fmt: skip
    with engine.begin() as conn:
        row = conn.execute(sa.text(
            "UPDATE core.alert SET handled = :h, handle_result = :r, handled_at = now(), handled_by = :by"
            " WHERE id = :id RETURNING id, run_id, routed_unit_code"
        ), {"h": handled, "r": handle_result, "by": handled_by, "id": alert_id}).mappings().first()  # fmt: skip
        if row is None:
            raise HubError("unknown_alert", f"报警 {alert_id} 不存在", f"alert {alert_id} does not exist",
                           status_code=404, detail={"alert_id": alert_id})  # fmt: skip
        conn.execute(sa.text(
            "INSERT INTO supervision.alert_handling (alert_id, handled, handle_result, handled_by)"
            " VALUES (:id, :h, :r, :by)"), {"id": alert_id, "h": handled, "r": handle_result, "by": handled_by})  # fmt: skip
        if row["routed_unit_code"] is not None and row["run_id"] is not None:
            deliver_alerts(conn, settings, [alert_id], row["run_id"], event_type="project_alert.handled")
        audit.append(conn, action="alert.handle", actor=handled_by, params={"alert_id": alert_id, "handled": handled,
                     "handle_result": handle_result}, row_count=1)  # fmt: skip
        current = _alert_rows(conn, [alert_id])[0]
    from ggzy.supervision.watchlist import close_handled_projects

    close_handled_projects(engine, today=datetime.now(UTC).date())
    return alert_document(current)


def list_alerts(engine: sa.Engine, *, unit: str | None = None, handled: str | None = None, alert_type: str | None = None,
                limit: int = 100) -> list[dict[str, Any]]:  # fmt: skip
    """Alerts (newest first) as delivered documents, optionally for one routed unit / handling state / type."""
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.text(
            "SELECT id FROM core.alert WHERE (CAST(:u AS text) IS NULL OR routed_unit_code = :u)"
            " AND (CAST(:h AS text) IS NULL OR handled = :h) AND (CAST(:t AS text) IS NULL OR alert_type = :t)"
            " ORDER BY id DESC LIMIT :n"), {"u": unit, "h": handled, "t": alert_type, "n": limit})]  # fmt: skip
        return [alert_document(r) for r in sorted(_alert_rows(conn, ids), key=lambda r: -r["id"])]
