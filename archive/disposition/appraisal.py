"""Appraisal (鉴定) of dossiers whose retention has ended: propose, then approve or decline (maker-checker).

《社会保险业务档案管理规定（试行）》: no archive is destroyed without appraisal and approval.  One person
proposes (``destroy``, or ``keep`` for N more years), with a reason, for dossiers due on the appraisal
list; a different person approves or declines (with a reason).  A dossier is in at most one open
appraisal (the database refuses a second: ``AppraisalItem.open_dossier_id`` is unique).

Approving ``keep`` extends each dossier's retention to its current end plus N years and extends the
store holds of its objects (``archive.retention.holds.apply_holds``).  Approving ``destroy`` writes the
销毁清册 to the store (write-once, legal hold) *before* anything is cleared, records it, clears the
dossiers' content and marks them destroyed; the objects are deleted after the commit
(``archive.disposition.destroy.destroy_objects``).  Every function takes the moment it acts at
(``now``) so tests control the clock; the callers commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from archive.disposition import status as st
from archive.disposition.destroy import mark_destroyed, plan
from archive.disposition.due import add_years, open_appraisals
from archive.disposition.register import build, store_register
from archive.disposition.scope import office_clause, sees
from archive.disposition.sharing import other_references
from archive.errors import Forbidden, Invalid, NotFound
from archive.ids import new_id
from archive.integrity.snapshot import load_snapshots, objects_of
from archive.records.models import Appraisal, AppraisalItem, DestructionRegister, Dossier, DossierEvent, as_utc
from archive.retention.period import retention_end
from archive.storage.base import ObjectStore

MAX_DOSSIERS = 500
MAX_KEEP_YEARS = 100
MAX_REASON = 500


@dataclass(frozen=True)
class AppraisalView:
    id: str
    office: str
    decision: str
    keep_years: int | None
    reason: str
    status: str
    proposed_by: str
    proposed_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decline_reason: str | None
    dossiers: tuple[str, ...]
    register_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "office": self.office,
            "decision": self.decision,
            "keep_years": self.keep_years,
            "reason": self.reason,
            "status": self.status,
            "proposed_by": self.proposed_by,
            "proposed_at": as_utc(self.proposed_at).isoformat(),
            "decided_by": self.decided_by,
            "decided_at": as_utc(self.decided_at).isoformat() if self.decided_at else None,
            "decline_reason": self.decline_reason,
            "dossiers": list(self.dossiers),
            "register_id": self.register_id,
        }


@dataclass(frozen=True)
class RegisterSummary:
    id: str
    key: str
    sha256: str
    size: int
    dossiers: int
    objects_to_delete: int
    objects_kept_shared: int

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Decision:
    """An approval: the appraisal after it, and the register (destroy) or the new ends and holds (keep)."""

    appraisal: AppraisalView
    register: RegisterSummary | None = None
    extended_until: dict[str, str] | None = None  # keep: dossier id -> new retention end (ISO date)
    holds: dict[str, Any] | None = None  # keep: HoldReport.to_json()

    def to_json(self) -> dict[str, Any]:
        return {
            "appraisal": self.appraisal.to_json(),
            "register": self.register.to_json() if self.register else None,
            "extended_until": self.extended_until,
            "holds": self.holds,
        }


def view(session: Session, appraisal: Appraisal) -> AppraisalView:
    register = session.scalar(select(DestructionRegister.id).where(DestructionRegister.appraisal_id == appraisal.id))
    return AppraisalView(
        id=appraisal.id,
        office=appraisal.office,
        decision=appraisal.decision,
        keep_years=appraisal.keep_years,
        reason=appraisal.reason,
        status=appraisal.status,
        proposed_by=appraisal.proposed_by,
        proposed_at=as_utc(appraisal.proposed_at),
        decided_by=appraisal.decided_by,
        decided_at=as_utc(appraisal.decided_at) if appraisal.decided_at else None,
        decline_reason=appraisal.decline_reason,
        dossiers=tuple(i.dossier_id for i in appraisal.items),
        register_id=register,
    )


def _not_found() -> NotFound:
    return NotFound("appraisal_not_found", "鉴定不存在或不在您的经办机构范围内")


def load(session: Session, appraisal_id: str, office: str | None) -> Appraisal:
    """The appraisal when it exists and belongs to ``office`` (None/``*``: any); NotFound otherwise."""
    appraisal = session.scalar(
        select(Appraisal).where(Appraisal.id == appraisal_id).options(selectinload(Appraisal.items))
    )
    if appraisal is None or not sees(office, appraisal.office):
        raise _not_found()
    return appraisal


def list_appraisals(session: Session, office: str | None, status: str | None = None) -> list[AppraisalView]:
    query = select(Appraisal).options(selectinload(Appraisal.items)).order_by(Appraisal.proposed_at, Appraisal.id)
    if status is not None:
        query = query.where(Appraisal.status == status)
    return [view(session, a) for a in session.scalars(query.where(office_clause(Appraisal.office, office)))]


def _reason(reason: str | None, code: str, what: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise Invalid(code, f"{what}必须填写理由")
    if len(text) > MAX_REASON:
        raise Invalid("reason_too_long", f"理由不能超过 {MAX_REASON} 个字符")
    return text


def _label(dossier: Dossier) -> str:
    return dossier.archive_number or dossier.id


def _check_due(dossier: Dossier, now: datetime) -> None:
    end = retention_end(dossier)
    if end is None:
        raise Invalid("retention_permanent", f"案卷 {_label(dossier)} 为永久保管（或保管期限未定），不能鉴定处置")
    if end > now.date():
        raise Invalid("not_due", f"案卷 {_label(dossier)} 的保管期限至 {end.isoformat()} 才届满，尚不能鉴定")


def propose(
    session: Session,
    *,
    actor: str,
    office: str | None,
    dossier_ids: Sequence[str],
    decision: str,
    reason: str,
    now: datetime,
    keep_years: int | None = None,
) -> AppraisalView:
    """Open an appraisal of ``dossier_ids`` (all due on ``now``'s date, archived, of one office in scope)."""
    if decision not in (st.DESTROY, st.KEEP):
        raise Invalid("invalid_decision", "鉴定结论只能是 destroy（销毁）或 keep（延长保管）")
    if decision == st.KEEP:
        if keep_years is None or not 1 <= keep_years <= MAX_KEEP_YEARS:
            raise Invalid("keep_years_invalid", f"延长保管须给出 1 至 {MAX_KEEP_YEARS} 年")
    elif keep_years is not None:
        raise Invalid("keep_years_invalid", "销毁的鉴定不能给出延长年限")
    text = _reason(reason, "reason_required", "提交鉴定")
    ids = list(dict.fromkeys(dossier_ids))
    if not ids:
        raise Invalid("dossiers_required", "请至少选择一份案卷")
    if len(ids) > MAX_DOSSIERS:
        raise Invalid("too_many_dossiers", f"一次鉴定最多 {MAX_DOSSIERS} 份案卷")
    found = {d.id: d for d in session.scalars(select(Dossier).where(Dossier.id.in_(ids)))}
    dossiers = []
    for dossier_id in ids:
        dossier = found.get(dossier_id)
        if dossier is None or not sees(office, dossier.office):
            raise NotFound("dossier_not_found", f"案卷 {dossier_id} 不存在或不在您的经办机构范围内")
        if dossier.status != "archived":
            raise Invalid("not_archived", f"案卷 {_label(dossier)} 未归档（状态 {dossier.status}），不能鉴定")
        _check_due(dossier, now)
        dossiers.append(dossier)
    offices = {d.office for d in dossiers}
    if len(offices) > 1:
        raise Invalid("mixed_offices", "一次鉴定只能包含同一经办机构的案卷")
    busy = open_appraisals(session, ids)
    if busy:
        labels = "、".join(_label(found[i]) for i in ids if i in busy)
        raise Invalid("already_in_appraisal", f"案卷 {labels} 已在另一项待审批的鉴定中")
    appraisal = Appraisal(
        id=new_id(),
        office=offices.pop(),
        decision=decision,
        keep_years=keep_years,
        reason=text,
        status=st.PROPOSED,
        proposed_by=actor,
        proposed_at=now,
    )
    session.add(appraisal)
    for position, dossier in enumerate(dossiers, start=1):
        appraisal.items.append(
            AppraisalItem(
                dossier_id=dossier.id,
                position=position,
                retention_end=retention_end(dossier),
                open_dossier_id=dossier.id,
            )
        )
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent proposal took one of the dossiers first (the caller rolls back)
        raise Invalid("already_in_appraisal", "所选案卷已在另一项待审批的鉴定中，请刷新后重试") from exc
    for dossier in dossiers:
        detail = {"appraisal": appraisal.id, "decision": decision, "keep_years": keep_years}
        session.add(
            DossierEvent(dossier_id=dossier.id, at=now, actor=actor, action="appraisal_proposed", detail=detail)
        )
    return view(session, appraisal)


def _decide(session: Session, appraisal: Appraisal, actor: str, now: datetime, status: str) -> None:
    """Second person only; of two deciding at once the second finds it decided (conditional UPDATE)."""
    if appraisal.status != st.PROPOSED:
        raise Invalid("appraisal_decided", f"该鉴定已{st.APPRAISAL_ZH.get(appraisal.status, appraisal.status)}")
    if appraisal.proposed_by == actor:
        raise Forbidden(
            "self_approval_disposition", "审批人不能是鉴定提议人（双人复核）：请由另一位有审批权限的人员处理"
        )
    claimed = session.execute(
        update(Appraisal)
        .where(Appraisal.id == appraisal.id, Appraisal.status == st.PROPOSED)
        .values(status=status, decided_by=actor, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise Invalid("appraisal_decided", "该鉴定已由他人处理，请刷新后查看")
    appraisal.status, appraisal.decided_by, appraisal.decided_at = status, actor, now
    for item in appraisal.items:
        item.open_dossier_id = None


def decline(
    session: Session, appraisal_id: str, *, actor: str, office: str | None, reason: str, now: datetime
) -> AppraisalView:
    """Refuse the proposal (a reason required; never by the proposer): its dossiers return to the list."""
    appraisal = load(session, appraisal_id, office)
    text = _reason(reason, "reason_required", "不批准鉴定")
    _decide(session, appraisal, actor, now, st.DECLINED)
    appraisal.decline_reason = text
    for item in appraisal.items:
        detail = {"appraisal": appraisal.id, "reason": text}
        session.add(
            DossierEvent(dossier_id=item.dossier_id, at=now, actor=actor, action="appraisal_declined", detail=detail)
        )
    return view(session, appraisal)


def approve(
    session: Session, store: ObjectStore, appraisal_id: str, *, actor: str, office: str | None, now: datetime
) -> Decision:
    """Carry out the proposal (never by the proposer).  For ``destroy`` the caller, once this commits,
    deletes the objects with ``destroy.destroy_objects(store, sessions, register_id, now)``."""
    appraisal = load(session, appraisal_id, office)
    _decide(session, appraisal, actor, now, st.APPROVED)
    ids = [item.dossier_id for item in appraisal.items]
    found = {d.id: d for d in session.scalars(select(Dossier).where(Dossier.id.in_(ids)))}
    dossiers = [found[i] for i in ids]
    for dossier in dossiers:
        if dossier.status != "archived":
            raise Invalid("not_archived", f"案卷 {_label(dossier)} 已不是归档状态（{dossier.status}），不能执行")
        _check_due(dossier, now)
    if appraisal.decision == st.KEEP:
        return _keep(session, store, appraisal, dossiers, actor, now)
    return _destroy(session, store, appraisal, dossiers, actor, now)


def _keep(
    session: Session, store: ObjectStore, appraisal: Appraisal, dossiers: list[Dossier], actor: str, now: datetime
) -> Decision:
    from archive.retention.holds import apply_holds  # imported late: holds reach the integrity package

    years = appraisal.keep_years or 0
    extended: dict[str, str] = {}
    for dossier in dossiers:
        before = retention_end(dossier)
        assert before is not None  # _check_due
        dossier.retention_extended_until = add_years(before, years)
        extended[dossier.id] = dossier.retention_extended_until.isoformat()
        detail = {"appraisal": appraisal.id, "before": before.isoformat(), "after": extended[dossier.id]}
        session.add(
            DossierEvent(dossier_id=dossier.id, at=now, actor=actor, action="retention_extended", detail=detail)
        )
    session.flush()
    report = apply_holds(store, session, [d.id for d in dossiers])
    return Decision(view(session, appraisal), extended_until=extended, holds=report.to_json())


def _destroy(
    session: Session, store: ObjectStore, appraisal: Appraisal, dossiers: list[Dossier], actor: str, now: datetime
) -> Decision:
    ids = [d.id for d in dossiers]
    ends = {d.id: retention_end(d) for d in dossiers}
    snapshots = load_snapshots(session, ids)
    shared = other_references(session, [ref.key for ref in objects_of(snapshots)], ids)
    register_id = new_id()
    document = build(register_id, appraisal, actor, now, snapshots, ends, shared)  # type: ignore[arg-type]
    stored = store_register(store, document)  # write-once + legal hold, before anything is cleared
    session.add(
        DestructionRegister(
            id=register_id,
            appraisal_id=appraisal.id,
            office=appraisal.office,
            object_key=stored.key,
            sha256=stored.sha256,
            size=stored.size,
            dossiers=len(dossiers),
            created_by=actor,
            created_at=now,
        )
    )
    session.flush()
    rows = plan(session, register_id, document)
    for dossier in dossiers:
        mark_destroyed(session, dossier, actor, now, register_id)
    summary = RegisterSummary(
        id=register_id,
        key=stored.key,
        sha256=stored.sha256,
        size=stored.size,
        dossiers=len(dossiers),
        objects_to_delete=sum(1 for r in rows if r.outcome == st.PLANNED),
        objects_kept_shared=sum(1 for r in rows if r.outcome == st.SHARED),
    )
    return Decision(view(session, appraisal), register=summary)
