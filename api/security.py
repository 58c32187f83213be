"""Security headers, request body limits and rate limits."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict, deque
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from archive.errors import TooLarge, TooMany

HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"strict-transport-security", b"max-age=31536000"),
    (b"cache-control", b"no-store"),
]
DOCS_CSP = (  # Swagger UI (served from /static/vendor) writes inline script and styles
    b"default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)

# The web pages: everything from the app itself, no inline script, no other origin at all.
PAGE_CSP = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; "
    b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
API_PATHS = ("/api/", "/openapi.json")
STATIC_CACHE = b"private, max-age=3600"


def _csp_for(path: str) -> bytes:
    if path == "/docs":
        return DOCS_CSP
    if path.startswith(API_PATHS):
        return b"default-src 'none'; frame-ancestors 'none'"
    return PAGE_CSP


class SecurityHeaders:
    """Adds the headers above to every response: a CSP per kind of path, static files cacheable."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        replaced = {b"content-security-policy": _csp_for(path)}
        if path.startswith("/static/"):
            replaced[b"cache-control"] = STATIC_CACHE

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                extra = [(name, replaced.get(name, value)) for name, value in HEADERS if name not in present]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


# Control characters (NUL above all: PostgreSQL cannot store it, the log's canonical form uses it
# as its separator) and lone surrogates are refused in every input before anything runs.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


class CleanInput:
    """Refuses a path or query string carrying control characters (422), before any route runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("query_string", b"").decode("latin-1")
            query = unquote(raw.replace("+", " "), errors="surrogateescape")
            if has_control(scope.get("path", "")) or has_control(query) or "\t" in query or "\n" in query:
                await _refuse(send, 422, "invalid_characters", "请求中含有不允许的控制字符")
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuses request bodies over a limit: at once by Content-Length, otherwise while streaming."""

    def __init__(self, app: ASGIApp, default: int, limits: dict[str, int]) -> None:
        self.app = app
        self.default = default
        self.limits = limits  # path prefix -> limit

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits.items():
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _refuse(send, 413, "too_large", f"请求内容超过上限 {limit // (1024 * 1024)} MB")
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    scope["archive.body_too_large"] = True
                    raise TooLarge("too_large", f"请求内容超过上限 {limit // (1024 * 1024)} MB")
            return message

        await self.app(scope, counted, send)


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """A sliding one-minute window per key (client address or user), in this process's memory."""

    def __init__(self, per_minute: int, what: str) -> None:
        self.per_minute = per_minute
        self.what = what
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            window = self._hits[key]
            while window and now - window[0] > 60.0:
                window.popleft()
            if len(window) >= self.per_minute:
                raise TooMany("rate_limited", f"{self.what}过于频繁，请一分钟后再试")
            window.append(now)
            if len(self._hits) > 10_000:  # forget idle keys
                for stale in [k for k, v in self._hits.items() if not v or now - v[-1] > 60.0]:
                    del self._hits[stale]
