"""System information for administrators: the effective settings (secrets masked)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy.engine import make_url

from api.deps import StateDep, authorise
from api.errors import ERROR_RESPONSES
from archive.identity.principal import Principal
from archive.identity.roles import Perm

router = APIRouter(prefix="/system", tags=["系统"], responses=ERROR_RESPONSES)


class SettingsOut(BaseModel):
    settings: dict[str, Any]


@router.get("/settings", response_model=SettingsOut, summary="当前生效的设置（口令已隐去）")
def effective_settings(
    *,
    principal: Annotated[Principal, Depends(authorise(Perm.USER_ADMIN, "admin"))],
    state: StateDep,
) -> SettingsOut:
    values = state.rt.settings.model_dump(mode="json")
    if values.get("database_url"):
        values["database_url"] = make_url(values["database_url"]).render_as_string(hide_password=True)
    if values.get("es_url"):
        values["es_url"] = hide_password(values["es_url"])
    state.trail.record(principal, "admin", (), detail={"change": "settings_view"})
    return SettingsOut(settings=values)


def hide_password(url: str) -> str:
    """``https://user:secret@host`` → ``https://user:***@host``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
