"""The access log for auditors: query, export (with the verification result), verify, and the
unusual-access report.  Every use is itself logged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.deps import MEANINGFUL, AppState, DbDep, StateDep, authorise
from api.errors import ERROR_RESPONSES, ErrorBody
from archive.audit.export import export_csv, export_json
from archive.audit.query import LogFilter, LogPage, query
from archive.audit.unusual import UnusualReport, unusual_access
from archive.audit.verify import Verification, verify
from archive.identity.principal import Principal
from archive.identity.roles import Perm

router = APIRouter(prefix="/audit", tags=["审计"], responses=ERROR_RESPONSES)

Text = Annotated[str | None, Query(max_length=200)]
Moment = Annotated[str | None, Query(max_length=40, description="ISO 8601 日期或时间（无时区按 UTC）")]


class VerificationOut(BaseModel):
    ok: bool
    entries: int
    checkpoints: int
    code: str
    first_bad: int | None
    message: str
    superseded: int = 0  # checkpoints set aside by a backup restore (not a problem)
    notice: str = ""
    summary: str


class EntryOut(BaseModel):
    seq: int
    id: str
    at: str
    actor: str
    role: str
    office: str
    client: str
    action: str
    targets: list[str]
    reason: str
    outcome: str
    detail: dict[str, Any]
    prev: str
    hash: str
    algorithm: str


class EntriesOut(BaseModel):
    items: list[EntryOut]
    next: str | None


class FindingOut(BaseModel):
    kind: str
    description: str
    actor: str | None
    target: str | None
    count: int
    first_at: str
    last_at: str
    entry_ids: list[str]
    threshold: float | None
    baseline: float | None
    actors: list[str]


class UnusualOut(BaseModel):
    since: str
    until: str
    findings: list[FindingOut]


def log_filter(
    actor: Text = None,
    dossier_id: Text = None,
    person_id_number: Annotated[str | None, Query(max_length=18)] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    outcome: Annotated[Literal["allowed", "denied"] | None, Query()] = None,
    since: Moment = None,
    until: Moment = None,
) -> LogFilter:
    """The entry filter shared by the query and the export: the same parameters, the same meaning."""
    return LogFilter(
        actor=actor,
        dossier_id=dossier_id,
        person_id_number=person_id_number,
        action=action,
        outcome=outcome,
        since=since,
        until=until,
    )


FilterDep = Annotated[LogFilter, Depends(log_filter)]


# -- the logged reads, shared by these routes and the auditor's web pages (api.web.auditor) ---------


def logged_query(
    state: AppState, session: Session, principal: Principal, flt: LogFilter, cursor: str | None, limit: int
) -> LogPage:
    """One page of entries, newest first; the query itself is logged (``audit_query``)."""
    with state.trail.attempt(principal, "audit_query", (), detail={"query": flt.as_dict()}) as detail:
        page = query(session, flt, cursor, limit, newest_first=True)
        detail["results"] = len(page.entries)
    return page


def logged_verify(state: AppState, principal: Principal) -> Verification:
    """Walk the chain against the checkpoints; the run and its result are logged (``audit_verify``)."""
    result = verify(state.rt)
    detail = {
        "ok": result.ok,
        "entries": result.entries,
        "checkpoints": result.checkpoints,
        "code": result.code,
        "first_bad": result.first_bad,
    }
    state.trail.record(principal, "audit_verify", (), detail=detail)
    return result


def report_window(since: str | None, until: str | None, days: int = 7) -> dict[str, str]:
    """The unusual-access window: the bounds given, else the last ``days`` days up to now."""
    now = datetime.now(UTC)
    return {"since": since or (now - timedelta(days=days)).isoformat(), "until": until or now.isoformat()}


def logged_unusual(state: AppState, session: Session, principal: Principal, window: dict[str, str]) -> UnusualReport:
    """The unusual-access report for ``window`` (``report_window``); logged as an ``audit_query``."""
    with state.trail.attempt(principal, "audit_query", (), detail={"report": "unusual", **window}) as detail:
        report = unusual_access(session, window["since"], window["until"])
        detail["findings"] = len(report.findings)
    return report


@router.get("/entries", response_model=EntriesOut, summary="查询访问日志（按用户、案卷、身份证号、操作、结果、时间）")
def entries(
    *,
    flt: FilterDep,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    principal: Annotated[Principal, Depends(authorise(Perm.AUDIT_READ, "audit_query"))],
    state: StateDep,
    session: DbDep,
) -> EntriesOut:
    page = logged_query(state, session, principal, flt, cursor, limit)
    return EntriesOut(items=[EntryOut(**e) for e in page.entries], next=page.next_cursor)


@router.get(
    "/export",
    summary="导出访问日志（CSV 或 JSON，附校验结果；须填写原因）",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}, 422: {"model": ErrorBody}},
)
def export(
    *,
    reason: Annotated[str, Query(min_length=2, max_length=200, description="导出原因（必填）"), MEANINGFUL],
    format: Annotated[Literal["csv", "json"], Query()] = "csv",
    flt: FilterDep,
    principal: Annotated[Principal, Depends(authorise(Perm.AUDIT_EXPORT, "export"))],
    state: StateDep,
) -> StreamingResponse:
    detail = {"query": flt.as_dict(), "format": format}
    with state.trail.attempt(principal, "export", (), reason=reason.strip(), detail=detail) as extra:
        made = (export_csv if format == "csv" else export_json)(state.rt, flt)
        extra.update(verified=made.verification.ok, through_seq=made.through_seq)
    headers = {
        "Content-Disposition": f'attachment; filename="{made.filename}"',
        "X-Audit-Verification": made.verification.code,
    }
    return StreamingResponse(made.chunks, media_type=made.media_type, headers=headers)


@router.get("/verify", response_model=VerificationOut, summary="校验访问日志哈希链与检查点")
def verify_log(
    *,
    principal: Annotated[Principal, Depends(authorise(Perm.AUDIT_READ, "audit_verify"))],
    state: StateDep,
) -> VerificationOut:
    result = logged_verify(state, principal)
    return VerificationOut(**result.as_dict())


@router.get("/unusual", response_model=UnusualOut, summary="异常访问报告（默认最近 7 天）")
def unusual(
    *,
    since: Moment = None,
    until: Moment = None,
    principal: Annotated[Principal, Depends(authorise(Perm.AUDIT_READ, "audit_query"))],
    state: StateDep,
    session: DbDep,
) -> UnusualOut:
    report = logged_unusual(state, session, principal, report_window(since, until))
    return UnusualOut(**report.as_dict())
