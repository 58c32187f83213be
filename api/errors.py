"""One error shape for every failure: ``{"error": {"code": ..., "message": ...}}``.

Codes are stable for programs; messages are Chinese for people.  No stack trace ever reaches a
client: unexpected failures are logged server-side and answered with ``internal_error``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from archive.errors import Forbidden, Invalid, NotFound, ServiceError, TooLarge, TooMany, Unauthorized, Unavailable

log = logging.getLogger("archive.api")

STATUS = {NotFound: 404, Forbidden: 403, Invalid: 422, Unauthorized: 401, TooMany: 429, TooLarge: 413, Unavailable: 503}
HTTP_CODES = {
    400: ("bad_request", "请求格式错误"),
    401: ("not_authenticated", "请先登录"),
    403: ("forbidden", "无权访问"),
    404: ("not_found", "请求的资源不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    406: ("not_acceptable", "不支持请求的响应格式"),
    413: ("too_large", "请求内容过大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    429: ("rate_limited", "请求过于频繁，请稍后再试"),
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: list[dict] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_response(status: int, code: str, message: str, headers: dict | None = None, **extra) -> JSONResponse:
    body = {"code": code, "message": message, **{k: v for k, v in extra.items() if v is not None}}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def status_of(exc: ServiceError) -> int:
    for kind, status in STATUS.items():
        if isinstance(exc, kind):
            return status
    return 400


async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
    headers = {}
    if isinstance(exc, Unauthorized) and exc.code == "not_authenticated":
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooMany):
        headers["Retry-After"] = "60"
    return error_response(status_of(exc), exc.code, exc.message, headers or None)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    fields = [
        {"loc": [str(p) for p in err.get("loc", ())], "type": str(err.get("type", ""))} for err in exc.errors()[:20]
    ]
    return error_response(422, "invalid_request", "请求参数不合法，请检查后重试", fields=fields)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    status = exc.status_code
    if status == 400 and request.scope.get("archive.body_too_large"):
        status = 413
    code, message = HTTP_CODES.get(status, ("http_error", "请求失败"))
    return error_response(status, code, message, getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", extra={"path": request.url.path, "method": request.method})
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    return error_response(500, "internal_error", "服务器内部错误，已记录，请联系系统管理员", headers)


# The JSON answer for each kind of failure; the web pages (api.web.failures) answer in HTML first.
HANDLERS: dict[type[Exception], Callable[[Request, Any], Awaitable[JSONResponse]]] = {
    ServiceError: _service_error,
    RequestValidationError: _validation_error,
    StarletteHTTPException: _http_error,
    Exception: _unexpected,
}


def install(app: FastAPI) -> None:
    for kind, handler in HANDLERS.items():
        app.add_exception_handler(kind, handler)


# Documented on every route so that clients (and schemathesis) know the error shape.
ERROR_RESPONSES: dict[int | str, dict] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "请求格式错误"),
        (401, "未登录或令牌无效"),
        (403, "角色无权执行"),
        (404, "不存在或不在查阅范围内"),
        (413, "请求内容过大"),
        (422, "参数不合法"),
        (429, "请求过于频繁"),
    )
}
