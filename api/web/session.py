"""Who is looking at a page: the session cookie, resolved like the API's, or a redirect to sign in.

``page_user(perm)`` is the dependency of every page.  No valid session → 303 to ``/login?next=…``;
a role without ``perm`` → a 403 page (logged as denied, like the API); a password the admin reset →
the password page.  Form posts carry the CSRF token in a hidden field (``check_form``).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from fastapi import Request

from api.deps import CSRF_COOKIE, SESSION_COOKIE, AppState, client_address
from archive.identity import tokens
from archive.identity.principal import Principal
from archive.identity.roles import Perm, allowed


class LoginRequired(Exception):
    """Raised by a page dependency when no valid session cookie came with the request."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageForbidden(Exception):
    """Raised when the signed-in role may not see a page (rendered as a Chinese 403 page)."""

    def __init__(self, principal: Principal, message: str = "当前角色无权查看此页面") -> None:
        super().__init__(message)
        self.principal = principal
        self.message = message


class PasswordChangeRequired(Exception):
    """Raised when an administrator reset the caller's password: only the password page is open."""


def session_principal(request: Request, state: AppState) -> Principal | None:
    """The principal of the request's session cookie, or None (no cookie, expired, revoked)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    with state.rt.sessions() as session:
        found = tokens.resolve(session, cookie, "session", client_address(request))
    return found[0] if found else None


def csrf_of(request: Request) -> str:
    return request.cookies.get(CSRF_COOKIE, "")


def next_of(request: Request) -> str:
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return path


def safe_next(value: str | None) -> str:
    """Only a page of this site (no scheme, no host, no ``//``) may follow sign-in; never an API
    route (a crafted link must not make a download or export, logged with its reason, in the
    name of whoever signs in)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/api/")) or "\\" in value:
        return "/"
    return value


def login_url(next_path: str) -> str:
    return "/login?next=" + quote(next_path, safe="/")


def page_user(perm: Perm | None = None, action: str = "page_view") -> Callable[..., Principal]:
    """A page dependency: the signed-in principal, holding ``perm`` when one is named."""

    def dependency(request: Request) -> Principal:
        state: AppState = request.app.state.archive
        principal = session_principal(request, state)
        if principal is None:
            raise LoginRequired(next_of(request))
        if principal.must_change_password:
            raise PasswordChangeRequired()
        if perm is not None and not allowed(principal.role, perm):
            detail = {"code": "forbidden_role", "path": request.url.path}
            targets = tuple(str(v) for v in request.path_params.values())  # as the API's refusals name them
            state.trail.record(principal, action, targets, "denied", "", detail)
            raise PageForbidden(principal)
        return principal

    dependency.__name__ = f"page_user_{perm.value.replace('.', '_') if perm else 'any'}"
    dependency.perm = perm  # type: ignore[attr-defined]  # read by the route-enumerating test
    return dependency


def check_form(request: Request, principal: Principal, presented: str | None) -> bool:
    """A form post's hidden CSRF field must match the session's token."""
    state: AppState = request.app.state.archive
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie or not presented:
        return False
    with state.rt.sessions() as session:
        found = tokens.resolve(session, cookie, "session", client_address(request))
    return bool(found) and found[0].user_id == principal.user_id and tokens.csrf_matches(found[1], presented)
