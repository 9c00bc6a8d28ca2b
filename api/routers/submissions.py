"""POST /v1/submissions (departments upload penalty files) and GET /v1/submissions/{batch_id}."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, File, Path, Query, UploadFile
from fastapi.responses import Response

from api.deps import AuditedRequest, SettingsDep, SubmissionCaller
from api.errors import ErrorBody, error_responses
from api.schemas import Batch, Paging, QuarantinedRow, SubmissionDetail, SubmissionReport, mask_personal_ids
from ggzy.audit import sha256_hex
from ggzy.errors import HubError
from ggzy.settings import Settings

router = APIRouter(tags=["submissions 报送"])

SUBMITTING_UNIT_ROLES = ("supervising_department",)  # plus the profile's lead agency
STAFF_ROLES = ("engineer", "admin")

_BATCH_COLUMNS = ", ".join(Batch.model_fields)
_QUARANTINE_COLUMNS = ", ".join(QuarantinedRow.model_fields)


def upload_too_large(size: int, limit: int, filename: str | None = None) -> HubError:
    """The bilingual 413 for a file over GGZY_UPLOAD_MAX_BYTES."""
    return HubError(
        "upload_too_large",
        f"上传文件{f'“{filename}”' if filename else ''}超过大小上限 {limit} 字节（收到 {size} 字节以上）",
        f"upload{f' {filename!r}' if filename else ''} exceeds the limit of {limit} bytes (got {size}+ bytes)",
        status_code=413,
        detail={"file": filename, "limit_bytes": limit},
    )


def ensure_may_submit(caller: AuditedRequest, settings: Settings) -> None:
    """Members may submit only when their unit is a supervising department or the lead agency."""
    principal = caller.principal
    if principal.role in STAFF_ROLES:
        return
    from ggzy.jurisdictions import load_profile

    profile = load_profile(settings.jurisdiction)
    unit = next((u for u in profile.units if u.code == principal.org_code), None)
    if principal.org_code == profile.lead_agency or (unit is not None and unit.role in SUBMITTING_UNIT_ROLES):
        return
    raise HubError(
        "submission_not_allowed",
        f"单位 {principal.org_code} 不是{profile.name}的行业监管部门或牵头单位，不能报送处罚决定",
        f"unit {principal.org_code} is neither a supervising department nor the lead agency of "
        f"{profile.key}, so it may not submit penalty decisions",
        status_code=403,
        detail={
            "org_code": principal.org_code,
            "unit_role": unit.role if unit else None,
            "jurisdiction": profile.key,
        },
    )


@router.post(
    "/submissions",
    status_code=201,
    response_model=SubmissionReport,
    responses={
        200: {
            "model": SubmissionReport,
            "description": "同一文件此前已处理 The same file was processed before",
        },
        **error_responses(400, 401, 403, 413, 503),
        422: {
            "model": ErrorBody,
            "description": "文件无法读取（批次已留存）或参数无效 Unreadable file (batch kept as"
            " evidence; detail = the batch report) or invalid parameters",
        },
    },
    summary="报送行政处罚决定文件 Upload a penalty decision file (xlsx / csv / json / xml)",
)
def submit_file(
    caller: SubmissionCaller,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="双公示行政处罚文件 / a 双公示 penalty file")],
) -> Response:
    """Land, validate, quarantine and merge the file; 201 for a new batch, 200 when already processed."""
    limit = settings.upload_max_bytes
    data = file.file.read(limit + 1)
    caller.log_params({"filename": file.filename, "bytes": len(data), "sha256": sha256_hex(data)})
    ensure_may_submit(caller, settings)
    if len(data) > limit:
        raise upload_too_large(len(data), limit, file.filename)
    from ggzy.pipelines.penalties import ingest_bytes

    report = ingest_bytes(
        data,
        file.filename or "upload",
        source="upload",
        submitted_by=caller.principal.org_code,
        settings=settings,
    )
    body = mask_personal_ids(report.to_dict())
    if body.get("status") == "rejected" and body.get("error"):
        # An unreadable file: the batch is kept as evidence; the client gets the bilingual reason.
        error = body["error"]
        rejected = {
            "error": error.get("error", "unreadable_file"),
            "message": error.get("message"),
            "detail": body,
        }
        return caller.respond(rejected, row_count=0, status_code=422)
    status = 200 if body.get("already_processed") else 201
    return caller.respond(body, row_count=body.get("rows_in"), status_code=status)


def fetch_batch(engine: sa.Engine, batch_id: UUID) -> dict[str, Any]:
    """One batch manifest row; a bilingual 404 when there is none."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(f"SELECT {_BATCH_COLUMNS} FROM ops.batch WHERE id = :id"), {"id": batch_id}
        ).mappings().one_or_none()  # fmt: skip
    if row is None:
        raise HubError(
            "batch_not_found", f"批次 {batch_id} 不存在", f"no batch with id {batch_id}", status_code=404,
            detail={"batch_id": str(batch_id)},
        )  # fmt: skip
    return dict(row)


def fetch_quarantine(
    engine: sa.Engine, *, batch_id: UUID | None = None, dataset: str | None = None, rule: str | None = None,
    limit: int, offset: int,
) -> tuple[list[QuarantinedRow], bool]:  # fmt: skip
    """Quarantined rows (IDs masked), filtered, paged by offset; returns the rows and whether more exist."""
    clauses, values = [], {"limit": limit + 1, "offset": offset}
    for column, value in (("batch_id", batch_id), ("dataset", dataset)):
        if value is not None:
            clauses.append(f"{column} = :{column}")
            values[column] = value
    if rule is not None:
        clauses.append(":rule = ANY(rules)")
        values["rule"] = rule
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    order = "source_row" if batch_id is not None else "quarantined_at DESC, id DESC"
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(f"SELECT {_QUARANTINE_COLUMNS} FROM quality.quarantine_row {where} ORDER BY {order}"
                    " LIMIT :limit OFFSET :offset"),
            values,
        ).mappings().all()  # fmt: skip
    items = [
        QuarantinedRow.model_validate(
            {
                **row,
                "errors": mask_personal_ids(row["errors"]),
                "raw_record": mask_personal_ids(row["raw_record"]),
            }
        )
        for row in rows[:limit]
    ]
    return items, len(rows) > limit


@router.get(
    "/submissions/{batch_id}",
    response_model=SubmissionDetail,
    responses=error_responses(400, 401, 403, 404, 422, 503),
    summary="报送批次及其隔离行 A submitted batch and its quarantined rows",
)
def get_submission(
    caller: SubmissionCaller,
    batch_id: Annotated[UUID, Path(description="批次编号 / batch id")],
    limit: Annotated[
        int, Query(ge=1, le=5000, description="隔离行每页条数 / quarantined rows per page")
    ] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """The batch manifest and its quarantined rows with rule names and bilingual messages. Audited."""
    caller.log_params({"batch_id": str(batch_id), "limit": limit, "offset": offset})
    batch = fetch_batch(caller.engine, batch_id)
    principal = caller.principal
    if principal.role not in STAFF_ROLES and batch["submitted_by"] != principal.org_code:
        raise HubError(
            "not_your_batch",
            f"批次 {batch_id} 不是本单位（{principal.org_code}）报送的",
            f"batch {batch_id} was not submitted by your unit ({principal.org_code})",
            status_code=403,
            detail={"batch_id": str(batch_id)},
        )
    rows, has_more = fetch_quarantine(caller.engine, batch_id=batch_id, limit=limit, offset=offset)
    paging = Paging(limit=limit, offset=offset, returned=len(rows), has_more=has_more, next_cursor=None)
    detail = SubmissionDetail(batch=Batch.model_validate(batch), quarantined=rows, paging=paging)
    return caller.respond(detail, row_count=1 + len(rows))
