"""GET /v1/penalties and /v1/penalties/{id}: administrative penalty decisions, every read audited."""

from __future__ import annotations

import base64
from datetime import date
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from api.deps import PenaltyReader
from api.errors import error_responses
from api.schemas import Paging, PenaltyDecision, PenaltyDetail, PenaltyFilters, PenaltyPage, mask_personal_ids
from ggzy.errors import HubError
from ggzy.identifiers import mask_id_number

router = APIRouter(tags=["penalties 行政处罚"])

_COLUMNS = ", ".join(PenaltyDecision.model_fields)
_MASKED = ("legal_rep_id_masked", "party_id_masked")


def _decision(row: sa.RowMapping) -> PenaltyDecision:
    data = dict(row)
    for key in _MASKED:
        data[key] = mask_id_number(data[key])
    return PenaltyDecision.model_validate(data)


def encode_cursor(decision_date: date, penalty_id: int) -> str:
    """Opaque keyset cursor for (decision_date, id), the listing order."""
    return base64.urlsafe_b64encode(f"{decision_date.isoformat()}|{penalty_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[date, int]:
    """Inverse of encode_cursor; a bilingual 400 when the cursor was not made by us."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        day, penalty_id = text.split("|")
        return date.fromisoformat(day), int(penalty_id)
    except (ValueError, UnicodeDecodeError):
        raise HubError(
            "invalid_cursor", "分页游标 cursor 无效，请使用上一页返回的 next_cursor",
            "invalid cursor: pass the next_cursor of the previous page", detail={"parameter": "cursor", "value": cursor},
        ) from None  # fmt: skip


def _where(filters: PenaltyFilters) -> tuple[list[str], dict[str, Any]]:
    clauses: list[str] = []
    values: dict[str, Any] = {}
    if filters.party_uscc:
        clauses.append("party_uscc = :party_uscc")
        values["party_uscc"] = filters.party_uscc.upper()
    if filters.party_name:
        escaped = filters.party_name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append("party_name ILIKE :party_name ESCAPE '\\'")
        values["party_name"] = f"%{escaped}%"
    if filters.authority_code:
        clauses.append("authority_code = :authority_code")
        values["authority_code"] = filters.authority_code.upper()
    if filters.decision_date_from:
        clauses.append("decision_date >= :date_from")
        values["date_from"] = filters.decision_date_from
    if filters.decision_date_to:
        clauses.append("decision_date <= :date_to")
        values["date_to"] = filters.decision_date_to
    if filters.category:
        clauses.append(":category = ANY(penalty_categories)")
        values["category"] = filters.category
    return clauses, values


def query_penalties(engine: sa.Engine, filters: PenaltyFilters) -> PenaltyPage:
    """One page of decisions matching the filters, newest decision date first (keyset or offset paging)."""
    if filters.cursor is not None and filters.offset is not None:
        raise HubError(
            "conflicting_paging", "cursor 与 offset 只能二选一", "use either cursor or offset, not both",
            detail={"parameters": ["cursor", "offset"]},
        )  # fmt: skip
    clauses, values = _where(filters)
    if filters.cursor is not None:
        values["cursor_date"], values["cursor_id"] = decode_cursor(filters.cursor)
        clauses.append("(decision_date, id) < (:cursor_date, :cursor_id)")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    values["limit"] = filters.limit + 1
    values["offset"] = filters.offset or 0
    sql = (
        f"SELECT {_COLUMNS} FROM core.penalty_decision {where}"
        " ORDER BY decision_date DESC, id DESC LIMIT :limit OFFSET :offset"
    )
    with engine.connect() as conn:
        rows = conn.execute(sa.text(sql), values).mappings().all()
    items = [_decision(row) for row in rows[: filters.limit]]
    has_more = len(rows) > filters.limit
    paging = Paging(
        limit=filters.limit, offset=filters.offset, cursor=filters.cursor, returned=len(items), has_more=has_more,
        next_cursor=encode_cursor(items[-1].decision_date, items[-1].id) if has_more else None,
    )  # fmt: skip
    return PenaltyPage(items=items, paging=paging)


def penalty_detail(engine: sa.Engine, penalty_id: int) -> PenaltyDetail:
    """A decision's current version and every recorded version; 404 when there is no such decision."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(f"SELECT {_COLUMNS} FROM core.penalty_decision WHERE id = :id"), {"id": penalty_id}
        ).mappings().one_or_none()  # fmt: skip
        if row is None:
            raise HubError(
                "penalty_not_found", f"处罚决定 {penalty_id} 不存在", f"no penalty decision with id {penalty_id}",
                status_code=404, detail={"id": penalty_id},
            )  # fmt: skip
        versions = conn.execute(
            sa.text(
                "SELECT version, batch_id, content_hash, recorded_at, record FROM core.penalty_decision_version"
                " WHERE penalty_id = :id ORDER BY version"
            ),
            {"id": penalty_id},
        ).mappings()
        history = [{**version, "record": mask_personal_ids(version["record"])} for version in versions]
    return PenaltyDetail.model_validate({"penalty": _decision(row), "versions": history})


_ERRORS = error_responses(400, 401, 403, 422, 503)


@router.get(
    "/penalties",
    response_model=PenaltyPage,
    responses=_ERRORS,
    summary="查询行政处罚决定 List penalty decisions",
)
def list_penalties(read: PenaltyReader, filters: Annotated[PenaltyFilters, Query()]) -> Response:
    """Filter and page decisions; oversight tokens must send X-Case-Ref and X-Purpose. Audited."""
    read.log_params(filters.model_dump(mode="json", exclude_none=True))
    page = query_penalties(read.engine, filters)
    return read.respond(page, row_count=len(page.items))


@router.get(
    "/penalties/{penalty_id}",
    response_model=PenaltyDetail,
    responses=error_responses(400, 401, 403, 404, 422, 503),
    summary="行政处罚决定详情及历史版本 One decision with its version history",
)
def get_penalty(read: PenaltyReader, penalty_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> Response:
    """The current version and every earlier version of one decision. Audited."""
    read.log_params({"penalty_id": penalty_id})
    return read.respond(penalty_detail(read.engine, penalty_id), row_count=1)
