"""Test helpers for delivery: a small jurisdiction, and penalty events owed to its units (real SQL rows)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date

import sqlalchemy as sa

from ggzy.delivery.outbox import enqueue_event
from ggzy.jurisdictions import MemberUnit, Profile

PUSH_A, PUSH_B, PULL_C = "T-PUSH-A", "T-PUSH-B", "T-PULL-C"


def small_profile() -> Profile:
    """Three member units: two receive pushes, one only pulls."""
    units = (
        MemberUnit(
            code=PUSH_A, name="测试单位甲", role="lead_agency", uscc="1141080056A413B477", delivery="push"
        ),
        MemberUnit(
            code=PUSH_B,
            name="测试单位乙",
            role="supervising_department",
            uscc="11410800323FF12E0Q",
            delivery="push",
        ),
        MemberUnit(code=PULL_C, name="测试单位丙", role="audit", uscc="11410800DBB05DA606", delivery="pull"),
    )
    return Profile(
        key="test",
        name="测试市",
        region_code="410800",
        notice="test",
        lead_agency=PUSH_A,
        units=units,
        deadlines={"penalty_acknowledgement": 5},
    )


def seed_events(engine: sa.Engine, count: int, *, ack_due: date | None = None) -> list[int]:
    """`count` penalty decisions, one delivery.event each, enqueued for every unit; returns the event ids."""
    event_ids = []
    with engine.begin() as conn:
        batch_id = conn.scalar(
            sa.text(
                "INSERT INTO ops.batch (dataset, source, sha256, byte_size, raw_path)"
                " VALUES ('penalty_decision', 'test', :sha, 0, '/dev/null') RETURNING id"
            ),
            {"sha": uuid.uuid4().hex},
        )
        for n in range(count):
            decision_no = f"焦住建罚〔2026〕{uuid.uuid4().int % 100000}号"
            penalty_id = conn.scalar(
                sa.text(
                    "INSERT INTO core.penalty_decision (authority_code, decision_no, party_name, party_category,"
                    " violation_type, penalty_categories, decision_date, authority_name, source_format,"
                    " content_hash, first_batch_id, last_batch_id, party_id_masked)"
                    " VALUES ('11410800B7A50E5D5Q', :no, :party, '自然人', '串通投标', ARRAY['罚款'], '2026-11-02',"
                    " '焦作市住房和城乡建设局', 'current', :hash, :batch, :batch, '410802********1234') RETURNING id"
                ),
                {"no": decision_no, "party": f"张{n}", "hash": uuid.uuid4().hex, "batch": batch_id},
            )
            document = {
                "id": penalty_id,
                "version": 1,
                "decision_no": decision_no,
                "party_name": f"张{n}",
                "party_id_masked": "410802********1234",
                "fine_yuan": 50000.0,
            }
            text = json.dumps(document, ensure_ascii=False, sort_keys=True)
            event_id = conn.scalar(
                sa.text(
                    "INSERT INTO delivery.event (event_type, penalty_id, penalty_version, batch_id, document,"
                    " document_hash) VALUES ('penalty.created', :pid, 1, :batch, CAST(:doc AS jsonb), :hash)"
                    " RETURNING id"
                ),
                {
                    "pid": penalty_id,
                    "batch": batch_id,
                    "doc": text,
                    "hash": hashlib.sha256(text.encode()).hexdigest(),
                },
            )
            enqueue_event(conn, event_id, ack_due=ack_due or date(2026, 11, 27))
            event_ids.append(event_id)
    return event_ids


def outbox(engine: sa.Engine, unit: str | None = None) -> list[dict]:
    """Outbox rows (optionally of one unit), by id."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT * FROM delivery.outbox WHERE :unit IS NULL OR unit_code = :unit ORDER BY id"),
            {"unit": unit},
        ).mappings()
        return [dict(r) for r in rows]


def make_due_now(engine: sa.Engine) -> None:
    """Drive time instead of sleeping: every pending row becomes due now."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE delivery.outbox SET next_attempt_at = now() - interval '1 second' WHERE status = 'pending'"
            )
        )
