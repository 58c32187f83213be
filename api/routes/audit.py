"""The access log for auditors: query, export (with the verification result), verify, and the
unusual-access report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.deps import StateDep, authorise
from api.errors import ERROR_RESPONSES
from archive.audit.verify import verify
from archive.identity.principal import Principal
from archive.identity.roles import Perm

router = APIRouter(prefix="/audit", tags=["审计"], responses=ERROR_RESPONSES)


class VerificationOut(BaseModel):
    ok: bool
    entries: int
    checkpoints: int
    code: str
    first_bad: int | None
    message: str
    summary: str


@router.get("/verify", response_model=VerificationOut, summary="校验访问日志哈希链与检查点")
def verify_log(
    *,
    principal: Annotated[Principal, Depends(authorise(Perm.AUDIT_READ, "audit_verify"))],
    state: StateDep,
) -> VerificationOut:
    result = verify(state.rt)
    state.trail.record(principal, "audit_verify", (), detail={"ok": result.ok, "entries": result.entries})
    return VerificationOut(**result.__dict__, summary=result.summary())
