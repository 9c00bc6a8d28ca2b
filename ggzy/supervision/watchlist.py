"""The watch list (重点关注对象名单): entities and projects, the reason and the day each entered and left.

One row of supervision.watch_entry per stay; leaving sets left_on and left_reason, nothing is deleted, so
the history of every subject is kept. Entries come from:
- high_entity_score: an entity whose combined score reaches `watch_threshold` (left when a later scoring
  puts it below);
- project_alert: a tender project with an unhandled bid-rigging alert (left when all its alerts are handled,
  with the handling result as the reason);
- restriction: a bidder of the market with a restriction in force (core.restriction, 0004_credit) (left on
  the day the restriction stops).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import sqlalchemy as sa


def update_entity_entries(
    conn: sa.Connection, entities: pd.DataFrame, *, watch_threshold: float, today: date
) -> dict[str, int]:
    """Enter entities at or above the threshold, leave the listed ones now below it (of the given entities)."""
    above = entities[entities["score"] >= watch_threshold]
    rows = [{"code": code, "name": name, "score": float(score), "day": today,
             "reason": f"综合可疑度 {score:.2f} ≥ {watch_threshold:.2f}：{'、'.join(flags)}"
                       f" / entity suspicion score {score:.2f} at or above {watch_threshold:.2f}: {', '.join(flags)}"}
            for code, name, score, flags in zip(above.index, above["entity_name"], above["score"], above["flags"],
                                                strict=True)]  # fmt: skip
    entered = 0
    if rows:
        entered = sum(1 for r in rows if conn.scalar(sa.text(
                "INSERT INTO supervision.watch_entry (subject_kind, subject_code, subject_name, reason_code, reason,"
                " source_ref, score, entered_on) VALUES ('entity', :code, :name, 'high_entity_score', :reason,"
                " 'entity_score', :score, :day) ON CONFLICT (subject_kind, subject_code, reason_code) WHERE left_on IS NULL"
                " DO UPDATE SET score = EXCLUDED.score, reason = EXCLUDED.reason, updated_at = now() RETURNING (xmax = 0)"
        ), r))  # fmt: skip
    below = entities[entities["score"] < watch_threshold]
    left = conn.execute(sa.text(
        "UPDATE supervision.watch_entry SET left_on = :day, updated_at = now(),"
        " left_reason = '综合可疑度降至阈值以下 / entity score fell below the watch threshold'"
        " WHERE subject_kind = 'entity' AND reason_code = 'high_entity_score' AND left_on IS NULL"
        " AND subject_code = ANY(:codes)"
    ), {"day": today, "codes": list(below.index)}).rowcount  # fmt: skip
    return {"entities_entered": entered, "entities_left": left}


def update_project_entries(conn: sa.Connection, *, today: date) -> dict[str, int]:
    """Projects with an unhandled bid-rigging alert enter; projects whose alerts are all handled leave."""
    entered = conn.execute(sa.text(
        "INSERT INTO supervision.watch_entry (subject_kind, subject_code, subject_name, reason_code, reason, source_ref,"
        " score, entered_on)"
        " SELECT 'project', a.tender_project_code, max(tp.tender_project_name), 'project_alert',"
        "  '围标串标报警 ' || count(*) || ' 条，最高可疑度 ' || to_char(max(a.score), 'FM0.00') || '（标段 '"
        "  || string_agg(a.bid_section_code, '、' ORDER BY a.bid_section_code) || '）/ ' || count(*)"
        "  || ' unhandled bid-rigging alert(s)', string_agg(a.id::text, ',' ORDER BY a.id), max(a.score), :day"
        " FROM core.alert a LEFT JOIN core.tender_project tp ON tp.tender_project_code = a.tender_project_code"
        " WHERE a.alert_type = 'bid_rigging' AND a.handled = '0' AND a.tender_project_code IS NOT NULL"
        " GROUP BY a.tender_project_code"
        " ON CONFLICT (subject_kind, subject_code, reason_code) WHERE left_on IS NULL DO NOTHING"
    ), {"day": today}).rowcount  # fmt: skip
    return {"projects_entered": entered, **close_handled_projects_in(conn, today)}


def close_handled_projects_in(conn: sa.Connection, today: date) -> dict[str, int]:
    """Projects on the list whose bid-rigging alerts are all handled leave it, with the handling results."""
    left = conn.execute(sa.text(
        "UPDATE supervision.watch_entry w SET left_on = greatest(w.entered_on, :day), updated_at = now(),"
        " left_reason = '报警已全部处理：' || (SELECT string_agg(coalesce(a.handle_result, '-'), '；' ORDER BY a.id)"
        "   FROM core.alert a WHERE a.tender_project_code = w.subject_code AND a.alert_type = 'bid_rigging')"
        "   || ' / all alerts handled'"
        " WHERE w.subject_kind = 'project' AND w.reason_code = 'project_alert' AND w.left_on IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM core.alert a WHERE a.tender_project_code = w.subject_code"
        "   AND a.alert_type = 'bid_rigging' AND a.handled = '0')"
    ), {"day": today}).rowcount  # fmt: skip
    return {"projects_left": left}


def close_handled_projects(engine: sa.Engine, today: date) -> dict[str, int]:
    """`close_handled_projects_in` in its own transaction."""
    with engine.begin() as conn:
        return close_handled_projects_in(conn, today)


def update_restriction_entries(conn: sa.Connection, *, today: date) -> dict[str, int]:
    """Bidders with a restriction in force enter (reason: the list and entry); they leave when it stops."""
    if not conn.scalar(sa.text("SELECT to_regclass('core.restriction') IS NOT NULL")):
        return {"restrictions_entered": 0, "restrictions_left": 0}
    entered = conn.execute(sa.text(
        "INSERT INTO supervision.watch_entry (subject_kind, subject_code, subject_name, reason_code, reason, source_ref,"
        " entered_on)"
        " SELECT DISTINCT ON (r.entity_key) 'entity', r.entity_key, r.entity_name, 'restriction',"
        "  '限制期内：' || r.source || ' ' || r.source_key || coalesce('（' || r.reason || '）', '')"
        "  || ' / restricted by ' || r.source || ' entry ' || r.source_key, r.id::text, greatest(r.active_from, :day - 0)"
        " FROM core.restriction r WHERE r.active_from <= :day AND (r.active_until IS NULL OR :day < r.active_until)"
        "  AND EXISTS (SELECT 1 FROM core.bid b WHERE b.bidder_code = r.entity_key)"
        " ORDER BY r.entity_key, r.active_from DESC"
        " ON CONFLICT (subject_kind, subject_code, reason_code) WHERE left_on IS NULL DO NOTHING"
    ), {"day": today}).rowcount  # fmt: skip
    left = conn.execute(sa.text(
        "UPDATE supervision.watch_entry w SET left_on = greatest(w.entered_on, :day), updated_at = now(),"
        " left_reason = '限制已结束或移出名单 / restriction ended or removed'"
        " WHERE w.reason_code = 'restriction' AND w.left_on IS NULL AND NOT EXISTS (SELECT 1 FROM core.restriction r"
        "  WHERE r.entity_key = w.subject_code AND r.active_from <= :day AND (r.active_until IS NULL OR :day < r.active_until))"
    ), {"day": today}).rowcount  # fmt: skip
    return {"restrictions_entered": entered, "restrictions_left": left}


def watch_list(engine: sa.Engine, *, current_only: bool = False) -> list[dict[str, Any]]:
    """Every watch-list stay (or only the current ones), newest first."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT id, subject_kind, subject_code, subject_name, reason_code, reason, source_ref, score, entered_on,"
            " left_on, left_reason FROM supervision.watch_entry WHERE NOT :cur OR left_on IS NULL"
            " ORDER BY entered_on DESC, id DESC"), {"cur": current_only}).mappings().all()  # fmt: skip
    return [{k: (v.isoformat() if isinstance(v, date) else (float(v) if k == "score" and v is not None else v))
             for k, v in r.items()} for r in rows]  # fmt: skip
