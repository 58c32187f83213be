"""Appraisal and disposition (鉴定与销毁): the appraisal list, proposals, the second person's approval or
refusal, and the destruction registers.  The same service functions as ``archive disposition``; the API
adds role and office scope, and the access log."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from api.deps import DbDep, StateDep, authorise
from api.errors import ERROR_RESPONSES, ErrorBody
from api.schemas import Instant, Model
from archive.disposition import appraisal as service
from archive.disposition.destroy import destroy_objects
from archive.disposition.due import due_list
from archive.disposition.register import open_register
from archive.identity.principal import Principal
from archive.identity.roles import Perm
from archive.reading.dossiers import ID_PATTERN

router = APIRouter(
    prefix="/disposition",
    tags=["鉴定与销毁"],
    responses={**ERROR_RESPONSES, 503: {"model": ErrorBody, "description": "对象存储暂时无法访问"}},
)

AppraisalId = Annotated[str, Path(pattern=ID_PATTERN.pattern, description="鉴定 ID")]
RegisterId = Annotated[str, Path(pattern=ID_PATTERN.pattern, description="销毁清册 ID")]
Uuid = Annotated[str, Field(pattern=f"^{ID_PATTERN.pattern}$")]
Reason = Annotated[str, Field(min_length=1, max_length=service.MAX_REASON)]


# -- models ---------------------------------------------------------------------------------------


class OpenAppraisalOut(BaseModel):
    id: str
    decision: str
    keep_years: int | None
    proposed_by: str
    proposed_at: Instant


class DueEntry(BaseModel):
    id: str
    archive_number: str | None
    title: str | None
    office: str
    business_type: str | None
    retention: str
    retention_end: date
    date_start: date | None
    date_end: date | None
    page_count: int
    appraisal: OpenAppraisalOut | None


class DueOut(BaseModel):
    as_of: date
    items: list[DueEntry]


class AppraisalIn(Model):
    dossier_ids: list[Uuid] = Field(min_length=1, max_length=service.MAX_DOSSIERS)
    decision: Literal["destroy", "keep"]
    keep_years: int | None = Field(None, ge=1, le=service.MAX_KEEP_YEARS, description="延长保管的年数（keep）")
    reason: Reason


class DeclineIn(Model):
    reason: Reason


class AppraisalOut(BaseModel):
    id: str
    office: str
    decision: str
    keep_years: int | None
    reason: str
    status: str
    proposed_by: str
    proposed_at: Instant
    decided_by: str | None
    decided_at: Instant | None
    decline_reason: str | None
    dossiers: list[str]
    register_id: str | None


class RegisterSummaryOut(BaseModel):
    id: str
    key: str
    sha256: str
    size: int
    dossiers: int
    objects_to_delete: int
    objects_kept_shared: int


class ObjectOutcomeOut(BaseModel):
    key: str
    kind: str
    outcome: str
    detail: str


class DisposalOut(BaseModel):
    register_: str = Field(alias="register")  # "register" itself would shadow BaseModel.register
    finished: bool
    totals: dict[str, int]
    tried: list[ObjectOutcomeOut]


class ApprovalOut(BaseModel):
    appraisal: AppraisalOut
    register_: RegisterSummaryOut | None = Field(alias="register")
    extended_until: dict[str, str] | None
    holds: dict[str, Any] | None
    disposal: DisposalOut | None


class RegisterObjectOut(BaseModel):
    key: str
    kind: str
    sha256: str | None
    dossiers: list[str]
    outcome: str
    outcome_label: str
    detail: str
    attempts: int
    last_attempt_at: Instant | None


class RegisterOut(BaseModel):
    id: str
    appraisal_id: str
    office: str
    key: str
    sha256: str
    created_by: str
    created_at: Instant
    totals: dict[str, int]
    objects: list[RegisterObjectOut]
    document: dict[str, Any]


def _now() -> datetime:
    return datetime.now(UTC)


# -- routes ---------------------------------------------------------------------------------------


@router.get("/due", response_model=DueOut, summary="鉴定清单：保管期限已届满的归档案卷（永久保管的不列入）")
def due(
    *,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    principal: Annotated[Principal, Depends(authorise(Perm.DISPOSITION_READ, "disposition_due"))],
    state: StateDep,
    session: DbDep,
) -> DueOut:
    today = _now().date()
    items = due_list(session, today, principal.office, limit)
    state.trail.record(principal, "disposition_due", [i.id for i in items], detail={"results": len(items)})
    return DueOut(as_of=today, items=[DueEntry(**i.to_json()) for i in items])


class AppraisalsOut(BaseModel):
    items: list[AppraisalOut]


@router.get("/appraisals", response_model=AppraisalsOut, summary="鉴定记录（可按状态筛选，如待批准的 proposed）")
def appraisals(
    *,
    status: Annotated[Literal["proposed", "approved", "declined"] | None, Query(description="状态")] = None,
    principal: Annotated[Principal, Depends(authorise(Perm.DISPOSITION_READ, "disposition_appraisals"))],
    state: StateDep,
    session: DbDep,
) -> AppraisalsOut:
    found = service.list_appraisals(session, principal.office, status)
    state.trail.record(principal, "disposition_appraisals", [a.id for a in found], detail={"status": status})
    return AppraisalsOut(items=[AppraisalOut(**a.to_json()) for a in found])


@router.post("/appraisals", status_code=201, response_model=AppraisalOut, summary="提交鉴定（销毁或延长保管）")
def propose(
    body: AppraisalIn,
    principal: Annotated[Principal, Depends(authorise(Perm.DISPOSITION_PROPOSE, "disposition_propose"))],
    state: StateDep,
) -> AppraisalOut:
    detail = {"decision": body.decision, "keep_years": body.keep_years}
    targets = tuple(body.dossier_ids)
    with (
        state.trail.attempt(principal, "disposition_propose", targets, reason=body.reason, detail=detail) as extra,
        state.rt.sessions.begin() as session,
    ):
        made = service.propose(
            session,
            actor=principal.name,
            office=principal.office,
            dossier_ids=body.dossier_ids,
            decision=body.decision,
            reason=body.reason,
            keep_years=body.keep_years,
            now=_now(),
        )
        extra["appraisal"] = made.id
    return AppraisalOut(**made.to_json())


@router.post(
    "/appraisals/{appraisal_id}/approve",
    response_model=ApprovalOut,
    summary="批准鉴定（不得审批自己提交的鉴定）：销毁时生成销毁清册并删除对象",
)
def approve(
    appraisal_id: AppraisalId,
    principal: Annotated[Principal, Depends(authorise(Perm.DISPOSITION_APPROVE, "disposition_approve"))],
    state: StateDep,
) -> ApprovalOut:
    rt = state.rt
    now = _now()
    with (
        state.trail.attempt(principal, "disposition_approve", (appraisal_id,)) as extra,
        rt.sessions.begin() as session,
    ):
        decision = service.approve(
            session, rt.store, appraisal_id, actor=principal.name, office=principal.office, now=now
        )
        extra.update(decision=decision.appraisal.decision, dossiers=list(decision.appraisal.dossiers))
        if decision.register is not None:
            extra.update(register=decision.register.id, key=decision.register.key, sha256=decision.register.sha256)
        if decision.extended_until is not None:
            extra.update(extended_until=decision.extended_until, holds_ok=bool(decision.holds and decision.holds["ok"]))
    # The register is committed and in the access log; only now are objects deleted.
    disposal = None
    if decision.register is not None:
        report = destroy_objects(rt.store, rt.sessions, decision.register.id, now)
        state.trail.record(principal, "disposition_destroy", (decision.register.id,), detail={"totals": report.totals})
        disposal = DisposalOut(**report.to_json())
    out = decision.to_json()
    return ApprovalOut(**out, disposal=disposal)


@router.post("/appraisals/{appraisal_id}/decline", response_model=AppraisalOut, summary="不批准鉴定（须填写理由）")
def decline(
    appraisal_id: AppraisalId,
    body: DeclineIn,
    principal: Annotated[Principal, Depends(authorise(Perm.DISPOSITION_APPROVE, "disposition_decline"))],
    state: StateDep,
) -> AppraisalOut:
    with (
        state.trail.attempt(principal, "disposition_decline", (appraisal_id,), reason=body.reason),
        state.rt.sessions.begin() as session,
    ):
        declined = service.decline(
            session, appraisal_id, actor=principal.name, office=principal.office, reason=body.reason, now=_now()
        )
    return AppraisalOut(**declined.to_json())


@router.get("/registers/{register_id}", response_model=RegisterOut, summary="销毁清册（含各对象的处置结果）")
def register(
    register_id: RegisterId,
    principal: Annotated[Principal, Depends(authorise(Perm.DISPOSITION_READ, "disposition_register"))],
    state: StateDep,
    session: DbDep,
) -> RegisterOut:
    with state.trail.attempt(principal, "disposition_register", (register_id,)) as extra:
        view = open_register(session, state.rt.store, register_id, principal.office)
        extra.update(sha256=view.sha256, totals=view.totals)
    return RegisterOut(**view.to_json())
