"""Pages of the web interface: the reviewer's queue and workbench (maker-checker).

``/review`` lists the office's dossiers waiting for review, most severe problems first
(``archive.review.queue``); ``/review/{id}`` is the workbench: the page images beside the OCR text,
the extracted fields, the suggested business type and its alternatives, the catalogue-versus-pages
check, the problems and the history.  Reading it is a dossier read, logged as ``dossier_open``.
Corrections and decisions go through the JSON API (``/api/v1/review/...``) from ``review.js``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from api.deps import AppState
from api.routes.dossiers import DossierId
from api.web.render import page
from api.web.session import page_user
from archive import review as service
from archive.identifiers import mask_numbers
from archive.identity.principal import ALL_OFFICES, Principal
from archive.identity.roles import Perm
from archive.reading import dossiers as reading
from archive.records.models import Dossier, as_utc
from archive.taxonomy import UNCLASSIFIED

router = APIRouter(include_in_schema=False)

QUEUE_LIMIT = 500  # the most a page lists (and the window "next" looks in)

# What each problem code means, for a badge (the stored detail says the rest).
PROBLEM_ZH = {
    "catalogue_mismatch": "目录与页面不符",
    "invalid_id_number": "身份证号校验不通过",
    "invalid_uscc": "信用代码校验不通过",
    "duplicate_page": "重复页面",
    "unclassified": "业务类型未确定",
    "low_ocr_confidence": "识别置信度低",
    "low_confidence": "置信度低",
    "metadata_missing": "著录项缺失",
    "blank_page": "空白页",
    "no_text": "未识别到文字",
    "colour_lost": "印章颜色丢失",
    "skew_corrected": "页面已纠偏",
    "low_resolution": "分辨率不足",
    "resolution_below_advised": "分辨率低于建议值",
    "pages_before_separator": "分隔页前有页面",
    "duplicate_archive_number": "档号重复",
    "invalid_archive_number": "档号无效",
}
ACTION_ZH = {
    "ingested": "入库",
    "corrected": "更正",
    "approved": "批准归档",
    "rejected": "驳回",
    "archived": "自动归档",
}
# A problem that blocks approval until corrected (archive.review.approve).
BLOCKING = frozenset({"invalid_id_number", "invalid_uscc"})
CHECKED_FIELDS = {"person_id_number": "id", "unit_uscc": "uscc"}
RECOGNISED_KEY = {  # the dossier field -> the extracted record's key (what OCR read)
    "archive_number": "archive_number",
    "title": "title",
    "person_name": "person_name",
    "person_id_number": "id_number",
    "unit_name": "unit_name",
    "unit_uscc": "uscc",
    "business_number": "business_number",
}
FIELD_LIMITS = {"person_id_number": 18, "unit_uscc": 18, "business_number": 64, "archive_number": 100}


def _state(request: Request) -> AppState:
    return request.app.state.archive


def _office(principal: Principal) -> str | None:
    return None if principal.office == ALL_OFFICES else principal.office


# -- problems ----------------------------------------------------------------------------------


def problem_level(code: str) -> str:
    """The badge colour: blocking or severe problems are bad, the rest a warning."""
    weight = service.severity([{"code": code}])
    return "bad" if code in BLOCKING or weight >= 4 else "warn"


def problem_view(problem: dict, *, masked: bool) -> dict:
    code = str(problem.get("code", ""))
    detail = str(problem.get("detail", ""))
    return {
        "code": code,
        "label": PROBLEM_ZH.get(code, code),
        "detail": mask_numbers(detail) if masked else detail,
        "page": problem.get("page"),
        "level": problem_level(code),
        "blocking": code in BLOCKING,
    }


def badges(problems: list[dict]) -> list[dict]:
    """One badge per problem code, in order of first appearance, with how often it occurs."""
    out: dict[str, dict] = {}
    for p in problems:
        badge = out.setdefault(p["code"], {"label": p["label"], "level": p["level"], "count": 0, "details": []})
        badge["count"] += 1
        badge["details"].append(p["detail"])
    return list(out.values())


# -- the queue ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    id: str
    archive_number: str | None
    title: str | None
    person_name: str | None
    unit_name: str | None
    office: str
    business_type: str | None
    confidence: float | None
    top_candidate: dict | None
    problems: list[dict]
    badges: list[dict]
    severity: int
    page_count: int
    uploaded_by: str | None
    age: str
    mine: bool


def age_text(created: datetime | None, now: datetime) -> str:
    """How long a dossier has waited, the way a person says it."""
    if created is None:
        return "—"
    minutes = max(0, int((now - as_utc(created)).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} 分钟"
    if minutes < 24 * 60:
        return f"{minutes // 60} 小时"
    return f"{minutes // (24 * 60)} 天"


def queue_rows(session: Session, items: list[service.QueueItem], viewer: str) -> list[QueueRow]:
    """The queue items with what a list row shows (the dossiers are already in the session)."""
    now = datetime.now(UTC)
    rows = []
    for item in items:
        d = session.get(Dossier, item.id)
        assert d is not None  # just listed by the queue, in this session
        uploader = service.ingested_by(session, d)
        candidates = list((d.classification or {}).get("candidates", []))
        problems = [problem_view(p, masked=True) for p in item.problems]
        rows.append(
            QueueRow(
                id=d.id,
                archive_number=d.archive_number,
                title=d.title,
                person_name=d.person_name,
                unit_name=d.unit_name,
                office=d.office,
                business_type=item.business_type,
                confidence=item.confidence,
                top_candidate=candidates[0] if candidates else None,
                problems=problems,
                badges=badges(problems),
                severity=item.severity,
                page_count=item.page_count,
                uploaded_by=uploader,
                age=age_text(d.created_at, now),
                mine=uploader == viewer,
            )
        )
    return rows


# -- the workbench -----------------------------------------------------------------------------


@dataclass
class CatalogueView:
    """The 卷内目录 against the scanned pages, as far as the data tells."""

    present: bool  # a cover or a catalogue was found (loose papers are not checked)
    declared_items: int | None
    declared_pages: int | None
    actual_pages: int
    counted_pages: int  # the scanned pages the cover's count covers
    pages_agree: bool | None  # None: nothing declared
    items_agree: bool | None
    cover_page: int | None
    catalogue_page: int | None
    entries: list[dict] = field(default_factory=list)
    mismatches: list[dict] = field(default_factory=list)


def catalogue_view(dossier: dict, problems: list[dict]) -> CatalogueView:
    """Entries with the scanned pages they point to, following archive.extract.catalogue's
    numbering convention (page 1 is the cover, or the first document when only documents are
    numbered); the verdicts themselves are the ``catalogue_mismatch`` problems found at ingest."""
    record = dossier.get("record") or {}
    actual = int(dossier.get("page_count") or 0)
    raw = record.get("catalogue") or dossier.get("catalogue") or []
    cover, cat_page = record.get("cover_page"), record.get("catalogue_page")
    first_numbered = cover or cat_page or 1
    front = (record.get("catalogue_last_page") or cat_page or cover or 0) - first_numbered + 1
    known = [i for i, e in enumerate(raw) if e.get("start_page") is not None and e.get("end_page") is not None]
    documents_only = bool(known) and known[0] == 0 and raw[0]["start_page"] == 1 and front > 0
    offset = (first_numbered - 1) + (front if documents_only else 0)
    last = actual - offset
    declared_pages = record.get("declared_pages", dossier.get("declared_pages"))
    declared_items = record.get("declared_items")
    counted = actual - (first_numbered - 1)
    entries = []
    for e in raw:
        start, end = e.get("start_page"), e.get("end_page")
        note = ""
        if start is None or end is None:
            note = "页号未识别"
        elif start > end:
            note = "起止颠倒"
        elif end > last:
            note = "超出实际页数"
        scan_start = start + offset if start is not None and 1 <= start + offset <= actual else None
        entries.append(
            {
                "seq": e.get("seq"),
                "title": e.get("title") or "（题名未识别）",
                "pages": "—" if start is None else (f"{start}" if start == end or end is None else f"{start}–{end}"),
                "scan_start": scan_start,
                "scan_end": min(end + offset, actual) if end is not None and scan_start is not None else None,
                "note": note,
            }
        )
    pages_agree = None
    if declared_pages is not None:
        pages_agree = declared_pages == counted or (documents_only and declared_pages == last)
    return CatalogueView(
        present=bool(cover or cat_page or raw),
        declared_items=declared_items,
        declared_pages=declared_pages,
        actual_pages=actual,
        counted_pages=counted,
        pages_agree=pages_agree,
        items_agree=None if declared_items is None or not raw else declared_items == len(raw),
        cover_page=cover,
        catalogue_page=cat_page,
        entries=entries,
        mismatches=[p for p in problems if p["code"] == "catalogue_mismatch"],
    )


def field_views(dossier: dict) -> list[dict]:
    """The fields a reviewer may correct (archive.review.EDITABLE), with what OCR read when it differs."""
    record = dossier.get("record") or {}
    out = []
    for name in service.EDITABLE:
        value = dossier.get(name) or ""
        read = record.get(RECOGNISED_KEY[name]) or ""
        out.append(
            {
                "name": name,
                "label": service.FIELD_ZH[name],
                "value": value,
                "recognised": read if read and read != value else "",
                "check": CHECKED_FIELDS.get(name, ""),
                "maxlength": FIELD_LIMITS.get(name, 500),
            }
        )
    return out


def fixed_facts(dossier: dict) -> list[tuple[str, str]]:
    """What the form does not change, shown beside it."""
    record = dossier.get("record") or {}

    def text(value: Any) -> str:
        return "—" if value in (None, "", []) else str(value)

    dates = "、".join(record.get("dates") or []) or "—"
    amounts = "；".join(f"{a.get('label', '')} {a.get('value', '')}" for a in record.get("amounts") or []) or "—"
    return [
        ("起始日期", text(dossier.get("date_start"))),
        ("终止日期（形成日期）", text(dossier.get("date_end"))),
        ("识别到的日期", dates),
        ("金额", amounts),
        ("保管期限", text(dossier.get("retention"))),
        ("业务环节", text(dossier.get("category"))),
        ("立卷单位", text(record.get("agency"))),
        ("经办机构", text(dossier.get("office"))),
    ]


def history_view(events: list[dict]) -> list[dict]:
    out = []
    for e in events:
        detail = e.get("detail") or {}
        action = e.get("action", "")
        if action == "corrected":
            parts = []
            for name, change in detail.items():
                label = service.FIELD_ZH.get(name, "业务类型" if name == "business_type" else name)
                parts.append(f"{label}：{change.get('before') or '（空）'} → {change.get('after') or '（空）'}")
            text = "；".join(parts)
        elif action == "rejected":
            text = f"原因：{detail.get('reason', '')}"
        elif action == "approved":
            text = f"业务类型：{detail.get('business_type', '')}"
        elif action == "archived" and detail.get("confidence") is not None:
            text = f"分类置信度 {detail['confidence']:.2f}"
        else:
            text = ""
        out.append({"at": e.get("at"), "actor": e.get("actor"), "action": ACTION_ZH.get(action, action), "text": text})
    return out


def page_views(dossier: dict, texts: list[dict], problems: list[dict], low: float) -> list[dict]:
    """Each page: its OCR text and lines (low-confidence ones flagged), rotation and problems."""
    text_of = {t["number"]: t for t in texts}
    out = []
    for p in dossier["pages"]:
        n = p["number"]
        t = text_of.get(n, {})
        lines = [
            {
                "text": str(line.get("text", "")),
                "confidence": line.get("confidence"),
                "low": line.get("confidence") is not None and float(line["confidence"]) < low,
            }
            for line in t.get("lines") or []
        ]
        conf = p.get("mean_confidence")
        out.append(
            {
                "number": n,
                "width": p["width"],
                "height": p["height"],
                "confidence": conf,
                "low": conf is not None and conf < low,
                "rotation": (p.get("rotation") or 0) % 360,
                "text": t.get("text", ""),
                "lines": lines,
                "problems": [q for q in problems if q["page"] == n],
            }
        )
    return out


def candidate_views(candidates: list[dict], names: tuple[str, ...]) -> list[dict]:
    out = []
    for c in candidates[:3]:
        name = str(c.get("business_type", ""))
        probability = float(c.get("probability") or 0.0)
        out.append(
            {
                "name": name,
                "probability": probability,
                "percent": round(probability * 100),
                "selectable": name in names and name != UNCLASSIFIED,
            }
        )
    return out


def _position(items: list[service.QueueItem], dossier_id: str) -> int | None:
    for i, item in enumerate(items):
        if item.id == dossier_id:
            return i
    return None


def _decidable_before(session: Session, items: list[service.QueueItem], viewer: str) -> int:
    """How many of ``items`` the viewer may decide (not their own uploads): where "next" resumes."""
    return sum(1 for row in queue_rows(session, items, viewer) if not row.mine)


def next_url(after: str, pos: int) -> str:
    return "/review/next?" + urlencode({"after": after, "pos": pos})


# -- routes ------------------------------------------------------------------------------------


@router.get("/review")
def review_queue(
    request: Request,
    principal: Annotated[Principal, Depends(page_user(Perm.REVIEW_DECIDE, "review_queue"))],
    limit: Annotated[int, Query(ge=1, le=QUEUE_LIMIT)] = 200,
) -> Response:
    state = _state(request)
    with state.rt.sessions() as session:
        items = service.queue(session, _office(principal), limit)
        rows = queue_rows(session, items, principal.name)
    state.trail.record(principal, "review_queue", [i.id for i in items], detail={"results": len(items)})
    return page(
        request,
        "reviewer_queue.html",
        principal,
        rows=rows,
        limit=limit,
        all_offices=principal.office == ALL_OFFICES,
        mine_count=sum(1 for r in rows if r.mine),
    )


@router.get("/review/next")
def review_next(
    request: Request,
    principal: Annotated[Principal, Depends(page_user(Perm.REVIEW_DECIDE, "review_queue"))],
    after: Annotated[str | None, Query(pattern=reading.ID_PATTERN.pattern)] = None,
    pos: Annotated[int, Query(ge=0, le=QUEUE_LIMIT)] = 0,
) -> Response:
    """The dossier to review after ``after`` (just decided or skipped), which stood at ``pos``:
    the one now at that place in the queue, leaving out the reviewer's own uploads."""
    state = _state(request)
    with state.rt.sessions() as session:
        items = service.queue(session, _office(principal), QUEUE_LIMIT)
        rows = [r for r in queue_rows(session, items, principal.name) if r.id != after and not r.mine]
    if not rows:
        state.trail.record(principal, "review_queue", [], detail={"results": 0, "next": True})
        return RedirectResponse("/review?done=1", status_code=303)
    chosen = rows[min(pos, len(rows) - 1)]
    state.trail.record(principal, "review_queue", [chosen.id], detail={"results": len(rows), "next": True})
    return RedirectResponse(f"/review/{chosen.id}", status_code=303)


@router.get("/review/{dossier_id}")
def workbench(
    dossier_id: DossierId,
    request: Request,
    principal: Annotated[Principal, Depends(page_user(Perm.REVIEW_DECIDE, "dossier_open"))],
) -> Response:
    state = _state(request)
    with state.trail.attempt(principal, "dossier_open", (dossier_id,)), state.rt.sessions() as session:
        data = reading.open_dossier(session, principal, dossier_id)
        with state.trail.attempt(principal, "text_view", (dossier_id,)):  # the OCR text of every page
            texts = reading.page_text(session, principal, dossier_id)
        items = service.queue(session, _office(principal), QUEUE_LIMIT)
        position = _position(items, dossier_id)
        resume = _decidable_before(session, items[:position], principal.name) if position else 0
    problems = [problem_view(p, masked=False) for p in data["problems"]]
    names = tuple(n for n in state.taxonomy.names if n != UNCLASSIFIED)
    mine = data["ingested_by"] == principal.name
    return page(
        request,
        "reviewer_workbench.html",
        principal,
        d=data,
        problems=problems,
        pages=page_views(data, texts, problems, state.rt.settings.low_confidence),
        low_threshold=state.rt.settings.low_confidence,
        fields=field_views(data),
        facts=fixed_facts(data),
        candidates=candidate_views(data["candidates"], names),
        type_names=names,
        catalogue=catalogue_view(data, problems),
        history=history_view(data["history"]),
        mine=mine,
        open_for_review=data["status"] == "needs_review",
        title_missing=not (data.get("title") or "").strip(),
        blocking=[p for p in problems if p["blocking"]],
        position=position,
        queue_total=len(items),
        next_href=next_url(dossier_id, resume),
    )
