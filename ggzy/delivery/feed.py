"""The pull feed: the same messages a push carries, read page by page by the unit itself.

For pull-only units (discipline, audit and police bodies reading through the online channel) and as a
fallback for any unit whose endpoint is down or disabled. The cursor is the outbox row id (gap-tolerant,
strictly increasing per unit): pass the previous page's `next_cursor` as `after`. Reading a page marks its
rows delivered (`delivered_via = 'pull'`, also for rows that were 'failed' or 'disabled' for pushing:
the unit now holds them); they still need a signed receipt to count as acknowledged (签收).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ggzy.delivery.outbox import MESSAGE_SELECT, build_payload
from ggzy.delivery.units import unknown_unit
from ggzy.errors import HubError
from ggzy.settings import get_settings

MAX_PAGE = 500


def read_feed(engine: sa.Engine, unit_code: str, after: int, limit: int) -> dict[str, Any]:
    """Messages owed to unit_code with cursor > after, oldest first: {'items', 'next_cursor', 'has_more'}."""
    if after < 0 or not 1 <= limit <= MAX_PAGE:
        raise HubError(
            "invalid_cursor",
            f"参数无效：after 须 >= 0，limit 须在 1 到 {MAX_PAGE} 之间",
            f"invalid paging: after must be >= 0 and limit between 1 and {MAX_PAGE}",
            status_code=400,
            detail={"after": after, "limit": limit},
        )
    base = get_settings().api_base_url
    with engine.begin() as conn:
        if not conn.scalar(sa.text("SELECT 1 FROM delivery.member_unit WHERE code = :c"), {"c": unit_code}):
            raise unknown_unit(unit_code)
        rows = (
            conn.execute(
                sa.text(
                    MESSAGE_SELECT + " WHERE o.unit_code = :unit AND o.id > :after ORDER BY o.id LIMIT :n"
                ),
                {"unit": unit_code, "after": after, "n": limit + 1},
            )
            .mappings()
            .all()
        )
        page, has_more = rows[:limit], len(rows) > limit
        if page:
            conn.execute(
                sa.text(
                    "UPDATE delivery.outbox SET status = 'delivered', delivered_at = coalesce(delivered_at, now()),"
                    " delivered_via = coalesce(delivered_via, 'pull'), locked_until = NULL"
                    " WHERE id = ANY(:ids) AND status IN ('pending', 'failed', 'disabled')"
                ),
                {"ids": [r["id"] for r in page]},
            )
    items = [{"cursor": r["id"], **build_payload(r, base)} for r in page]
    return {
        "unit": unit_code,
        "items": items,
        "next_cursor": page[-1]["id"] if page else after,
        "has_more": has_more,
    }
