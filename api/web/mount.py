"""Adding the web interface to the FastAPI app: its routers, its static files, its error pages."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from api.web import admin, archivist, auditor, caseworker, dashboard, failures, reviewer, signin
from api.web.render import HERE

PAGE_ROUTERS = (signin, dashboard, archivist, reviewer, caseworker, auditor, admin)


def mount(app: FastAPI) -> None:
    failures.install(app)
    for module in PAGE_ROUTERS:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
