"""Review (maker-checker): the queue, corrections, approval and rejection.

The CLI calls these functions now; the API and the web UI call the same ones.  The person who
approves a dossier must not be the person who ingested it; every change is kept in the dossier's
history, and every human-confirmed type is kept as training data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from archive import metadata as describe
from archive import numbering
from archive.errors import Forbidden, Invalid, NotFound
from archive.identifiers import is_valid_id_number, is_valid_uscc
from archive.indexing import outbox
from archive.records.models import Batch, Dossier, DossierEvent, TrainingExample
from archive.retention import holds
from archive.taxonomy import UNCLASSIFIED, Taxonomy, load_taxonomy

# Fields a reviewer may correct, and how each is checked.
EDITABLE = {
    "archive_number": None,
    "title": None,
    "person_name": None,
    "person_id_number": is_valid_id_number,
    "unit_name": None,
    "unit_uscc": is_valid_uscc,
    "business_number": None,
}
FIELD_ZH = {
    "archive_number": "档号",
    "title": "题名",
    "person_name": "姓名",
    "person_id_number": "公民身份号码",
    "unit_name": "单位名称",
    "unit_uscc": "统一社会信用代码",
    "business_number": "业务编号",
}
_SEVERE = {"catalogue_mismatch": 5, "invalid_id_number": 4, "invalid_uscc": 4, "duplicate_page": 3, "unclassified": 3}


@dataclass(frozen=True)
class QueueItem:
    id: str
    archive_number: str | None
    business_type: str | None
    confidence: float | None
    problems: list[dict]
    severity: int
    page_count: int


def severity(problems: list[dict]) -> int:
    return sum(_SEVERE.get(p.get("code", ""), 1) for p in problems)


def queue(session: Session, office: str | None = None, limit: int = 100) -> list[QueueItem]:
    """Dossiers waiting for review, most serious problems first, then least confident."""
    query = select(Dossier).where(Dossier.status == "needs_review")
    if office:
        query = query.where(Dossier.office == office)
    items = [
        QueueItem(
            d.id, d.archive_number, d.business_type, d.confidence, list(d.problems), severity(d.problems), d.page_count
        )
        for d in session.scalars(query)
    ]
    items.sort(key=lambda i: (-i.severity, i.confidence if i.confidence is not None else -1.0, i.id))
    return items[:limit]


def _load(session: Session, dossier_id: str) -> Dossier:
    dossier = session.scalar(select(Dossier).where(Dossier.id == dossier_id).options(selectinload(Dossier.pages)))
    if dossier is None:
        raise NotFound("dossier_not_found", f"案卷 {dossier_id} 不存在")
    return dossier


def _event(session: Session, dossier: Dossier, actor: str, action: str, detail: dict) -> None:
    """History of the change; every change also re-indexes the dossier once committed."""
    session.add(DossierEvent(dossier_id=dossier.id, actor=actor, action=action, detail=detail))
    outbox.enqueue(session, dossier.id)


def _learn(session: Session, dossier: Dossier, actor: str, reason: str) -> None:
    session.add(
        TrainingExample(
            dossier_id=dossier.id,
            business_type=dossier.business_type,
            pages=[p.text for p in dossier.pages],
            actor=actor,
            reason=reason,
        )
    )


def _require_open(dossier: Dossier) -> None:
    if dossier.status != "needs_review":
        raise Invalid("not_in_review", f"案卷状态为 {dossier.status}，只有待审核的案卷可以修改或审批")


def correct(
    session: Session,
    taxonomy: Taxonomy,
    dossier_id: str,
    actor: str,
    *,
    business_type: str | None = None,
    fields: dict[str, str] | None = None,
) -> Dossier:
    """Change the type and/or record fields of a dossier under review; history keeps before and after."""
    dossier = _load(session, dossier_id)
    _require_open(dossier)
    changes: dict[str, dict] = {}
    if business_type is not None and business_type != dossier.business_type:
        try:
            kind = taxonomy.by_name(business_type)
        except KeyError as exc:
            raise Invalid("unknown_business_type", f"未知的业务类型：{business_type}") from exc
        changes["business_type"] = {"before": dossier.business_type, "after": kind.name}
        dossier.business_type, dossier.category, dossier.retention = kind.name, kind.category, kind.retention
        dossier.problems = [p for p in dossier.problems if p.get("code") != "unclassified"]
    for name, value in (fields or {}).items():
        if name not in EDITABLE:
            raise Invalid("field_not_editable", f"字段 {name} 不可修改；可修改：{'、'.join(FIELD_ZH.values())}")
        check = EDITABLE[name]
        value = value.strip().upper() if check else value.strip()
        if check is not None and not check(value):
            raise Invalid("invalid_value", f"{FIELD_ZH[name]} {value} 校验不通过")
        before = getattr(dossier, name)
        if before != value:
            changes[name] = {"before": before, "after": value}
            setattr(dossier, name, value)
            if name == "person_id_number":
                dossier.problems = [p for p in dossier.problems if p.get("code") != "invalid_id_number"]
            if name == "unit_uscc":
                dossier.problems = [p for p in dossier.problems if p.get("code") != "invalid_uscc"]
    if not changes:
        raise Invalid("nothing_to_change", "没有需要修改的内容")
    if any(p.get("code") == "metadata_missing" for p in dossier.problems):  # say what is still missing
        gaps = describe.missing_before_filing(_description(dossier))
        dossier.problems = [p for p in dossier.problems if p.get("code") != "metadata_missing"]
        if gaps:
            dossier.problems.append({"code": "metadata_missing", "detail": describe.problem_detail(gaps)})
    _event(session, dossier, actor, "corrected", changes)
    if "business_type" in changes:
        _learn(session, dossier, actor, "corrected")
    return dossier


def approve(session: Session, dossier_id: str, actor: str, taxonomy: Taxonomy | None = None) -> Dossier:
    """Archive a reviewed dossier.  The approver must not be the person who ingested it.  A dossier
    without a 档号 gets one (``archive.numbering``; ``taxonomy`` names the type's code, the built-in
    one when not given)."""
    dossier = _load(session, dossier_id)
    _require_open(dossier)
    _require_other_person(session, dossier, actor)
    if not dossier.business_type or dossier.business_type == UNCLASSIFIED:
        raise Invalid("type_required", "请先确定业务类型再批准归档")
    blocking = [p for p in dossier.problems if p.get("code") in ("invalid_id_number", "invalid_uscc")]
    if blocking:
        raise Invalid("problems_open", "仍有未更正的问题：" + "；".join(p["detail"] for p in blocking))
    if describe.TITLE in describe.missing(_description(dossier)):  # a reviewer supplies it (EDITABLE)
        raise Invalid("metadata_missing", f"请先补录必备著录项：{describe.TITLE}，再批准归档")
    _decide(session, dossier, "archived")
    if not dossier.archive_number:
        kind = (taxonomy or load_taxonomy()).by_name(dossier.business_type)
        numbering.assign(session, dossier, kind.short)
    dossier.reviewed_by, dossier.reviewed_at = actor, datetime.now(UTC)
    holds.mark(session, dossier.id)  # its objects are held to the retention period once this commits
    _event(session, dossier, actor, "approved", {"business_type": dossier.business_type})
    _learn(session, dossier, actor, "approved")
    return dossier


def _description(dossier: Dossier) -> describe.Description:
    return describe.Description(
        title=dossier.title,
        archive_number=dossier.archive_number,
        business_number=dossier.business_number,
        responsible=bool(dossier.office),
        dated=dossier.date_end or dossier.date_start,
        business_type=dossier.business_type,
        retention=dossier.retention,
    )


def _decide(session: Session, dossier: Dossier, status: str) -> None:
    """Move the dossier out of review only if it is still in review: of two reviewers deciding at
    once, the second finds it decided (the conditional UPDATE waits for the first's row lock)."""
    claimed = session.execute(
        update(Dossier)
        .where(Dossier.id == dossier.id, Dossier.status == "needs_review")
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise Invalid("not_in_review", "案卷已由他人处理，请刷新后查看")
    dossier.status = status


def ingested_by(session: Session, dossier: Dossier) -> str | None:
    """Who ingested the dossier (older rows name only their batch's creator)."""
    return dossier.ingested_by or session.scalar(select(Batch.created_by).where(Batch.id == dossier.batch_id))


def _require_other_person(session: Session, dossier: Dossier, actor: str) -> None:
    if ingested_by(session, dossier) == actor:
        raise Forbidden("self_approval", "审批人不能是入库人（双人复核）：请由另一位审核员处理")


def reject(session: Session, dossier_id: str, actor: str, reason: str) -> Dossier:
    """Refuse a dossier (with a reason); like approval, never by the person who ingested it."""
    dossier = _load(session, dossier_id)
    _require_open(dossier)
    _require_other_person(session, dossier, actor)
    if not reason.strip():
        raise Invalid("reason_required", "驳回必须填写原因")
    _decide(session, dossier, "rejected")
    dossier.reviewed_by, dossier.reviewed_at = actor, datetime.now(UTC)
    _event(session, dossier, actor, "rejected", {"reason": reason.strip()})
    return dossier


def history(session: Session, dossier_id: str) -> list[DossierEvent]:
    _load(session, dossier_id)
    return list(
        session.scalars(select(DossierEvent).where(DossierEvent.dossier_id == dossier_id).order_by(DossierEvent.at))
    )
