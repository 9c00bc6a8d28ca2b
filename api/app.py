"""The hub API: every /v1 endpoint needs a bearer token, and every answer is audited before it leaves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import get_principal
from api.errors import ErrorBody, hub_error_response, install_error_handlers
from api.ratelimit import DEFAULT_BURST, DEFAULT_RATE_PER_SECOND, TokenBucketLimiter
from api.routers import alerts, credit, feed, ops, oversight, penalties, receipts, submissions
from api.routers.submissions import upload_too_large
from api.schemas import Health
from ggzy import database
from ggzy.audit import GroupAppender
from ggzy.errors import HubError
from ggzy.settings import Settings, get_settings

DESCRIPTION = """
公共资源交易协同监管数据共享中心 API / API of the ggzy-hub data-sharing hub.

* 认证 Authentication: `Authorization: Bearer <token>` (issued by `ggzy users create`). Roles: oversight, member,
  engineer, admin. Missing, unknown, expired or revoked tokens get 401, and the attempt is logged.
* 案件绑定 Case binding: oversight tokens must send `X-Case-Ref` (案件编号) and `X-Purpose` (查询事由) with every
  request (400 otherwise); other roles may send them and they are logged.
* 留痕 Audit: every request of an authenticated caller is appended to a hash-chained audit log (who, unit, role,
  case, purpose, normalised parameters, row count, sha256 of the exact response body) **before** the response is
  sent; if the log cannot be written the API answers 503 and returns no data. The `X-Audit-Seq` response header
  names the audit row. `ggzy audit verify` checks the chain.
* 脱敏 Masking: personal ID numbers are always masked; `POST /v1/unmask` reveals one for an oversight case and is
  its own audit event.
* 监督查询库 Oversight library: `GET /v1/library/views` documents every view column by column; search, export
  (Parquet/CSV with a manifest: rows, sha256, query, case), entity profiles and `POST /v1/sql` (one read-only
  SELECT, timeout, row cap) all read through the database role `ggzy_sql`; member-unit tokens see only rows
  shared with their unit, enforced by PostgreSQL.
* 限流 Rate limits: per token (token bucket); over the limit: 429 with `Retry-After`.
* 错误 Errors: always `{"error", "message": {"zh", "en"}, "detail"}`.
"""

# Multipart framing on top of the file itself; anything beyond is refused before the body is read.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class BodySizeLimit:
    """Refuse a request whose declared Content-Length exceeds the upload limit, before reading its body."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            declared = dict(scope["headers"]).get(b"content-length")
            if (
                declared is not None
                and declared.isdigit()
                and int(declared) > self.max_bytes + MULTIPART_OVERHEAD_BYTES
            ):
                response = hub_error_response(upload_too_large(int(declared), self.max_bytes))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class RefuseNulInQuery:
    """Refuse a query string carrying a NUL character (PostgreSQL text cannot hold one) with a bilingual 400."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("query_string", b"") + scope.get("path", "").encode("utf-8", "replace")
            if b"%00" in raw or b"\x00" in raw:
                error = HubError(
                    "invalid_request", "请求参数含 NUL 字符（%00）", "the request contains a NUL character (%00)",
                    detail={"rule": "no_nul"},
                )  # fmt: skip
                await hub_error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    rate_per_second: float | None = DEFAULT_RATE_PER_SECOND,
    burst: int = DEFAULT_BURST,
) -> FastAPI:
    """Build the API for the given settings (default: GGZY_* environment); rate_per_second=None: no limit."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.api_engine = database.api_engine(settings)
        yield
        app.state.audit_appender.close()
        if app.state.library is not None:
            app.state.library.dispose()

    app = FastAPI(
        title="ggzy-hub API",
        version="1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses={500: {"model": ErrorBody, "description": "服务器内部错误 Internal error"}},
    )
    app.state.settings = settings
    app.state.api_engine = None
    app.state.library = None
    # Audit rows of concurrent requests are appended together (see ggzy.audit.GroupAppender).
    app.state.api_read_engine = None
    app.state.audit_appender = GroupAppender(lambda: database.api_read_engine(settings))
    app.state.rate_limiter = TokenBucketLimiter(rate_per_second, burst) if rate_per_second else None
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.upload_max_bytes)
    app.add_middleware(RefuseNulInQuery)

    # Defence in depth: the whole /v1 tree requires a valid token even if a route forgot its role check.
    v1 = [Depends(get_principal)]
    for router in (
        penalties.router,
        feed.router,
        receipts.router,
        submissions.router,
        ops.router,
        oversight.router,
        credit.router,
        alerts.router,
    ):
        app.include_router(router, prefix="/v1", dependencies=v1)

    @app.get("/healthz", response_model=Health, tags=["ops 运维"], summary="存活检查 Liveness (no data)")
    def healthz() -> Health:
        """The process answers; carries no data and needs no token."""
        return Health(status="ok")

    return app
