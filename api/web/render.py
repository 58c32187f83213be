"""Rendering a page: the Jinja2 environment (autoescaped) and the context every page shares."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from api.web.nav import current_of, items_for
from api.web.session import csrf_of
from archive import __version__
from archive.audit.query import LOCAL as BEIJING  # Asia/Shanghai, the offices' time
from archive.identity.principal import ALL_OFFICES, Principal
from archive.identity.roles import ROLE_ZH, Role

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))

STATUS_ZH = {
    "archived": "已归档",
    "needs_review": "待审核",
    "rejected": "已驳回",
    "destroyed": "已销毁",
    "processing": "处理中",
    "queued": "排队中",
    "running": "处理中",
    "done": "已完成",
    "failed": "失败",
    "duplicate": "重复",
}


def local_time(value: datetime | str | None) -> str:
    """A timestamp as the offices read it: Beijing time (UTC+8), to the minute."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def office_label(code: str) -> str:
    return "全部机构" if code == ALL_OFFICES else code


templates.env.filters["local_time"] = local_time
templates.env.filters["status_zh"] = lambda s: STATUS_ZH.get(s, s)
templates.env.filters["office_label"] = office_label
templates.env.globals["version"] = __version__


def page(
    request: Request,
    template: str,
    principal: Principal | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with the user, the navigation and the CSRF token for form fields."""
    nav = items_for(principal) if principal else []
    base = {
        "request": request,
        "user": principal,
        "role_zh": ROLE_ZH.get(Role(principal.role), principal.role) if principal else "",
        "nav": nav,
        "current": current_of(nav, request.url.path),
        "csrf": csrf_of(request),
        "path": request.url.path,
    }
    return templates.TemplateResponse(request, template, {**base, **context}, status_code=status_code)
