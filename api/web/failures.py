"""Failures on a page are answered as Chinese HTML pages (the API keeps its JSON error shape).

Not signed in → 303 to the sign-in page; a role without access → a 403 page; a service error
(wrong office, not found, refused) → its Chinese message and stable code on an error page.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from api import errors
from api.web.render import page
from api.web.session import LoginRequired, PageForbidden, PasswordChangeRequired, login_url, session_principal
from archive.errors import ServiceError

API_PATHS = ("/api/", "/static/", "/openapi.json", "/docs", "/redoc")
TITLES = {401: "请先登录", 403: "无权访问", 404: "页面不存在", 413: "内容过大", 422: "输入有误", 429: "操作过于频繁"}


def is_page(request: Request) -> bool:
    return not request.url.path.startswith(API_PATHS)


def _error_page(request: Request, status: int, code: str, message: str) -> Response:
    principal = session_principal(request, request.app.state.archive) if hasattr(request.app.state, "archive") else None
    title = TITLES.get(status, "出错了")
    return page(request, "error.html", principal, status, title=title, message=message, code=code)


def install(app: FastAPI) -> None:
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(login_url(exc.next_path), status_code=303)

    async def forbidden(request: Request, exc: PageForbidden) -> Response:
        return page(
            request, "error.html", exc.principal, 403, title="无权访问", message=exc.message, code="forbidden_role"
        )

    async def password_required(request: Request, exc: PasswordChangeRequired) -> Response:
        return RedirectResponse("/password", status_code=303)

    async def service_error(request: Request, exc: ServiceError) -> Response:
        if is_page(request):
            return _error_page(request, errors.status_of(exc), exc.code, exc.message)
        return await errors.HANDLERS[ServiceError](request, exc)

    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if is_page(request):
            code, message = errors.HTTP_CODES.get(exc.status_code, ("http_error", "请求失败"))
            return _error_page(request, exc.status_code, code, message)
        return await errors.HANDLERS[StarletteHTTPException](request, exc)

    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if is_page(request):
            return _error_page(request, 422, "invalid_request", "输入的参数不合法，请检查后重试")
        return await errors.HANDLERS[RequestValidationError](request, exc)

    app.add_exception_handler(LoginRequired, login_required)  # type: ignore[arg-type]
    app.add_exception_handler(PageForbidden, forbidden)  # type: ignore[arg-type]
    app.add_exception_handler(PasswordChangeRequired, password_required)  # type: ignore[arg-type]
    app.add_exception_handler(ServiceError, service_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, invalid)  # type: ignore[arg-type]
