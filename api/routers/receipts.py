"""POST /v1/receipts: a member unit acknowledges (签收) a delivered document with a signed receipt."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.deps import MemberUnitCaller
from api.errors import error_responses
from api.schemas import Receipt
from ggzy.audit import sha256_hex

router = APIRouter(tags=["delivery 抄送与签收"])


@router.post(
    "/receipts",
    response_model=Receipt,
    responses=error_responses(400, 401, 403, 404, 409, 422, 503),
    summary="成员单位签收 Acknowledge a delivered document with a signed receipt",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "Standard Webhooks 签名的回执，签名头 webhook-id / webhook-timestamp / webhook-signature"
            " / a receipt signed like a Standard Webhooks message with the unit's secret",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def post_receipt(request: Request, read: MemberUnitCaller) -> Response:
    """Pass the exact body bytes and headers to the receipt checker for the token's unit. Audited."""
    from ggzy.delivery.receipts import record_receipt

    body = await request.body()
    read.log_params(
        {"body_sha256": sha256_hex(body), "bytes": len(body), "webhook_id": request.headers.get("webhook-id")}
    )
    result = await run_in_threadpool(
        record_receipt, read.engine, read.principal.org_code, body, dict(request.headers)
    )
    return await run_in_threadpool(read.respond, result, row_count=1)
