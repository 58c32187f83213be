"""Prometheus metrics for one app: ``GET /metrics`` in the text format, for a scraper holding
``ARCHIVE_METRICS_TOKEN`` (404 for everyone else, as if there were no such page).

Each app has its own ``CollectorRegistry`` (never the process-wide default), so several apps in
one process (the tests) count separately.  What is counted:

* the batch thread (``api.batches.BatchEvents``): pages read by OCR and their OCR time, batches
  ended by outcome and their duration;
* at scrape time (``_Live``): batches waiting or running, dossiers waiting for the search index;
* every HTTP request (``HttpMetrics``, an ASGI middleware): by method, route *template* (never the
  raw path: ids would make a series per dossier) and status, its duration by route, and the stable
  code of every error answered.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from api.batches import BatchEvents
from archive.errors import ServiceError
from archive.indexing import outbox
from archive.settings import Settings

log = logging.getLogger("archive.api.metrics")

METRICS_PATH = "/metrics"
UNMATCHED = "unmatched"  # a path no route answers: one series, whatever was asked
ERROR_CODE = "archive.error_code"  # the scope key where an exception handler leaves the code it answered
ERROR_BODY_LIMIT = 64 * 1024
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # any other: OTHER
PAGE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
BATCH_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics(BatchEvents):
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.pages = Counter("archive_pages_ocr", "Pages read by OCR in this server's batch thread.", registry=r)
        self.page_seconds = Histogram(
            "archive_page_seconds", "OCR time of one page (in the OCR worker).", buckets=PAGE_BUCKETS, registry=r
        )
        self.batches = Counter(
            "archive_batches",
            "Uploaded batches ended, by outcome: finished, failed, interrupted (by shutdown; resumed at the next start).",
            ["outcome"],
            registry=r,
        )
        for outcome in ("finished", "failed", "interrupted"):
            self.batches.labels(outcome)  # every outcome present from the start, at 0
        self.batch_seconds = Histogram(
            "archive_batch_seconds", "Time from a batch's start to its end.", buckets=BATCH_BUCKETS, registry=r
        )
        self.requests = Counter(
            "archive_http_requests", "HTTP requests answered.", ["method", "route", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "archive_http_request_seconds",
            "Time to answer an HTTP request.",
            ["route"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.errors = Counter("archive_errors", "Errors answered, by stable error code.", ["code"], registry=r)
        self.live = _Live()
        r.register(self.live)

    # -- api.batches.BatchEvents --------------------------------------------------------------

    def page_read(self, seconds: float) -> None:
        self.pages.inc()
        self.page_seconds.observe(seconds)

    def batch_done(self, outcome: str, seconds: float) -> None:
        self.batches.labels(outcome).inc()
        self.batch_seconds.observe(seconds)

    # -- HTTP ---------------------------------------------------------------------------------

    def request(self, method: str, route: str, status: int, seconds: float, code: str | None) -> None:
        method = method if method in METHODS else "OTHER"
        self.requests.labels(method, route, str(status)).inc()
        self.request_seconds.labels(route).observe(seconds)
        if code:
            self.errors.labels(code).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _Live(Collector):
    """Figures read when scraped: the batch queue, and the search outbox (one COUNT query)."""

    def __init__(self) -> None:
        self.state: Any = None  # api.deps.AppState, once the app has started

    def describe(self) -> Iterable[Metric]:
        yield GaugeMetricFamily("archive_batch_queue_depth", "Uploaded batches waiting or being processed.")
        yield GaugeMetricFamily("archive_search_pending", "Dossiers waiting to be (re)indexed for search.")
        yield GaugeMetricFamily("archive_task_queue_messages", "Celery tasks waiting in the broker, by queue.")

    def collect(self) -> Iterable[Metric]:
        state = self.state
        if state is None:
            return
        worker = state.batches
        running = 1 if getattr(worker, "current", None) is not None else 0
        yield GaugeMetricFamily(
            "archive_batch_queue_depth",
            "Uploaded batches waiting or being processed.",
            value=getattr(worker, "queue_depth", 0) + running,
        )
        try:
            with state.rt.sessions() as session:
                pending = outbox.backlog(session)
        except Exception:  # noqa: BLE001 — a scrape never fails; the readiness probe reports the database
            log.warning("search backlog not readable for metrics", exc_info=True)
            return
        yield GaugeMetricFamily(
            "archive_search_pending", "Dossiers waiting to be (re)indexed for search.", value=pending
        )
        if state.rt.settings.broker_url:
            yield from _task_queues(state.rt.settings)


def _task_queues(settings: Settings) -> Iterable[Metric]:
    """Messages waiting per Celery queue (archive.pages: page OCR; archive.files: finishing, indexing)."""
    from archive.distributed.queues import queue_lengths

    try:
        waiting = queue_lengths(settings, timeout=1.0)
    except Exception:  # noqa: BLE001 — a scrape never fails; the readiness probe reports the broker
        log.warning("task queues not readable for metrics", exc_info=True)
        return
    family = GaugeMetricFamily(
        "archive_task_queue_messages", "Celery tasks waiting in the broker, by queue.", labels=["queue"]
    )
    for queue, count in waiting.items():
        family.add_metric([queue], count)
    yield family


# -- the endpoint ------------------------------------------------------------------------------


def authorised(settings: Settings, header: str | None) -> bool:
    """The scraper's ``Authorization: Bearer <ARCHIVE_METRICS_TOKEN>``, compared in constant time."""
    expected = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if not expected:
        return False
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


def install(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    """``GET /metrics``, outside the OpenAPI document (the middleware is added by ``create_app``, last)."""

    @app.get(METRICS_PATH, include_in_schema=False)
    def prometheus(request: Request) -> Response:
        if not authorised(settings, request.headers.get("authorization")):
            raise StarletteHTTPException(404)  # the same answer as a path that does not exist
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


def mark_error_codes(app: FastAPI) -> None:
    """Wrap the app's exception handlers so each leaves the code it answered on the request's scope
    (the web pages answer errors in HTML, whose body the middleware does not read).  Call after
    every handler is installed."""
    for kind, handler in list(app.exception_handlers.items()):
        if kind is Exception or kind == 500:
            continue  # an unexpected error reaches the middleware as the exception itself
        app.exception_handlers[kind] = _marking(handler)


def _marking(handler: Callable[[Request, Any], Awaitable[Response]]) -> Callable[[Request, Any], Awaitable[Response]]:
    async def marked(request: Request, exc: Any) -> Response:
        response = await handler(request, exc)
        if response.status_code >= 400:
            request.scope[ERROR_CODE] = _code_of(exc, response.status_code)
        return response

    return marked


def _code_of(exc: Any, status: int) -> str:
    code = getattr(exc, "code", None)
    if isinstance(exc, ServiceError) or isinstance(code, str):
        return str(code)
    if isinstance(exc, RequestValidationError):
        return "invalid_request"
    return errors.HTTP_CODES.get(status, ("http_error", ""))[0]


# -- the middleware ----------------------------------------------------------------------------


def route_template(scope: Scope, path: str, root_before: str) -> str:
    """The template of the route that answered (``/api/v1/dossiers/{dossier_id}``), never the raw path."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not template:
        root = scope.get("root_path", "")
        if root and root != root_before:  # a mounted app (/static): its prefix, not the file asked for
            return f"{root[len(root_before) :]}/{{path}}"
        return UNMATCHED
    regex = getattr(route, "path_regex", None)
    if regex is None or regex.match(path):
        return template
    # An included router's route carries its own path only: put back the router's fixed prefix.
    for i in range(1, len(path)):
        if path[i] == "/" and regex.match(path[i:]):
            return path[:i] + template
    return template


class HttpMetrics:
    """Counts every HTTP request by method, route template and status, times it, and counts the
    stable code of every error answered (from the handler's mark, else the JSON error body)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, root_before = scope.get("path", ""), scope.get("root_path", "")
        started = time.perf_counter()
        status, json_error, body = 500, False, bytearray()

        async def watched(message: Message) -> None:
            nonlocal status, json_error
            if message["type"] == "http.response.start":
                status = message["status"]
                if status >= 400:
                    ctype = dict(message.get("headers", [])).get(b"content-type", b"")
                    json_error = ctype.startswith(b"application/json")
            elif message["type"] == "http.response.body" and json_error and len(body) < ERROR_BODY_LIMIT:
                body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            self._record(scope, path, root_before, started, 500, "internal_error")
            raise
        code = scope.get(ERROR_CODE) or (_json_code(bytes(body)) if json_error else None)
        if status >= 400 and not code:
            code = errors.HTTP_CODES.get(status, ("http_error", ""))[0]
        self._record(scope, path, root_before, started, status, code if status >= 400 else None)

    def _record(self, scope: Scope, path: str, root: str, started: float, status: int, code: str | None) -> None:
        try:
            route = route_template(scope, path, root)
            self.metrics.request(scope.get("method", ""), route, status, time.perf_counter() - started, code)
        except Exception:  # noqa: BLE001 — counting must never cost an answer
            log.warning("request not counted", exc_info=True)


def _json_code(body: bytes) -> str | None:
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) and len(code) <= 64 else None
