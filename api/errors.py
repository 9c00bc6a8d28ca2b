"""One error shape for every failure: {"error", "message": {"zh", "en"}, "detail"}, documented in OpenAPI."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ggzy.errors import HubError

log = logging.getLogger("ggzy.api")


class BilingualMessage(BaseModel):
    """A message in Chinese and English."""

    zh: str = Field(description="中文说明")
    en: str = Field(description="English explanation")


class ErrorBody(BaseModel):
    """Every error the API returns: a stable code, a bilingual message and optional details."""

    error: str = Field(description="Stable machine-readable code, e.g. token_invalid, case_ref_required")
    message: BilingualMessage
    detail: Any = Field(default=None, description="What exactly was wrong (field, header, value, rule)")


_DESCRIPTIONS = {
    400: "请求不符合要求 Bad request (e.g. missing X-Case-Ref / X-Purpose for oversight, bad cursor)",
    401: "缺少或无效的令牌（签收时也指签名无效）Missing, unknown, expired or revoked bearer token (receipts: bad signature)",
    403: "角色无权访问 The token's role or organisation may not call this endpoint",
    404: "不存在 Not found",
    409: "与已有记录冲突 Conflict, e.g. a receipt naming a different document hash",
    408: "查询超时被终止 The SQL statement ran past its timeout and was cancelled",
    413: "上传文件过大 Upload larger than GGZY_UPLOAD_MAX_BYTES",
    422: "参数校验失败 A parameter failed validation",
    429: "请求过于频繁（按令牌限流），见 Retry-After Too many requests for this token; see Retry-After",
    503: "审计日志不可写，未返回数据 The audit log could not be written, so no data was returned (fail closed)",
}


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given error codes plus 429 (every /v1 call is rate limited), as ErrorBody."""
    codes = sorted({*status_codes, 429})
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


def audit_unavailable() -> HubError:
    """The fail-closed error: the audit row could not be written, so nothing is returned."""
    return HubError(
        "audit_unavailable",
        "审计日志暂时无法写入，为保证留痕本次请求未返回数据，请稍后重试",
        "the audit log could not be written, so no data was returned; try again later",
        status_code=503,
    )


_LOCATIONS = {"query": ("查询参数", "query parameter"), "header": ("请求头", "header"),
              "path": ("路径参数", "path parameter"), "body": ("请求体", "body field"),
              "cookie": ("Cookie", "cookie")}  # fmt: skip


def validation_error(exc: RequestValidationError) -> HubError:
    """A RequestValidationError as a bilingual HubError naming the first offending parameter."""
    errors = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where, *rest = first["loc"] or ["body"]
    zh_where, en_where = _LOCATIONS.get(str(where), (str(where), str(where)))
    name = ".".join(str(part) for part in rest) or str(where)
    return HubError(
        "invalid_request",
        f"请求参数无效：{zh_where}“{name}”不符合要求（{first['msg']}）",
        f"invalid request: {en_where} '{name}': {first['msg']}",
        status_code=422,
        detail=errors,
    )


def _http_error(exc: StarletteHTTPException) -> HubError:
    known = {
        404: ("not_found", "接口不存在", "no such endpoint"),
        405: ("method_not_allowed", "该接口不支持此请求方法", "method not allowed on this endpoint"),
    }
    code, zh, en = known.get(exc.status_code, (f"http_{exc.status_code}", "请求无法处理", str(exc.detail)))
    return HubError(code, zh, en, status_code=exc.status_code)


def hub_error_response(error: HubError) -> JSONResponse:
    """The JSON response for a HubError (401s carry WWW-Authenticate: Bearer)."""
    headers = {"WWW-Authenticate": "Bearer"} if error.status_code == 401 else {}
    headers.update(getattr(error, "headers", None) or {})  # e.g. Retry-After on 429
    return JSONResponse(jsonable_encoder(error.to_dict()), status_code=error.status_code, headers=headers)


async def _respond(request: Request, error: HubError) -> JSONResponse:
    from api.deps import audit_refusal  # the refusal is audited like the read it refused

    response = hub_error_response(error)
    if error.code != "audit_unavailable":
        try:
            await run_in_threadpool(audit_refusal, request, error, response.body)
        except HubError as failure:
            response = hub_error_response(failure)
    return response


def install_error_handlers(app: FastAPI) -> None:
    """Map HubError, validation errors, routing errors and anything unexpected to the one error shape."""

    async def on_hub_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HubError)
        return await _respond(request, exc)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return await _respond(request, validation_error(exc))

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return hub_error_response(_http_error(exc))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        error = HubError(
            "internal_error", "服务器内部错误，已记录日志", "internal server error (logged)", status_code=500
        )
        return await _respond(request, error)  # the failed request is audited like any other

    app.add_exception_handler(HubError, on_hub_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
