"""Request dependencies: the app's state, a database session, and who is calling.

Every route except the public ones depends on ``authorise(perm, action)``: a valid bearer token
(``Authorization: Bearer``) or session cookie, plus the CSRF header for unsafe methods when the
cookie is used, and a role that holds ``perm``.  A wrong role is refused (403) and logged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from pydantic import AfterValidator
from sqlalchemy.orm import Session

from api.security import RateLimiter
from api.trail import Trail
from archive.errors import Forbidden, Unauthorized
from archive.identity import tokens
from archive.identity.principal import Principal
from archive.identity.roles import Perm, allowed
from archive.runtime import Runtime
from archive.taxonomy import Taxonomy

SESSION_COOKIE = "archive_session"
CSRF_COOKIE = "archive_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _meaningful(text: str) -> str:
    """A reason as logged: stripped, and still at least two characters."""
    text = text.strip()
    if len(text) < 2:
        raise ValueError("原因至少须有 2 个字（不计空白）")
    return text


# The reason a download or export requires: blank padding does not count (422 otherwise).
MEANINGFUL = AfterValidator(_meaningful)

bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


@dataclass
class AppState:
    rt: Runtime
    taxonomy: Taxonomy
    trail: Trail
    login_limit: RateLimiter
    search_limit: RateLimiter
    batches: object  # api.batches.BatchWorker (kept loose to avoid an import cycle)


def app_state(request: Request) -> AppState:
    return request.app.state.archive


def db(state: Annotated[AppState, Depends(app_state)]) -> Iterator[Session]:
    with state.rt.sessions() as session:
        yield session


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def current_principal(
    request: Request,
    token: Annotated[str | None, Depends(bearer)],
    state: Annotated[AppState, Depends(app_state)],
) -> Principal:
    client = client_address(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    with state.rt.sessions() as session:
        if token:
            found = tokens.resolve(session, token, "bearer", client)
        elif cookie:
            found = tokens.resolve(session, cookie, "session", client)
            if (
                found
                and request.method not in SAFE_METHODS
                and not tokens.csrf_matches(found[1], request.headers.get(CSRF_HEADER))
            ):
                raise Forbidden("csrf_failed", "请求缺少有效的 CSRF 令牌，请刷新页面后重试")
        else:
            found = None
    if found is None:
        raise Unauthorized("not_authenticated", "请先登录（令牌无效或已过期）")
    return found[0]


def authorise(perm: Perm, action: str) -> Callable[..., Principal]:
    """A dependency: the caller, when their role holds ``perm``; 403 (logged as denied) otherwise."""

    def dependency(request: Request, principal: CallerDep, state: StateDep) -> Principal:
        if principal.must_change_password:
            raise Forbidden("password_change_required", "管理员重置了您的密码：请先修改密码")
        if not allowed(principal.role, perm):
            targets = tuple(str(v) for v in request.path_params.values())
            detail = {"code": "forbidden_role", "path": request.url.path}
            state.trail.record(principal, action, targets, "denied", "", detail)
            raise Forbidden("forbidden_role", "当前角色无权执行此操作")
        return principal

    dependency.__name__ = f"authorise_{perm.value.replace('.', '_')}"
    dependency.perm = perm  # type: ignore[attr-defined]  # read by the route-enumerating test
    return dependency


StateDep = Annotated[AppState, Depends(app_state)]
DbDep = Annotated[Session, Depends(db)]
CallerDep = Annotated[Principal, Depends(current_principal)]
