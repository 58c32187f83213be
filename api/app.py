"""The FastAPI application: ``create_app(settings)``; ``archive serve`` runs it under uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from api import errors
from api.background import Periodic
from api.batches import BatchWorker
from api.deps import AppState
from api.routes import audit, auth, batches, disposition, dossiers, records, review, search, system, users
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
    ("GET", "/redoc"),
}


ROUTERS = (auth, batches, dossiers, search, review, disposition, records, users, audit, system)


class Health(BaseModel):
    status: str
    version: str


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
        title="社保档案数字化服务 API",
        version=__version__,
        description="扫描件入库、案卷查阅、审核与访问日志。除登录与健康检查外，所有接口都需要登录并按角色与经办机构授权。",
        lifespan=lifespan,
    )
    errors.install(app)
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
