"""Request dependencies as Annotated aliases: settings, the API-role engine, the caller, and the audited read."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Annotated, Any
from urllib.parse import unquote

import sqlalchemy as sa
from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from api.errors import audit_unavailable
from api.ratelimit import rate_limited
from ggzy import audit, database
from ggzy.auth import Principal, authenticate
from ggzy.errors import HubError
from ggzy.library import LibraryReader
from ggzy.settings import Settings

log = logging.getLogger("ggzy.api")

CASE_REF_HEADER = "X-Case-Ref"
PURPOSE_HEADER = "X-Purpose"
# Who must say which case and why with every request (X-Road's "issue"); others may, and it is logged.
CASE_BOUND_ROLES = frozenset({"oversight"})

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="BearerToken",
    bearerFormat="ggzy_…",
    description="由 `ggzy users create` 签发的令牌 / a token issued by `ggzy users create`",
)


async def get_hub_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_hub_settings)]


def _app_engine(request: Request, name: str, factory: Callable[[Settings], sa.Engine]) -> sa.Engine:
    """An engine kept on the app's state under name, created from the app's settings on first use."""
    state = request.app.state
    if getattr(state, name, None) is None:
        setattr(state, name, factory(state.settings))
    return getattr(state, name)


def api_engine_of(request: Request) -> sa.Engine:
    """The engine connected as the least-privileged API role (created once per app)."""
    return _app_engine(request, "api_engine", database.api_engine)


def api_read_engine_of(request: Request) -> sa.Engine:
    """The API role's autocommit engine (one round trip per statement) for one-statement request work."""
    return _app_engine(request, "api_read_engine", database.api_read_engine)


async def get_api_engine(request: Request) -> sa.Engine:
    """The API-role engine as a dependency (async: no worker-thread hop for a lookup)."""
    return api_engine_of(request)


ApiEngineDep = Annotated[sa.Engine, Depends(get_api_engine)]


def client_address(request: Request) -> str | None:
    """The peer address of the request (the hub is reached directly, not through a proxy)."""
    return request.client.host if request.client else None


def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """Authenticate the bearer token; every failure is logged to the audit log before the 401."""
    try:
        principal = authenticate(
            api_read_engine_of(request),
            credentials.credentials if credentials else None,
            client_addr=client_address(request),
        )
    except sa.exc.SQLAlchemyError:
        log.exception("authentication or its audit append failed")
        raise audit_unavailable() from None
    request.state.principal = principal
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None and (wait := limiter.take(principal.token_id)):
        raise rate_limited(wait, limiter)  # logged like any refusal of an authenticated caller
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def header_text(value: str | None) -> str | None:
    """A free-text header as sent: raw UTF-8 bytes or percent-encoded UTF-8 both arrive readable."""
    if value is None:
        return None
    try:
        value = value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    if "%" in value:
        try:
            value = unquote(value, errors="strict")
        except UnicodeDecodeError:
            pass  # a literal '%' in plain text
    return value.strip() or None


def _raw_params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.path_params)
    for key in request.query_params:
        values = request.query_params.getlist(key)
        params[key] = values[0] if len(values) == 1 else values
    return params


def response_bytes(payload: Any) -> bytes:
    """The exact JSON bytes returned to the client (and hashed into the audit row)."""
    if isinstance(payload, BaseModel):
        return payload.model_dump_json().encode("utf-8")
    return json.dumps(jsonable_encoder(payload), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class AuditedRequest:
    """One authenticated request and its audit context; `respond` appends the audit row, then returns."""

    def __init__(
        self,
        request: Request,
        engine: sa.Engine,
        principal: Principal,
        case_ref: str | None,
        purpose: str | None,
    ) -> None:
        route = request.scope.get("route")
        self.engine = engine
        self.read_engine = api_read_engine_of(request)  # autocommit: for single-statement reads
        self.appender: audit.GroupAppender | None = getattr(request.app.state, "audit_appender", None)
        self.principal = principal
        self.case_ref = case_ref
        self.purpose = purpose
        self.client_addr = client_address(request)
        self.action = f"{request.method} {getattr(route, 'path', request.url.path)}"
        self.params = _raw_params(request)
        self.audit_seq: int | None = None

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log these validated, normalised parameters instead of the raw query (call before any refusal)."""
        self.params = dict(params)

    def record(self, *, row_count: int | None, result_sha256: str | None) -> int:
        """Append this request's audit row; raises the fail-closed 503 when the log cannot be written."""
        event = {"principal": self.principal, "case_ref": self.case_ref, "purpose": self.purpose,
                 "action": self.action, "params": self.params, "row_count": row_count,
                 "result_sha256": result_sha256, "client_addr": self.client_addr}  # fmt: skip
        try:
            if self.appender is not None:
                self.audit_seq = self.appender.append(**event)
            else:
                self.audit_seq = audit.append(self.engine, **event)
        except sa.exc.SQLAlchemyError:
            log.exception("audit append failed for %s; returning 503 and no data", self.action)
            raise audit_unavailable() from None
        return self.audit_seq

    def respond(self, payload: Any, *, row_count: int | None, status_code: int = 200) -> Response:
        """Serialise, hash the exact bytes, append the audit row, and only then hand the bytes back."""
        body = response_bytes(payload)
        seq = self.record(row_count=row_count, result_sha256=audit.sha256_hex(body))
        return Response(
            content=body,
            status_code=status_code,
            media_type="application/json",
            headers={"X-Audit-Seq": str(seq)},
        )


def audit_refusal(request: Request, error: HubError, body: bytes) -> None:
    """Log a refused request of an authenticated caller (role, case headers, not found...) like a read."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        return  # unauthenticated: authenticate() already logged 'auth.failed'
    ctx: AuditedRequest | None = getattr(request.state, "audit_request", None)
    if ctx is None:
        ctx = AuditedRequest(
            request, api_engine_of(request), principal,
            header_text(request.headers.get(CASE_REF_HEADER)), header_text(request.headers.get(PURPOSE_HEADER)),
        )  # fmt: skip
    if ctx.audit_seq is not None:
        return
    ctx.params = {**ctx.params, "_status": error.status_code, "_error": error.code}
    ctx.record(row_count=None, result_sha256=audit.sha256_hex(body))


CaseRefHeader = Annotated[
    str | None,
    Header(
        alias=CASE_REF_HEADER,
        max_length=200,
        description="案件编号（监督机构必填；UTF-8，非 ASCII 请百分号编码）/ case reference "
        "(required for oversight tokens; percent-encode non-ASCII UTF-8)",
    ),
]
PurposeHeader = Annotated[
    str | None,
    Header(
        alias=PURPOSE_HEADER,
        max_length=1000,
        description="查询事由（监督机构必填）/ purpose of the request (required for oversight tokens)",
    ),
]


def audited(*roles: str) -> Callable[..., AuditedRequest]:
    """A dependency admitting only `roles`, binding oversight requests to a case, ready to audit the reply."""
    allowed = tuple(roles)

    async def dependency(  # no I/O: runs on the event loop, not in a worker thread
        request: Request,
        engine: ApiEngineDep,
        principal: PrincipalDep,
        x_case_ref: CaseRefHeader = None,
        x_purpose: PurposeHeader = None,
    ) -> AuditedRequest:
        ctx = AuditedRequest(request, engine, principal, header_text(x_case_ref), header_text(x_purpose))
        request.state.audit_request = ctx
        if principal.role not in allowed:
            raise HubError(
                "role_not_allowed",
                f"令牌角色“{principal.role}”无权调用 {ctx.action}（允许：{'、'.join(allowed)}）",
                f"role '{principal.role}' may not call {ctx.action} (allowed: {', '.join(allowed)})",
                status_code=403,
                detail={"role": principal.role, "allowed": list(allowed)},
            )
        if principal.role in CASE_BOUND_ROLES:
            missing = [
                name
                for name, value in ((CASE_REF_HEADER, ctx.case_ref), (PURPOSE_HEADER, ctx.purpose))
                if not value
            ]
            if missing:
                labels = {CASE_REF_HEADER: "案件编号", PURPOSE_HEADER: "查询事由"}
                raise HubError(
                    "case_context_required",
                    "监督查询必须注明案件和事由：缺少请求头 "
                    + "、".join(f"{h}（{labels[h]}）" for h in missing),
                    "oversight requests must name the case and purpose: missing header " + ", ".join(missing),
                    status_code=400,
                    detail={"missing_headers": missing},
                )
        return ctx

    dependency.__name__ = "audited_" + "_".join(allowed)
    return dependency


async def get_library(request: Request) -> LibraryReader:
    """The library reader pools of this app (ggzy_sql login, one pool per sharing scope)."""
    state = request.app.state
    if getattr(state, "library", None) is None:
        state.library = LibraryReader(state.settings, api_engine_of(request))
    return state.library


LibraryDep = Annotated[LibraryReader, Depends(get_library)]

READER_ROLES = ("oversight", "member", "admin")
PenaltyReader = Annotated[AuditedRequest, Depends(audited(*READER_ROLES))]
MemberUnitCaller = Annotated[AuditedRequest, Depends(audited("member"))]
SubmissionCaller = Annotated[AuditedRequest, Depends(audited("member", "engineer", "admin"))]
EngineerCaller = Annotated[AuditedRequest, Depends(audited("engineer", "admin"))]
DeliveryReportCaller = Annotated[AuditedRequest, Depends(audited("admin", "engineer", "oversight"))]
LibraryCaller = Annotated[AuditedRequest, Depends(audited("oversight", "member", "admin"))]
UnmaskCaller = Annotated[AuditedRequest, Depends(audited("oversight"))]
AuditLogCaller = Annotated[AuditedRequest, Depends(audited("admin", "oversight"))]
