"""Acknowledgements (签收): a member unit confirms it received THIS document, with a signed receipt.

"Delivered" only says the unit's endpoint answered 2xx (or the unit read the feed); the notices'
accountability (通报 units that do not perform) needs the unit to confirm the document itself. A receipt is
the JSON body

    {"message_id": "msg_…", "document_hash": "<sha256 hex of the event's document>",
     "received_at": "2026-11-23T09:30:00+08:00", "note": "optional"}

signed by the unit with its own delivery secret exactly like a Standard Webhooks message (webhook-id = the
unit's own receipt id, webhook-timestamp, webhook-signature over the body; see webhooks.py). The API
(POST /v1/receipts) authenticates the unit's bearer token and passes the exact body bytes and headers here.
Checks, in order: signature (401), body fields (400), the message exists and is owed to this unit (404;
another unit's message looks the same as an unknown one), the document hash matches (409). A repeated
receipt for an acknowledged message is accepted and changes nothing (idempotent).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ggzy.audit import canonical_json
from ggzy.delivery.units import unknown_unit
from ggzy.delivery.webhooks import HEADER_ID, HEADER_TIMESTAMP, verify
from ggzy.errors import HubError

REQUIRED_FIELDS = ("message_id", "document_hash", "received_at")
NOTE_MAX_CHARS = 2000

# delivery.message_id_for (migration 0007): 'msg_', the event id in 12 digits, '_', the unit code.
_DERIVED_MESSAGE_ID = re.compile(r"msg_([0-9]{12})_(.+)", re.DOTALL)


def message_lookup(message_id: str, unit_code: str) -> tuple[str, dict[str, Any]]:
    """(WHERE clause on outbox o, parameters) finding a unit's message by id through an index.

    A derived id is found by its (event_id, unit_code) key; any other id through the partial unique index
    of ids that are not derived (whose predicate the clause repeats so the planner can use it).
    """
    derived = _DERIVED_MESSAGE_ID.fullmatch(message_id)
    if derived and derived[2] == unit_code:
        return (
            "o.event_id = :e AND o.unit_code = :u AND o.message_id = :m",
            {"e": int(derived[1]), "u": unit_code, "m": message_id},
        )
    return (
        "o.message_id = :m AND o.unit_code = :u AND o.message_id <> delivery.message_id_for(o.event_id, o.unit_code)",
        {"u": unit_code, "m": message_id},
    )


def record_receipt(
    engine: sa.Engine, unit_code: str, body: bytes, headers: Mapping[str, str]
) -> dict[str, Any]:
    """Verify a unit's signed receipt and mark its message acknowledged; returns the acknowledgement."""
    with engine.connect() as conn:
        secret = conn.scalar(
            sa.text("SELECT secret FROM delivery.member_unit WHERE code = :c"), {"c": unit_code}
        )
    if secret is None:
        raise unknown_unit(unit_code)
    receipt = _check_fields(verify(secret, body, headers))
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    stored = {
        **receipt,
        "receipt_id": lowered[HEADER_ID],
        "signed_at": datetime.fromtimestamp(int(float(lowered[HEADER_TIMESTAMP])), UTC).isoformat(),
    }
    where, params = message_lookup(receipt["message_id"], unit_code)
    with engine.begin() as conn:
        row = (
            conn.execute(
                sa.text(
                    "SELECT o.id, o.status, o.acknowledged_at, o.receipt, e.document_hash"
                    " FROM delivery.outbox o JOIN delivery.event e ON e.id = o.event_id"
                    f" WHERE {where} FOR UPDATE OF o"
                ),
                params,
            )
            .mappings()
            .first()
        )
        if row is None:
            raise HubError(
                "unknown_message",
                f"消息 {receipt['message_id']} 不存在或不是发给成员单位 {unit_code} 的",
                f"message {receipt['message_id']} does not exist or was not sent to member unit {unit_code}",
                status_code=404,
                detail={"field": "message_id", "value": receipt["message_id"], "unit": unit_code},
            )
        if receipt["document_hash"] != row["document_hash"]:
            raise HubError(
                "document_hash_mismatch",
                f"回执中的 document_hash 与消息 {receipt['message_id']} 所载文书的哈希不一致，未签收",
                f"document_hash in the receipt does not match the document of message {receipt['message_id']};"
                " not acknowledged",
                status_code=409,
                detail={
                    "field": "document_hash",
                    "value": receipt["document_hash"],
                    "expected": row["document_hash"],
                    "message_id": receipt["message_id"],
                },
            )
        already = row["status"] == "acknowledged"
        acknowledged_at, kept = row["acknowledged_at"], row["receipt"] or {}
        if not already:
            acknowledged_at = conn.scalar(
                sa.text(
                    "UPDATE delivery.outbox SET status = 'acknowledged', acknowledged_at = now(),"
                    " receipt = CAST(:receipt AS jsonb), delivered_at = coalesce(delivered_at, now()),"
                    " delivered_via = coalesce(delivered_via, 'receipt'), locked_until = NULL"
                    " WHERE id = :id RETURNING acknowledged_at"
                ),
                {"id": row["id"], "receipt": canonical_json(stored)},
            )
            kept = stored
    return {
        "message_id": receipt["message_id"],
        "unit": unit_code,
        "status": "acknowledged",
        "document_hash": row["document_hash"],
        "acknowledged_at": acknowledged_at.isoformat(),
        "receipt_id": kept.get("receipt_id"),
        "already_acknowledged": already,
    }


def _check_fields(body: Any) -> dict[str, Any]:
    """The receipt's fields, each checked; HubError 'invalid_receipt' (400) naming the field."""
    if not isinstance(body, dict):
        raise _invalid("-", "回执须为 JSON 对象", "the receipt must be a JSON object", body)
    for name in REQUIRED_FIELDS:
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            raise _invalid(name, "必填，须为非空文本", "required, must be non-empty text", value)
    try:
        datetime.fromisoformat(body["received_at"])
    except ValueError:
        raise _invalid(
            "received_at", "须为 ISO 8601 时间", "must be an ISO 8601 date-time", body["received_at"]
        ) from None
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > NOTE_MAX_CHARS):
        raise _invalid(
            "note",
            f"须为不超过 {NOTE_MAX_CHARS} 字的文本",
            f"must be text of at most {NOTE_MAX_CHARS} characters",
            note,
        )
    receipt = {name: body[name].strip() for name in REQUIRED_FIELDS}
    if note is not None:
        receipt["note"] = note
    return receipt


def _invalid(field_name: str, zh_rule: str, en_rule: str, value: Any) -> HubError:
    """A 400 naming the receipt field and the rule it breaks."""
    return HubError(
        "invalid_receipt",
        f"回执字段 {field_name}：{zh_rule}",
        f"receipt field {field_name}: {en_rule}",
        status_code=400,
        detail={"field": field_name, "value": None if value is None else str(value)[:200]},
    )
