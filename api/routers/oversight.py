"""The oversight channel (监督通道): library catalogue, searches, exports, entity profiles, free SQL, unmasking
and the audit log itself. Every read is bound to the caller's sharing scope in the database and audited
before any byte leaves (see ggzy/library.py for why the scope lives in the database)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query
from fastapi.responses import Response, StreamingResponse

from api.deps import AuditedRequest, AuditLogCaller, LibraryCaller, LibraryDep, SettingsDep, UnmaskCaller
from api.errors import error_responses
from api.schemas import (
    AuditCheckpoint,
    AuditEventPage,
    EntityProfile,
    LibraryCatalog,
    LibraryRows,
    Paging,
    SectionDossier,
    SqlRequest,
    SqlResultBody,
    UnmaskRequest,
    UnmaskResult,
)
from ggzy import audit, library
from ggzy.errors import HubError
from ggzy.identifiers import USCC_RE

router = APIRouter(tags=["oversight 监督通道"])

_ERRORS = error_responses(400, 401, 403, 404, 422, 503)
ViewName = Annotated[
    str, Path(pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="library 视图名 / library view name")
]
WhereParam = Annotated[
    list[str] | None,
    Query(
        max_length=20,
        description="筛选 列名:运算符:值，可重复；运算符 eq ne lt le gt ge contains prefix / filter "
        "column:op:value, repeatable (e.g. party_uscc:eq:91410800MA0000001X)",
    ),
]
OrderBy = Annotated[
    str | None, Query(max_length=63, pattern=r"^[a-z_][a-z0-9_]*$", description="排序列 / order by column")
]
Descending = Annotated[bool, Query(description="降序 / descending order")]


def _filters(where: list[str] | None) -> list[library.Filter]:
    for item in where or []:
        if "\x00" in item or len(item) > 500:
            raise HubError("invalid_filter", "筛选条件过长或含非法字符", "filter too long or contains a NUL character",
                           detail={"filter": item[:100]})  # fmt: skip
    return [library.parse_filter(item) for item in where or []]


def _scope(read: AuditedRequest) -> library.Scope:
    return library.scope_for(read.principal.role, read.principal.org_code)


@router.get("/library/views", response_model=LibraryCatalog, responses=_ERRORS,
            summary="监督查询库目录 The library's views, documented column by column (zh + en)")  # fmt: skip
def list_views(read: LibraryCaller, reader: LibraryDep) -> Response:
    """Every view of the `library` schema the caller may read, with bilingual comments. Audited."""
    read.log_params({})
    catalog = reader.catalog(_scope(read))
    views = [
        {"name": v.name, "comment": v.comment, "columns": [c.__dict__ for c in v.columns]}
        for v in catalog.values()
    ]
    return read.respond({"views": views}, row_count=len(views))


@router.get("/library/views/{view}/rows", response_model=LibraryRows, responses=_ERRORS,
            summary="检索视图 Search one library view with filters and paging")  # fmt: skip
def search_rows(
    read: LibraryCaller,
    reader: LibraryDep,
    view: ViewName,
    where: WhereParam = None,
    order_by: OrderBy = None,
    desc: Descending = False,
    limit: Annotated[int, Query(ge=1, le=500, description="每页条数 / page size")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="偏移量 / offset")] = 0,
) -> Response:
    """Rows of one view matching every filter, in a stable order; member units see only their share. Audited."""
    filters = _filters(where)
    read.log_params({"view": view, "where": [f.to_text() for f in filters], "order_by": order_by, "desc": desc,
                     "limit": limit, "offset": offset})  # fmt: skip
    scope = _scope(read)
    info = library.get_view(reader.catalog(scope), view)
    with reader.session(scope) as conn:
        items, has_more, _ = library.search_view(
            conn, info, filters, order_by=order_by, descending=desc, limit=limit, offset=offset
        )
    paging = Paging(limit=limit, offset=offset, returned=len(items), has_more=has_more, next_cursor=None)
    body = {
        "view": view,
        "items": [library.json_value(item) for item in items],
        "paging": paging.model_dump(),
    }
    return read.respond(body, row_count=len(items))


@router.get(
    "/library/views/{view}/export",
    responses={
        200: {
            "description": "Parquet 或 CSV 文件；清单在响应头 X-Export-Manifest（百分号编码的 JSON）/ the file; its manifest "
            "(rows, sha256, query, case) is in X-Export-Manifest (percent-encoded JSON), also X-Row-Count, "
            "X-Content-SHA256, X-Audit-Seq",
            "content": {"application/vnd.apache.parquet": {}, "text/csv": {}},
        },
        **_ERRORS,
    },
    summary="导出整个视图 Export a whole (filtered) library view as Parquet or CSV",
)
def export_rows(
    read: LibraryCaller,
    reader: LibraryDep,
    view: ViewName,
    format: Annotated[str, Query(pattern="^(parquet|csv)$", description="parquet | csv")] = "parquet",
    where: WhereParam = None,
    order_by: OrderBy = None,
    desc: Descending = False,
) -> Response:
    """Write the view through pyarrow to a spool file, audit its row count and sha256, then stream it."""
    filters = _filters(where)
    params: dict[str, Any] = {"view": view, "format": format, "where": [f.to_text() for f in filters],
                              "order_by": order_by, "desc": desc}  # fmt: skip
    read.log_params(params)
    scope = _scope(read)
    info = library.get_view(reader.catalog(scope), view)
    with reader.session(scope, timeout_ms=library.MAX_TIMEOUT_MS * 4) as conn:
        export = library.export_view(conn, info, filters, format, order_by=order_by, descending=desc)
    read.log_params({**params, "query": export.sql, "bytes": export.byte_size})
    try:
        seq = read.record(row_count=export.rows, result_sha256=export.sha256)
    except HubError:
        export.file.close()
        raise
    manifest = {
        "view": f"library.{view}", "format": format, "rows": export.rows, "sha256": export.sha256,
        "bytes": export.byte_size, "query": export.sql, "filters": params["where"], "case_ref": read.case_ref,
        "purpose": read.purpose, "officer": read.principal.person, "org_code": read.principal.org_code,
        "audit_seq": seq, "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }  # fmt: skip
    headers = {
        "X-Audit-Seq": str(seq), "X-Row-Count": str(export.rows), "X-Content-SHA256": export.sha256,
        "X-Export-Manifest": quote(json.dumps(manifest, ensure_ascii=False, separators=(",", ":")), safe=""),
        "Content-Disposition": f'attachment; filename="{view}.{format}"', "Content-Length": str(export.byte_size),
        "Cache-Control": "no-store",
    }  # fmt: skip
    return StreamingResponse(export.chunks(), media_type=export.media_type, headers=headers)


@router.get("/entities/{uscc}", response_model=EntityProfile, responses=_ERRORS,
            summary="主体画像 Everything about one market entity by USCC")  # fmt: skip
def entity_profile(
    read: LibraryCaller,
    reader: LibraryDep,
    uscc: Annotated[
        str,
        Path(
            min_length=18,
            max_length=18,
            pattern=USCC_RE.pattern,
            description="统一社会信用代码 / USCC (18 characters)",
        ),
    ],  # fmt: skip
) -> Response:
    """Penalties, bids, wins, restrictions, alerts and co-bidders of one entity, in the caller's scope. Audited."""
    read.log_params({"uscc": uscc})
    scope = _scope(read)
    catalog = reader.catalog(scope)
    with reader.session(scope) as conn:
        profile = library.entity_profile(conn, catalog, uscc)
    rows = sum(len(section["items"]) for section in profile["sections"].values())
    return read.respond(library.json_value(profile), row_count=rows)


@router.get("/sections/{bid_section_code}", response_model=SectionDossier, responses=_ERRORS,
            summary="标段档案 Everything about one bid section (标段)")  # fmt: skip
def section_dossier(
    read: LibraryCaller,
    reader: LibraryDep,
    bid_section_code: Annotated[
        str,
        Path(
            min_length=1,
            max_length=64,
            pattern=r"^[0-9A-Za-z_-]{1,64}$",
            description="标段（包）编号 / bid section code (23 characters in the spec)",
        ),
    ],  # fmt: skip
) -> Response:
    """The section, its tender project, announcements, bids, fingerprints, deposits, experts, candidates, result,
    contract, complaints, alerts and scores, read in the caller's scope (personal data masked). Audited."""
    read.log_params({"bid_section_code": bid_section_code})
    scope = _scope(read)
    catalog = reader.catalog(scope)
    with reader.session(scope) as conn:
        dossier = library.section_dossier(conn, catalog, bid_section_code)
    rows = 1 + sum(len(part["items"]) for part in dossier["parts"].values())
    return read.respond(library.json_value(dossier), row_count=rows)


@router.post(
    "/sql",
    response_model=SqlResultBody,
    responses=error_responses(400, 401, 403, 408, 422, 503),
    summary="只读 SQL 查询 One read-only SQL query over the library views",
)
def run_sql(read: LibraryCaller, reader: LibraryDep, body: SqlRequest) -> Response:
    """One SELECT over `library`, as role ggzy_sql, READ ONLY, with a timeout and a row cap. Audited, refusals too."""
    sql = body.sql.strip()
    read.log_params({"sql": sql, "max_rows": body.max_rows, "timeout_ms": body.timeout_ms})
    if not sql or "\x00" in sql:
        raise HubError(
            "sql_invalid", "SQL 文本为空或包含 NUL 字符", "the SQL text is empty or contains a NUL character"
        )
    with reader.session(_scope(read), timeout_ms=body.timeout_ms) as conn:
        result = library.run_sql(conn, sql, body.max_rows)
    payload = {
        "columns": result.columns, "rows": [[library.json_value(v) for v in row] for row in result.rows],
        "row_count": len(result.rows), "truncated": result.truncated,
        "sql_sha256": hashlib.sha256(sql.encode("utf-8")).hexdigest(),
    }  # fmt: skip
    return read.respond(payload, row_count=len(result.rows))


@router.post(
    "/unmask",
    response_model=UnmaskResult,
    responses=_ERRORS,
    summary="解除脱敏 Reveal one personal ID number for a case (oversight only, its own audit event)",
)
def unmask(read: UnmaskCaller, settings: SettingsDep, body: UnmaskRequest) -> Response:
    """Decrypt one stored ID number of a decision; needs an oversight token, X-Case-Ref and X-Purpose."""
    read.log_params({"penalty_id": body.penalty_id, "field": body.field})
    result = library.reveal_id_number(read.engine, settings, body.penalty_id, body.field)
    response = read.respond(result, row_count=1)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/audit/events", response_model=AuditEventPage, responses=_ERRORS, tags=["audit 审计"],
            summary="查阅审计日志 Read the audit log (admin, oversight); the reading is itself audited")  # fmt: skip
def read_audit_log(
    read: AuditLogCaller,
    after: Annotated[int, Query(ge=0, le=2**62, description="从此序号之后 / events after this seq")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="最多条数 / at most this many")] = 100,
    actor: Annotated[str | None, Query(max_length=200, description="操作人 / actor")] = None,
    case_ref: Annotated[str | None, Query(max_length=200, description="案件编号 / case reference")] = None,
    action: Annotated[
        str | None, Query(max_length=200, description="动作前缀，如 POST /v1/sql / action prefix")
    ] = None,
) -> Response:
    """Audit events after a sequence number through audit.read_events(); who read the log is logged. Audited."""
    params = {"after": after, "limit": limit, "actor": actor, "case_ref": case_ref, "action": action}
    read.log_params({k: v for k, v in params.items() if v is not None})
    for key in ("actor", "case_ref", "action"):
        if params[key] is not None and "\x00" in params[key]:
            raise HubError(
                "invalid_request", f"参数 {key} 含 NUL 字符", f"parameter {key} contains a NUL character"
            )
    with read.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT * FROM audit.read_events(:after, :limit, :actor, :case_ref, :action)"), params
        ).mappings().all()  # fmt: skip
    items = [library.json_value(dict(row)) for row in rows]
    return read.respond(
        {"items": items, "next_after": rows[-1]["seq"] if rows else after}, row_count=len(items)
    )


@router.get(
    "/audit/checkpoint",
    response_model=AuditCheckpoint,
    responses=_ERRORS,
    tags=["audit 审计"],
    summary="签名检查点 A signed checkpoint of the audit log (latest seq + hash, ed25519) for safekeeping",
)
def get_checkpoint(read: AuditLogCaller, settings: SettingsDep) -> Response:
    """The chain head signed with the hub's key; keep it outside the hub and check it with `ggzy audit verify`."""
    read.log_params({})
    return read.respond(audit.make_checkpoint(read.engine, settings.home), row_count=1)
