"""Listing and opening dossiers, their pages, OCR text and searchable PDF, within scope."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, fields
from datetime import date

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, load_only, selectinload

from archive.errors import Invalid, NotFound
from archive.identifiers import mask_id_number
from archive.identity.principal import Principal
from archive.identity.roles import Perm
from archive.reading.scope import dossier_clauses, load_visible, not_found, require
from archive.records.models import Dossier, DossierEvent, Page
from archive.review import ingested_by
from archive.storage.base import ObjectStore

ID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MAX_LIMIT = 200


@dataclass(frozen=True)
class DossierFilter:
    business_type: str | None = None
    status: str | None = None
    office: str | None = None
    archive_number: str | None = None
    person_id_number: str | None = None
    unit_uscc: str | None = None
    business_number: str | None = None
    unit_name: str | None = None  # part of the unit's name
    date_from: date | None = None
    date_to: date | None = None
    text: str | None = None  # in the title, person or unit name

    def is_search(self) -> bool:
        return any(getattr(self, f.name) not in (None, "") for f in fields(self))

    def as_log(self) -> dict:
        return {f.name: str(v) for f in fields(self) if (v := getattr(self, f.name)) not in (None, "")}


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _clauses(flt: DossierFilter) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    exact = {
        "business_type": Dossier.business_type,
        "status": Dossier.status,
        "office": Dossier.office,
        "archive_number": Dossier.archive_number,
        "person_id_number": Dossier.person_id_number,
        "unit_uscc": Dossier.unit_uscc,
        "business_number": Dossier.business_number,
    }
    for name, column in exact.items():
        value = getattr(flt, name)
        if value:
            out.append(column == (value.upper() if name in ("person_id_number", "unit_uscc") else value))
    if flt.date_from:
        out.append(or_(Dossier.date_end >= flt.date_from, Dossier.date_start >= flt.date_from))
    if flt.date_to:
        out.append(or_(Dossier.date_start <= flt.date_to, Dossier.date_end <= flt.date_to))
    if flt.unit_name:
        out.append(Dossier.unit_name.like(_like(flt.unit_name), escape="\\"))
    if flt.text:
        pattern = _like(flt.text)
        out.append(
            or_(
                Dossier.title.like(pattern, escape="\\"),
                Dossier.person_name.like(pattern, escape="\\"),
                Dossier.unit_name.like(pattern, escape="\\"),
            )
        )
    return out


def encode_cursor(dossier_id: str) -> str:
    return base64.urlsafe_b64encode(dossier_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise Invalid("invalid_cursor", "分页游标无效") from exc
    if not ID_PATTERN.fullmatch(value):
        raise Invalid("invalid_cursor", "分页游标无效")
    return value


def list_dossiers(
    session: Session, principal: Principal, flt: DossierFilter, cursor: str | None = None, limit: int = 50
) -> tuple[list[Dossier], str | None]:
    """Newest first (ids are time-ordered), ``limit`` at a time; the cursor continues after the last."""
    limit = max(1, min(limit, MAX_LIMIT))
    query = select(Dossier).where(*dossier_clauses(principal), *_clauses(flt))
    if cursor:
        query = query.where(Dossier.id < decode_cursor(cursor))
    rows = list(session.scalars(query.order_by(Dossier.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1].id) if more else None)


def summary(d: Dossier) -> dict:
    """A list row: the ID number masked."""
    return {
        "id": d.id,
        "archive_number": d.archive_number,
        "business_type": d.business_type,
        "office": d.office,
        "status": d.status,
        "title": d.title,
        "person_name": d.person_name,
        "person_id_number": mask_id_number(d.person_id_number),
        "unit_name": d.unit_name,
        "unit_uscc": d.unit_uscc,
        "business_number": d.business_number,
        "date_start": d.date_start,
        "date_end": d.date_end,
        "page_count": d.page_count,
    }


# What opening a dossier needs of its pages: never the OCR text or lines (a long dossier opens fast).
_PAGE_HEADER = (Page.number, Page.width, Page.height, Page.rotation, Page.media_type, Page.mean_confidence)


def open_dossier(session: Session, principal: Principal, dossier_id: str) -> dict:
    """Everything about one dossier, the whole ID number included (the caller logs the read)."""
    query = select(Dossier).where(Dossier.id == dossier_id, *dossier_clauses(principal))
    query = query.options(
        selectinload(Dossier.pages).options(load_only(*_PAGE_HEADER)), selectinload(Dossier.documents)
    )
    d = session.scalar(query)
    if d is None:
        raise not_found(dossier_id)
    events = session.scalars(
        select(DossierEvent).where(DossierEvent.dossier_id == d.id).order_by(DossierEvent.at)
    ).all()
    return {
        **summary(d),
        "person_id_number": d.person_id_number,
        "category": d.category,
        "retention": d.retention,
        "confidence": d.confidence,
        "declared_pages": d.declared_pages,
        "problems": list(d.problems),
        "candidates": list(d.classification.get("candidates", [])),
        "record": dict(d.record),
        "ingested_by": ingested_by(session, d),
        "reviewed_by": d.reviewed_by,
        "reviewed_at": d.reviewed_at,
        "created_at": d.created_at,
        "has_pdf": bool(d.searchable_pdf_key),
        "pages": [
            {
                "number": p.number,
                "width": p.width,
                "height": p.height,
                "rotation": p.rotation,
                "media_type": p.media_type,
                "mean_confidence": p.mean_confidence,
            }
            for p in d.pages
        ],
        "catalogue": [
            {
                "seq": doc.seq,
                "title": doc.title,
                "start_page": doc.start_page,
                "end_page": doc.end_page,
                "document_number": doc.document_number,
                "responsible": doc.responsible,
                "date": doc.date,
            }
            for doc in d.documents
        ],
        "history": [{"at": e.at, "actor": e.actor, "action": e.action, "detail": e.detail} for e in events],
    }


def visible_page(session: Session, principal: Principal, dossier_id: str, number: int) -> Page:
    """One page of a dossier the caller may see (one query when it exists; its text loaded on use)."""
    query = select(Page).join(Dossier, Page.dossier_id == Dossier.id)
    query = query.where(Dossier.id == dossier_id, Page.number == number, *dossier_clauses(principal))
    page = session.scalar(
        query.options(load_only(Page.number, Page.image_key, Page.image_sha256, Page.media_type, Page.rotation))
    )
    if page is None:
        load_visible(session, principal, dossier_id)  # NotFound when the dossier itself is out of sight
        raise NotFound("page_not_found", f"案卷没有第 {number} 页")
    return page


def page_image(
    session: Session, store: ObjectStore, principal: Principal, dossier_id: str, number: int
) -> tuple[bytes, str, int]:
    """The page's image as scanned, read back through the store's hash check, with its turn to
    upright (degrees)."""
    page = visible_page(session, principal, dossier_id, number)
    return store.get(page.image_key), page.media_type, page.rotation or 0


def one_page_text(session: Session, principal: Principal, dossier_id: str, number: int) -> dict:
    """The OCR text of one page (the viewer shows it on request, page by page)."""
    page = visible_page(session, principal, dossier_id, number)
    return {
        "number": page.number,
        "text": page.text,
        "mean_confidence": page.mean_confidence,
        "lines": list(page.lines),
    }


def page_text(session: Session, principal: Principal, dossier_id: str) -> list[dict]:
    dossier = load_visible(session, principal, dossier_id, with_pages=True)
    return [
        {"number": p.number, "text": p.text, "mean_confidence": p.mean_confidence, "lines": list(p.lines)}
        for p in dossier.pages
    ]


def searchable_pdf(session: Session, store: ObjectStore, principal: Principal, dossier_id: str) -> tuple[bytes, str]:
    """The dossier's searchable PDF and a download name (its archive number, else its id)."""
    require(principal, Perm.DOSSIER_DOWNLOAD)
    dossier = load_visible(session, principal, dossier_id)
    if not dossier.searchable_pdf_key:
        raise NotFound("pdf_not_found", "该案卷没有可检索 PDF")
    return store.get(dossier.searchable_pdf_key), f"{download_stem(dossier)}.pdf"


def download_stem(dossier: Dossier) -> str:
    """A file name stem for a download: the archive number made file-safe, else the id."""
    return re.sub(r"[^0-9A-Za-z._-]+", "_", dossier.archive_number or "") or dossier.id


def page_download(
    session: Session, store: ObjectStore, principal: Principal, dossier_id: str, number: int
) -> tuple[bytes, str, int, str]:
    """A page image to download: (bytes as scanned, media type, its turn to upright, file stem).
    The caller logs the download with its reason and watermarks the copy it serves."""
    require(principal, Perm.DOSSIER_DOWNLOAD)
    page = visible_page(session, principal, dossier_id, number)
    dossier = session.get(Dossier, dossier_id)
    assert dossier is not None  # visible_page found the page through it
    return store.get(page.image_key), page.media_type, page.rotation or 0, download_stem(dossier)


def lookup_records(
    session: Session,
    principal: Principal,
    *,
    person_id_number: str | None = None,
    unit_uscc: str | None = None,
    business_number: str | None = None,
    unit_name: str | None = None,
    limit: int = 100,
) -> list[Dossier]:
    """Dossiers linked to one case record: a person, a unit (by code or part of its name) or a
    business number."""
    require(principal, Perm.RECORD_LOOKUP)
    given = [v for v in (person_id_number, unit_uscc, business_number, unit_name) if v]
    if len(given) != 1:
        raise Invalid("one_key_required", "请只提供一项：公民身份号码、统一社会信用代码、单位名称或业务编号")
    if person_id_number and not re.fullmatch(r"[0-9]{17}[0-9Xx]", person_id_number):
        raise Invalid("invalid_id_number", "公民身份号码应为 18 位（最后一位可为 X）")
    if unit_uscc and not re.fullmatch(r"[0-9A-Za-z]{18}", unit_uscc):
        raise Invalid("invalid_uscc", "统一社会信用代码应为 18 位字母或数字")
    if unit_name is not None and not 2 <= len(unit_name.strip()) <= 100:
        raise Invalid("invalid_unit_name", "单位名称请输入 2 到 100 个字")
    flt = DossierFilter(
        person_id_number=person_id_number,
        unit_uscc=unit_uscc,
        business_number=business_number,
        unit_name=unit_name.strip() if unit_name else None,
    )
    rows, _ = list_dossiers(session, principal, flt, None, limit)
    return rows
