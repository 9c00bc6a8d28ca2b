"""Data engineers' and supervisors' views: batches, quarantine, delivery status and overdue acknowledgements."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import DeliveryReportCaller, EngineerCaller
from api.errors import error_responses
from api.routers.submissions import fetch_quarantine
from api.schemas import Batch, BatchPage, DeliveryStatus, OverdueReport, Paging, QuarantinePage

router = APIRouter()

_ERRORS = error_responses(400, 401, 403, 422, 503)
PageLimit = Annotated[int, Query(ge=1, le=500, description="每页条数 / page size")]
PageOffset = Annotated[int, Query(ge=0, le=1_000_000, description="偏移量 / offset")]


@router.get("/ops/batches", response_model=BatchPage, responses=_ERRORS, tags=["ops 运维"],
            summary="批次清单 Batch manifests, newest first")  # fmt: skip
def list_batches(
    caller: EngineerCaller,
    dataset: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[
        str | None, Query(max_length=20, description="landed | loaded | failed | rejected")
    ] = None,
    submitted_by: Annotated[
        str | None, Query(max_length=50, description="报送单位代码 / submitting unit")
    ] = None,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> Response:
    """Every received file with its hash and row conservation figures. Audited."""
    filters = {"dataset": dataset, "status": status, "submitted_by": submitted_by}
    caller.log_params(
        {
            key: value
            for key, value in {**filters, "limit": limit, "offset": offset}.items()
            if value is not None
        }
    )
    clauses = [f"{column} = :{column}" for column, value in filters.items() if value is not None]
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    with caller.engine.connect() as conn:
        rows = conn.execute(
            sa.text(f"SELECT {', '.join(Batch.model_fields)} FROM ops.batch {where}"
                    " ORDER BY received_at DESC, id LIMIT :limit OFFSET :offset"),
            {**filters, "limit": limit + 1, "offset": offset},
        ).mappings().all()  # fmt: skip
    items = [Batch.model_validate(dict(row)) for row in rows[:limit]]
    paging = Paging(
        limit=limit, offset=offset, returned=len(items), has_more=len(rows) > limit, next_cursor=None
    )
    return caller.respond(BatchPage(items=items, paging=paging), row_count=len(items))


@router.get("/ops/quarantine", response_model=QuarantinePage, responses=_ERRORS, tags=["ops 运维"],
            summary="隔离行 Quarantined rows with rule names and bilingual messages")  # fmt: skip
def list_quarantine(
    caller: EngineerCaller,
    batch_id: Annotated[UUID | None, Query()] = None,
    dataset: Annotated[str | None, Query(max_length=100)] = None,
    rule: Annotated[
        str | None, Query(max_length=100, description="规则名，如 required:cf_wsh / rule name")
    ] = None,
    limit: PageLimit = 100,
    offset: PageOffset = 0,
) -> Response:
    """Rows that failed a rule, newest first (IDs masked). Audited."""
    params = {
        "batch_id": batch_id and str(batch_id),
        "dataset": dataset,
        "rule": rule,
        "limit": limit,
        "offset": offset,
    }
    caller.log_params({key: value for key, value in params.items() if value is not None})
    items, has_more = fetch_quarantine(
        caller.engine, batch_id=batch_id, dataset=dataset, rule=rule, limit=limit, offset=offset
    )
    paging = Paging(limit=limit, offset=offset, returned=len(items), has_more=has_more, next_cursor=None)
    return caller.respond(QuarantinePage(items=items, paging=paging), row_count=len(items))


@router.get("/delivery/status", response_model=DeliveryStatus, responses=_ERRORS, tags=["delivery 抄送与签收"],
            summary="抄送与签收统计 Delivery and acknowledgement status")  # fmt: skip
def get_delivery_status(caller: DeliveryReportCaller) -> Response:
    """Expected, delivered, acknowledged, pending and failed deliveries, overall and per unit. Audited."""
    from ggzy.delivery.report import delivery_status

    caller.log_params({})
    report = delivery_status(caller.engine)
    units = report.get("units") if isinstance(report, dict) else None
    return caller.respond(report, row_count=len(units) if isinstance(units, list | dict) else 1)


@router.get("/delivery/overdue", response_model=OverdueReport, responses=_ERRORS, tags=["delivery 抄送与签收"],
            summary="逾期未签收 Units whose acknowledgement is overdue")  # fmt: skip
def get_overdue(
    caller: DeliveryReportCaller,
    as_of: Annotated[
        date | None, Query(description="截止日期，默认今天 / as of this date (default today)")
    ] = None,
) -> Response:
    """Deliveries not acknowledged within the profile's working-day deadline. Audited."""
    from ggzy.delivery.report import overdue_report

    day = as_of or date.today()
    caller.log_params({"as_of": day.isoformat()})
    items = overdue_report(caller.engine, day)
    return caller.respond({"as_of": day, "items": items}, row_count=len(items))
