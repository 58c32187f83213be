"""Sign-in: OAuth2 password form → bearer token; JSON → browser session cookie; sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    AppState,
    CallerDep,
    StateDep,
    client_address,
)
from api.errors import ERROR_RESPONSES
from api.schemas import Credentials, Me, Ok, PasswordChange, SessionOut, TokenOut
from api.security import has_control
from archive.errors import ServiceError, Unauthorized
from archive.identity import tokens, users
from archive.identity.principal import Principal
from archive.identity.roles import GRANTS, ROLE_ZH, Role
from archive.records.models import User

router = APIRouter(prefix="/auth", tags=["登录"], responses=ERROR_RESPONSES)


def me_of(name: str, role: str, office: str, must_change_password: bool = False) -> Me:
    kind = Role(role)
    return Me(
        name=name,
        role=role,
        role_zh=ROLE_ZH[kind],
        office=office,
        permissions=sorted(GRANTS[kind]),
        must_change_password=must_change_password,
    )


def sign_in(state: AppState, request: Request, name: str, password: str, kind: str) -> tuple[User, tokens.Issued]:
    """Check the password (with lockout) and issue a token; every attempt is logged."""
    client = client_address(request)
    shown = "".join(c for c in name if not has_control(c))[:64]  # as the log records it
    settings = state.rt.settings
    policy = users.LockPolicy(settings.login_max_failures, settings.lockout_minutes)
    minutes = settings.token_minutes if kind == "bearer" else settings.session_minutes
    try:
        state.login_limit.hit(client)
        if has_control(name) or has_control(password):
            raise Unauthorized("invalid_credentials", "用户名或密码错误")
        with state.rt.sessions() as session:
            try:
                user = users.authenticate(session, name, password, policy)
                issued = tokens.issue(session, user, kind, minutes, client)
            finally:
                session.commit()  # a failure's count (and lock) is kept too
    except ServiceError as exc:
        state.trail.anonymous(shown, client, "login", "denied", {"code": exc.code, "via": kind})
        raise
    state.trail.record(
        Principal(user.id, user.name, user.role, user.office, client, issued.token_id),
        "login",
        (),
        "allowed",
        detail={"via": kind},
    )
    return user, issued


def set_session_cookies(response: Response, state: AppState, issued: tokens.Issued) -> None:
    """The HttpOnly session cookie and the CSRF cookie the page scripts echo in a header."""
    secure = state.rt.settings.cookie_secure
    age = state.rt.settings.session_minutes * 60
    response.set_cookie(SESSION_COOKIE, issued.secret, max_age=age, httponly=True, samesite="strict", secure=secure)
    response.set_cookie(CSRF_COOKIE, issued.csrf or "", max_age=age, httponly=False, samesite="strict", secure=secure)


def sign_out(response: Response, principal: Principal, state: AppState) -> None:
    """Revoke the caller's token, log it, and clear the browser's cookies."""
    if principal.token_id:
        with state.rt.sessions.begin() as session:
            tokens.revoke(session, principal.token_id)
    state.trail.record(principal, "logout")
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)


@router.post("/token", response_model=TokenOut, summary="用户名密码换取访问令牌（OAuth2 密码模式）")
def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], state: StateDep) -> TokenOut:
    _, issued = sign_in(state, request, form.username, form.password, "bearer")
    return TokenOut(access_token=issued.secret, expires_at=issued.expires_at)


@router.post("/session", response_model=SessionOut, summary="浏览器登录：设置 HttpOnly 会话 Cookie")
def session_login(body: Credentials, request: Request, response: Response, state: StateDep) -> SessionOut:
    user, issued = sign_in(state, request, body.username, body.password, "session")
    set_session_cookies(response, state, issued)
    return SessionOut(
        user=me_of(user.name, user.role, user.office, user.must_change_password),
        csrf_token=issued.csrf or "",
        expires_at=issued.expires_at,
    )


@router.post("/logout", response_model=Ok, summary="退出登录并吊销当前令牌")
def logout(response: Response, principal: CallerDep, state: StateDep) -> Ok:
    sign_out(response, principal, state)
    return Ok(message="已退出登录")


@router.get("/me", response_model=Me, summary="当前用户")
def me(*, principal: CallerDep) -> Me:
    return me_of(principal.name, principal.role, principal.office, principal.must_change_password)


@router.post("/password", response_model=Ok, summary="修改自己的密码（吊销所有令牌）")
def change_password(*, body: PasswordChange, principal: CallerDep, state: StateDep) -> Ok:
    state.login_limit.hit(f"password:{principal.name}")
    with (
        state.trail.attempt(principal, "admin", (principal.user_id,), detail={"change": "own_password"}),
        state.rt.sessions.begin() as session,
    ):
        users.change_own_password(session, principal, body.current_password, body.new_password)
    return Ok(message="密码已修改，请重新登录")
