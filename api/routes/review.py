"""The review queue (maker-checker): list, correct, approve, reject.  The same service functions
as ``archive review``; the API adds role and office scope, and the log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import DbDep, StateDep, authorise
from api.errors import ERROR_RESPONSES
from api.routes.dossiers import DossierId
from api.schemas import Correction, QueueEntry, QueueOut, Rejection, ReviewResult
from archive import review as service
from archive.identifiers import mask_numbers
from archive.identity.principal import ALL_OFFICES, Principal
from archive.identity.roles import Perm
from archive.reading.scope import load_visible
from archive.records.models import Dossier

router = APIRouter(prefix="/review", tags=["审核"], responses=ERROR_RESPONSES)


def _result(d: Dossier) -> ReviewResult:
    return ReviewResult(id=d.id, status=d.status, business_type=d.business_type)


@router.get("/queue", response_model=QueueOut, summary="待审核案卷（问题最严重的在前）")
def review_queue(
    *,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    principal: Annotated[Principal, Depends(authorise(Perm.REVIEW_CORRECT, "review_queue"))],
    state: StateDep,
    session: DbDep,
) -> QueueOut:
    office = None if principal.office == ALL_OFFICES else principal.office
    items = service.queue(session, office, limit)
    state.trail.record(principal, "review_queue", [i.id for i in items], detail={"results": len(items)})
    return QueueOut(
        items=[QueueEntry(**{**item.__dict__, "problems": [_masked(p) for p in item.problems]}) for item in items]
    )


def _masked(problem: dict) -> dict:
    """A list shows no whole ID number, not even the misread one a problem quotes."""
    return {k: mask_numbers(v) if isinstance(v, str) else v for k, v in problem.items()}


@router.post("/{dossier_id}/correct", response_model=ReviewResult, summary="更正业务类型或字段")
def correct(
    dossier_id: DossierId,
    body: Correction,
    principal: Annotated[Principal, Depends(authorise(Perm.REVIEW_CORRECT, "review"))],
    state: StateDep,
) -> ReviewResult:
    with (
        state.trail.attempt(principal, "review", (dossier_id,), detail={"decision": "correct"}),
        state.rt.sessions.begin() as session,
    ):
        load_visible(session, principal, dossier_id)
        dossier = service.correct(
            session, state.taxonomy, dossier_id, principal.name, business_type=body.business_type, fields=body.fields
        )
        return _result(dossier)


@router.post("/{dossier_id}/approve", response_model=ReviewResult, summary="批准归档（不得审批自己上传的批次）")
def approve(
    dossier_id: DossierId,
    principal: Annotated[Principal, Depends(authorise(Perm.REVIEW_DECIDE, "review"))],
    state: StateDep,
) -> ReviewResult:
    with (
        state.trail.attempt(principal, "review", (dossier_id,), detail={"decision": "approve"}),
        state.rt.sessions.begin() as session,
    ):
        load_visible(session, principal, dossier_id)
        return _result(service.approve(session, dossier_id, principal.name, state.taxonomy))


@router.post("/{dossier_id}/reject", response_model=ReviewResult, summary="驳回（须填写原因）")
def reject(
    *,
    dossier_id: DossierId,
    body: Rejection,
    principal: Annotated[Principal, Depends(authorise(Perm.REVIEW_DECIDE, "review"))],
    state: StateDep,
) -> ReviewResult:
    with (
        state.trail.attempt(principal, "review", (dossier_id,), reason=body.reason, detail={"decision": "reject"}),
        state.rt.sessions.begin() as session,
    ):
        load_visible(session, principal, dossier_id)
        return _result(service.reject(session, dossier_id, principal.name, body.reason))
