"""The FastAPI application: ``create_app(settings)``; ``archive serve`` runs it under uvicorn."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from api import errors
from api import metrics as metrics_module
from api.background import Periodic
from api.batches import BatchWorker
from api.deps import AppState
from api.health import readiness
from api.routes import audit, auth, batches, disposition, dossiers, offices, records, review, search, system, users
from api.security import BodyLimit, CleanInput, RateLimiter, SecurityHeaders
from api.trail import Trail
from api.web.mount import mount as mount_web
from archive import __version__
from archive.audit.writer import AuditWriter
from archive.classify.store import taxonomy_for
from archive.runtime import open_runtime
from archive.settings import Settings
from ocr.pool import OcrPool

API_PREFIX = "/api/v1"
JSON_BODY_LIMIT = 1024 * 1024
# Routes anyone may call; every other route requires a signed-in user with the right role.
PUBLIC_ROUTES = {
    ("POST", f"{API_PREFIX}/auth/token"),
    ("POST", f"{API_PREFIX}/auth/session"),
    ("GET", f"{API_PREFIX}/health"),
    ("GET", f"{API_PREFIX}/ready"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
}
# Routes for operations, not for users: answered only with ARCHIVE_METRICS_TOKEN as the bearer
# token (404 otherwise, and always when the setting is unset); kept out of the OpenAPI document.
OPERATOR_ROUTES = {("GET", metrics_module.METRICS_PATH)}
# Probes and scrapes every few seconds: kept out of uvicorn's request log (and never in the access log).
QUIET_PATHS = frozenset({f"{API_PREFIX}/health", f"{API_PREFIX}/ready", metrics_module.METRICS_PATH})


ROUTERS = (auth, batches, dossiers, search, review, disposition, records, users, offices, audit, system)


class Health(BaseModel):
    status: str
    version: str


class ReadyCheck(BaseModel):
    ok: bool
    code: str = Field(description="ok, or a stable failure code")
    message: str = Field(description="中文说明")


class Ready(BaseModel):
    status: str = Field(description="ready | not_ready")
    checks: dict[str, ReadyCheck] = Field(description="database, storage, index, worker")
    failing: list[str] = Field(default_factory=list, description="the checks that failed")


class _QuietProbes(logging.Filter):
    """Drops uvicorn's request-log lines for the probe and scrape paths."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            return args[2].partition("?")[0] not in QUIET_PATHS
        return True


def quiet_probes() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _QuietProbes) for f in access.filters):
        access.addFilter(_QuietProbes())


SWAGGER = "/static/vendor/swagger-ui"


def install_docs(app: FastAPI) -> None:
    """The interactive API documentation, every asset served locally (closed networks have no CDN)."""

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="社保档案数字化服务 API 文档",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER}/swagger-ui.css",
            swagger_favicon_url="/static/img/favicon.svg",
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def docs_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()


def create_app(settings: Settings, pool_factory: Callable[[], OcrPool] | None = None) -> FastAPI:
    metrics = metrics_module.Metrics()  # this app's own registry

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        quiet_probes()
        rt = open_runtime(settings)
        writer = AuditWriter(rt, settings.audit_hash, settings.audit_checkpoint_every)
        worker = BatchWorker(rt, pool_factory, metrics)
        app.state.archive = AppState(
            rt=rt,
            taxonomy=taxonomy_for(settings),
            trail=Trail(writer.append),
            login_limit=RateLimiter(settings.login_rate_per_minute, "登录尝试"),
            search_limit=RateLimiter(settings.search_rate_per_minute, "检索"),
            batches=worker,
        )
        metrics.live.state = app.state.archive
        catch_up = Periodic(settings.search_catch_up_seconds, rt.indexer.drain_quietly, "search-catch-up")
        worker.start()
        catch_up.start()
        try:
            yield
        finally:  # SIGTERM: uvicorn stops taking requests, then this runs
            catch_up.stop()
            worker.stop()  # the current file may finish (ARCHIVE_SHUTDOWN_GRACE_SECONDS); the rest resumes at start
            metrics.live.state = None
            writer.close()  # drains the queue and writes the shutdown checkpoint
            rt.close()

    app = FastAPI(
        docs_url=None,  # served below from the app's own copy of Swagger UI, not a CDN
        redoc_url=None,
        title="社保档案数字化服务 API",
        version=__version__,
        description="扫描件入库、案卷查阅、审核与访问日志。除登录与健康检查外，所有接口都需要登录并按角色与经办机构授权。",
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    errors.install(app)
    install_docs(app)
    api = APIRouter(prefix=API_PREFIX)

    @api.get("/health", response_model=Health, tags=["系统"], summary="健康检查")
    def health() -> Health:
        return Health(status="ok", version=__version__)

    @api.get(
        "/ready",
        response_model=Ready,
        tags=["系统"],
        summary="就绪检查：数据库、对象存储、检索索引与批次处理线程",
        responses={503: {"model": Ready, "description": "未就绪：failing 列出未通过的检查"}},
    )
    def ready(request: Request) -> Response:
        """Public and cheap (two small queries, one object-store metadata read, one index count); no
        personal data, not written to the access log."""
        state: AppState = request.app.state.archive
        checks = readiness(state.rt, state.batches)
        failing = [name for name, check in checks.items() if not check.ok]
        body = Ready(
            status="not_ready" if failing else "ready",
            checks={n: ReadyCheck(ok=c.ok, code=c.code, message=c.message) for n, c in checks.items()},
            failing=failing,
        )
        return JSONResponse(body.model_dump(), status_code=503 if failing else 200)

    for module in ROUTERS:
        api.include_router(module.router)
    app.include_router(api)
    metrics_module.install(app, settings, metrics)
    mount_web(app)
    metrics_module.mark_error_codes(app)  # after every exception handler is installed
    app.add_middleware(BodyLimit, default=JSON_BODY_LIMIT, limits={f"{API_PREFIX}/batches": settings.upload_max_bytes})
    app.add_middleware(CleanInput)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(metrics_module.HttpMetrics, metrics=metrics)  # outermost: sees every answer
    return app
