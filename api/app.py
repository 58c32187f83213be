"""The FastAPI application: ``create_app(settings)``; ``archive serve`` runs it under uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from api import errors
from api.background import Periodic
from api.batches import BatchWorker
from api.deps import AppState
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
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
}


ROUTERS = (auth, batches, dossiers, search, review, disposition, records, users, offices, audit, system)


class Health(BaseModel):
    status: str
    version: str


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
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = open_runtime(settings)
        writer = AuditWriter(rt, settings.audit_hash, settings.audit_checkpoint_every)
        worker = BatchWorker(rt, pool_factory)
        app.state.archive = AppState(
            rt=rt,
            taxonomy=taxonomy_for(settings),
            trail=Trail(writer.append),
            login_limit=RateLimiter(settings.login_rate_per_minute, "登录尝试"),
            search_limit=RateLimiter(settings.search_rate_per_minute, "检索"),
            batches=worker,
        )
        catch_up = Periodic(settings.search_catch_up_seconds, rt.indexer.drain_quietly, "search-catch-up")
        worker.start()
        catch_up.start()
        try:
            yield
        finally:
            catch_up.stop()
            worker.stop()
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
    errors.install(app)
    install_docs(app)
    api = APIRouter(prefix=API_PREFIX)

    @api.get("/health", response_model=Health, tags=["系统"], summary="健康检查")
    def health() -> Health:
        return Health(status="ok", version=__version__)

    for module in ROUTERS:
        api.include_router(module.router)
    app.include_router(api)
    mount_web(app)
    app.add_middleware(BodyLimit, default=JSON_BODY_LIMIT, limits={f"{API_PREFIX}/batches": settings.upload_max_bytes})
    app.add_middleware(CleanInput)
    app.add_middleware(SecurityHeaders)
    return app
