"""One supervision run: score what changed since the last run, raise and route alerts, update the watch list."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from ggzy import database
from ggzy.settings import Settings, get_settings
from ggzy.supervision import alerts, watchlist
from ggzy.supervision.scoring import (
    ALERT_THRESHOLD,
    WATCH_THRESHOLD,
    changed_sections,
    compute_scores,
    write_scores,
)


def last_run_started(engine: sa.Engine) -> datetime | None:
    """When the last successful scoring run started (rows changed after it are rescored)."""
    with engine.connect() as conn:
        return conn.scalar(
            sa.text("SELECT max(started_at) FROM supervision.run WHERE kind = 'score' AND status = 'done'")
        )


def run_supervision(settings: Settings | None = None, engine: sa.Engine | None = None, *, full: bool = False,
                    threshold: float = ALERT_THRESHOLD, watch_threshold: float = WATCH_THRESHOLD,
                    today: date | None = None, site_min_bidders: int = 8) -> dict[str, Any]:  # fmt: skip
    """Rescore (everything when `full` or on the first run, else the sections changed since the last run)."""
    settings = settings or get_settings()
    engine = engine or database.engine(settings)
    today = today or date.today()
    since = None if full else last_run_started(engine)
    params = {
        "threshold": threshold,
        "watch_threshold": watch_threshold,
        "full": full,
        "site_min_bidders": site_min_bidders,
    }
    with engine.begin() as conn:
        run_id = conn.scalar(sa.text(
            "INSERT INTO supervision.run (kind, changed_since, parameters) VALUES ('score', :s, CAST(:p AS jsonb))"
            " RETURNING id"), {"s": since, "p": json.dumps(params)})  # fmt: skip
    try:
        with engine.begin() as conn:
            scope = changed_sections(conn, since)
            if scope is not None and not scope:
                figures: dict[str, Any] = {
                    "sections": 0,
                    "entities": 0,
                    "pairs": 0,
                    "raised": 0,
                    "note": "nothing changed",
                }
            else:
                scores = compute_scores(conn, threshold=threshold, site_min_bidders=site_min_bidders)
                figures = write_scores(conn, scores, run_id, scope)
                sections = (
                    scores.sections if scope is None else scores.sections[scores.sections.index.isin(scope)]
                )
                figures.update(alerts.raise_alerts(conn, settings, sections, scores.pairs, run_id,
                                                   threshold=threshold, today=today))  # fmt: skip
                entities = scores.entities
                if scope is not None:
                    touched = set(scores.bids.loc[scores.bids["section"].isin(scope), "bidder"])
                    entities = entities[entities.index.isin(touched)]
                figures.update(
                    watchlist.update_entity_entries(
                        conn, entities, watch_threshold=watch_threshold, today=today
                    )
                )
                figures["excluded_terminals"] = len(scores.terminals)
            figures.update(watchlist.update_project_entries(conn, today=today))
            figures.update(watchlist.update_restriction_entries(conn, today=today))
            conn.execute(sa.text(
                "UPDATE supervision.run SET status = 'done', finished_at = now(), sections_scored = :n,"
                " alerts_raised = :a, figures = CAST(:f AS jsonb) WHERE id = :id"
            ), {"n": figures.get("sections", 0), "a": figures.get("raised", 0), "f": json.dumps(figures), "id": run_id})  # fmt: skip
    except Exception as exc:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE supervision.run SET status = 'failed', finished_at = now(), error = :e"
                                 " WHERE id = :id"), {"e": str(exc)[:2000], "id": run_id})  # fmt: skip
        raise
    return {"run_id": run_id, "changed_since": since.isoformat() if since else None, **figures}
