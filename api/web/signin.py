"""Sign-in, sign-out and the password page; ``/`` sends each role to its own start page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from api.deps import AppState, client_address
from api.routes.auth import set_session_cookies, sign_in, sign_out
from api.web.nav import home_of
from api.web.render import page
from api.web.session import LoginRequired, check_form, next_of, safe_next, session_principal
from archive.errors import ServiceError
from archive.identity import users
from archive.identity.principal import Principal

router = APIRouter(include_in_schema=False)


def _state(request: Request) -> AppState:
    return request.app.state.archive


def _same_origin(request: Request) -> bool:
    """A sign-in form must come from this site's own page (no login CSRF from another origin).

    Browsers say where a request comes from in ``Sec-Fetch-Site``; under ``Referrer-Policy:
    no-referrer`` their ``Origin`` is "null", so it is checked only when it names a site."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    return origin.split("://", 1)[-1] == request.headers.get("host", "")


def signed_in(request: Request) -> Principal:
    """The signed-in principal, even one that must change the password first."""
    principal = session_principal(request, _state(request))
    if principal is None:
        raise LoginRequired(next_of(request))
    return principal


@router.get("/")
def home(request: Request) -> Response:
    principal = session_principal(request, _state(request))
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(home_of(principal), status_code=303)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return page(request, "login.html", None, next=safe_next(next))


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    state = _state(request)
    target = safe_next(next)
    if not _same_origin(request):
        return page(request, "login.html", None, 403, next=target, error="请从本系统的登录页登录", username=username)
    try:
        user, issued = sign_in(state, request, username, password, "session")
    except ServiceError as exc:
        status = 429 if exc.code == "rate_limited" else 401
        return page(request, "login.html", None, status, next=target, error=exc.message, username=username)
    if user.must_change_password:
        target = "/password"
    elif target == "/":
        role_home = Principal(user.id, user.name, user.role, user.office, client_address(request))
        target = home_of(role_home)
    response = RedirectResponse(target, status_code=303)
    set_session_cookies(response, state, issued)
    return response


@router.post("/logout")
def logout(
    request: Request, principal: Annotated[Principal, Depends(signed_in)], csrf: Annotated[str, Form()] = ""
) -> Response:
    if not check_form(request, principal, csrf):
        return page(
            request,
            "error.html",
            principal,
            403,
            title="无权访问",
            message="请求缺少有效的 CSRF 令牌，请刷新页面后重试",
            code="csrf_failed",
        )
    response = RedirectResponse("/login", status_code=303)
    sign_out(response, principal, _state(request))
    return response


@router.get("/password")
def password_form(request: Request, principal: Annotated[Principal, Depends(signed_in)]) -> Response:
    return page(request, "password.html", principal)


@router.post("/password")
def change_password(
    request: Request,
    principal: Annotated[Principal, Depends(signed_in)],
    current_password: Annotated[str, Form(max_length=256)],
    new_password: Annotated[str, Form(max_length=256)],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    state = _state(request)
    if not check_form(request, principal, csrf):
        return page(request, "password.html", principal, 403, error="请求缺少有效的 CSRF 令牌，请刷新页面后重试")
    try:
        state.login_limit.hit(f"password:{principal.name}")
        with (
            state.trail.attempt(principal, "admin", (principal.user_id,), detail={"change": "own_password"}),
            state.rt.sessions.begin() as session,
        ):
            users.change_own_password(session, principal, current_password, new_password)
    except ServiceError as exc:
        return page(request, "password.html", principal, 422, error=exc.message)
    response = RedirectResponse("/login", status_code=303)
    sign_out(response, principal, state)
    return response
