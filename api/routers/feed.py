"""GET /v1/feed: the pull channel for member units that cannot receive pushes (cursor-based, audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import MemberUnitCaller
from api.errors import error_responses
from api.schemas import FeedPage

router = APIRouter(tags=["delivery 抄送与签收"])


@router.get(
    "/feed",
    response_model=FeedPage,
    responses=error_responses(400, 401, 403, 404, 422, 503),
    summary="成员单位拉取抄送事件 Pull feed of penalty events for the caller's unit",
)
def read_unit_feed(
    read: MemberUnitCaller,
    after: Annotated[int, Query(ge=0, description="上次返回的 next_cursor / the previous next_cursor")] = 0,
    limit: Annotated[int, Query(ge=1, le=500, description="最多条数 / at most this many events")] = 100,
) -> Response:
    """Events owed to the token's own unit after the cursor; the unit is the token's organisation. Audited."""
    from ggzy.delivery.feed import read_feed

    read.log_params({"after": after, "limit": limit})
    page = read_feed(read.engine, read.principal.org_code, after, limit)
    return read.respond(page, row_count=len(page.get("items", [])))
