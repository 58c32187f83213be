"""The records the checks read, loaded once per chunk of dossiers as plain frozen dataclasses.

Only the columns the checks need are selected (never page text or OCR lines), so a chunk of a few
hundred dossiers stays small whatever the size of the archive.  ``objects_of`` turns the snapshots
into the list of stored objects they reference, each with the digest the records expect.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.records.models import Document, Dossier, Original, Page
from archive.storage.base import content_digest

ObjectKind = Literal["original", "page_image", "ocr_result", "searchable_pdf"]
KIND_LABELS: dict[ObjectKind, str] = {
    "original": "原件",
    "page_image": "页面图像",
    "ocr_result": "识别结果",
    "searchable_pdf": "双层 PDF",
}


@dataclass(frozen=True)
class PageSnapshot:
    number: int
    image_key: str
    image_sha256: str
    media_type: str
    ocr_key: str
    has_text: bool


@dataclass(frozen=True)
class DocumentSnapshot:
    seq: int
    title: str
    start_page: int
    end_page: int
    responsible: str | None
    date: date | None


@dataclass(frozen=True)
class DossierSnapshot:
    id: str
    status: str
    archive_number: str | None
    title: str | None
    office: str
    business_type: str | None
    retention: str | None
    business_number: str | None
    date_start: date | None
    date_end: date | None
    page_count: int
    searchable_pdf_key: str | None
    original_key: str
    original_sha256: str
    original_size: int
    pages: tuple[PageSnapshot, ...]
    documents: tuple[DocumentSnapshot, ...]
    # what the retention period is counted from (archive.retention.period)
    created_at: datetime | None = None
    reviewed_at: datetime | None = None
    retention_extended_until: date | None = None

    @property
    def archived(self) -> bool:
        return self.status == "archived"


@dataclass(frozen=True)
class ObjectRef:
    """A stored object the records reference, with what they say it must hash to."""

    key: str
    kind: ObjectKind
    sha256: str | None  # expected digest (from the records, or the content-addressed key); None: unknown
    size: int | None  # expected size, where recorded (originals)
    media_type: str | None
    dossiers: tuple[str, ...]


def dossier_ids(session: Session) -> list[str]:
    """Every dossier whose objects the archive keeps (a destroyed dossier's are gone by design)."""
    return list(session.scalars(select(Dossier.id).where(Dossier.status != "destroyed").order_by(Dossier.id)))


def load_snapshots(session: Session, ids: Sequence[str]) -> list[DossierSnapshot]:
    """The dossiers ``ids`` (in that order) with their original, pages and catalogue entries."""
    pages: dict[str, list[PageSnapshot]] = {i: [] for i in ids}
    for row in session.execute(
        select(
            Page.dossier_id,
            Page.number,
            Page.image_key,
            Page.image_sha256,
            Page.media_type,
            Page.ocr_key,
            func.length(Page.text) > 0,
        )
        .where(Page.dossier_id.in_(ids))
        .order_by(Page.dossier_id, Page.number)
    ):
        pages[row[0]].append(PageSnapshot(row[1], row[2], row[3], row[4], row[5], bool(row[6])))
    documents: dict[str, list[DocumentSnapshot]] = {i: [] for i in ids}
    for row in session.execute(
        select(
            Document.dossier_id,
            Document.seq,
            Document.title,
            Document.start_page,
            Document.end_page,
            Document.responsible,
            Document.date,
        )
        .where(Document.dossier_id.in_(ids))
        .order_by(Document.dossier_id, Document.seq)
    ):
        documents[row[0]].append(DocumentSnapshot(*row[1:]))
    found: dict[str, DossierSnapshot] = {}
    for d, o in session.execute(
        select(Dossier, Original).join(Original, Original.id == Dossier.original_id).where(Dossier.id.in_(ids))
    ):
        found[d.id] = DossierSnapshot(
            id=d.id,
            status=d.status,
            archive_number=d.archive_number,
            title=d.title,
            office=d.office,
            business_type=d.business_type,
            retention=d.retention,
            business_number=d.business_number,
            date_start=d.date_start,
            date_end=d.date_end,
            page_count=d.page_count,
            searchable_pdf_key=d.searchable_pdf_key,
            original_key=o.object_key,
            original_sha256=o.sha256,
            original_size=o.size,
            pages=tuple(pages[d.id]),
            documents=tuple(documents[d.id]),
            created_at=d.created_at,
            reviewed_at=d.reviewed_at,
            retention_extended_until=d.retention_extended_until,
        )
    return [found[i] for i in ids if i in found]


def objects_of(dossiers: Iterable[DossierSnapshot]) -> list[ObjectRef]:
    """Every object the dossiers reference, once per key (a key shared by dossiers names them all)."""
    seen: dict[str, tuple[ObjectKind, str | None, int | None, str | None]] = {}
    owners: dict[str, list[str]] = {}

    def add(key: str, kind: ObjectKind, sha: str | None, size: int | None, media: str | None, dossier: str) -> None:
        if key not in seen:
            seen[key] = (kind, sha, size, media)
            owners[key] = []
        if dossier not in owners[key]:
            owners[key].append(dossier)

    for d in dossiers:
        add(d.original_key, "original", d.original_sha256, d.original_size, None, d.id)
        for p in d.pages:
            add(p.image_key, "page_image", p.image_sha256, None, p.media_type, d.id)
            add(p.ocr_key, "ocr_result", content_digest(p.ocr_key), None, "application/json", d.id)
        if d.searchable_pdf_key:
            add(
                d.searchable_pdf_key,
                "searchable_pdf",
                content_digest(d.searchable_pdf_key),
                None,
                "application/pdf",
                d.id,
            )
    return [ObjectRef(key, *seen[key], dossiers=tuple(owners[key])) for key in seen]
