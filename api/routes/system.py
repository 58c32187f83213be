"""System information for administrators: the effective settings (secrets masked)."""

from __future__ import annotations

from typing import Annotated, Any

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
    for name in ("database_url", "es_url"):  # URLs may carry a password
        if values.get(name):
            values[name] = make_url(values[name]).render_as_string(hide_password=True)
    state.trail.record(principal, "admin", (), detail={"change": "settings_view"})
    return SettingsOut(settings=values)
