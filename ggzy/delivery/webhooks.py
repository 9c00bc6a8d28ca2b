"""Standard Webhooks 1.0 signing and verification for pushes to member units and their receipts (签收).

Every push carries three headers (https://www.standardwebhooks.com/):

* `webhook-id`: the outbox row's `message_id`; the same on every retry, so receivers de-duplicate on it;
* `webhook-timestamp`: unix seconds of this attempt;
* `webhook-signature`: `v1,<base64 HMAC-SHA256>` over `"{id}.{timestamp}.{body}"` with the unit's own secret
  (`whsec_` + base64 of 32 random bytes, generated once by ggzy.delivery.units).

A unit's receipt is signed the same way with the same secret (webhook-id = the unit's receipt id), so one
verifier serves both directions. Verification uses the `standardwebhooks` package: constant-time
comparison, timestamps outside +/- 5 minutes refused, several space-separated signatures accepted (key
rotation). Its exceptions are turned into HubError with Chinese and English messages.

Payload choice: FULL payload. The notices ask that every penalty decision be 抄送 (copied) to each member
unit, i.e. the unit keeps its own copy; several units (trading centre, credit platform) publish or act on
it without a round trip back to the hub. Personal ID numbers in the document are already masked by the
pipeline (keyed hashes are left out), so the push carries nothing the audited API would withhold. The
payload still links to the audited API (`links.self`, for the current version) and to `links.receipt`
where the unit POSTs its signed acknowledgement naming the document hash.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from ggzy.errors import HubError

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec asks for at least 24
TOLERANCE = timedelta(minutes=5)  # what standardwebhooks.Webhook.verify enforces


def new_secret() -> str:
    """A fresh per-unit signing secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def encode_body(payload: Any) -> bytes:
    """The exact bytes sent and signed: compact JSON, sorted keys, UTF-8 characters kept."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign_headers(
    secret: str, message_id: str, body: bytes, *, timestamp: datetime | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for body, signed with secret at timestamp (default: now)."""
    moment = (timestamp or datetime.now(UTC)).astimezone(UTC)
    signature = Webhook(secret).sign(message_id, moment, body.decode("utf-8"))
    return {
        HEADER_ID: message_id,
        HEADER_TIMESTAMP: str(int(moment.timestamp())),
        HEADER_SIGNATURE: signature,
    }


def verify(secret: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """Check a signed message (signature in constant time, timestamp within 5 min); returns the parsed JSON body.

    Raises HubError: 'signature_headers_missing' (400), 'signature_invalid' or 'signature_stale' (401),
    'body_not_json' (400).
    """
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    missing = [h for h in (HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE) if not lowered.get(h)]
    if missing:
        raise HubError(
            "signature_headers_missing",
            f"缺少签名头：{', '.join(missing)}（Standard Webhooks）",
            f"missing signature header(s): {', '.join(missing)} (Standard Webhooks)",
            status_code=400,
            detail={"missing": missing},
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HubError(
            "body_not_json", "消息体不是 UTF-8 编码的 JSON", "the body is not UTF-8 JSON", status_code=400
        ) from None
    try:
        Webhook(secret).verify(text, lowered, json_parse=False)
    except WebhookVerificationError as exc:
        stale = "timestamp" in str(exc).lower() or "invalid signature headers" in str(exc).lower()
        raise _signature_error(stale, str(exc)) from None
    except (ValueError, TypeError) as exc:  # malformed 'v1,<base64>' entries
        raise _signature_error(False, f"malformed signature header: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise HubError(
            "body_not_json",
            f"消息体不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列 {exc.msg}",
            f"the body is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}",
            status_code=400,
        ) from None


def _signature_error(stale: bool, reason: str) -> HubError:
    """The 401 for a signature that does not match or a timestamp outside the tolerance window."""
    if stale:
        return HubError(
            "signature_stale",
            "webhook-timestamp 无效或超出允许的 5 分钟时间窗口（可能是重放）",
            "webhook-timestamp is invalid or outside the 5-minute tolerance window (possible replay)",
            status_code=401,
            detail={"reason": reason},
        )
    return HubError(
        "signature_invalid",
        "签名校验失败：webhook-signature 与消息体和密钥不符",
        "signature check failed: webhook-signature does not match the body and the secret",
        status_code=401,
        detail={"reason": reason},
    )
