"""What every check function receives: one chunk of dossiers, their objects, and shared, memoised reads.

A check reads only through the context, so an object is fetched at most once per run for the
questions several checks ask of it (a searchable PDF's page count and its text layer), and the
runner knows which objects were read (they get a ``fixity_checks`` row) and which already failed
(later checks skip them instead of reporting one fault several times).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from pypdf import PdfReader

from archive.integrity.protection import Protection, protection
from archive.integrity.snapshot import DossierSnapshot, ObjectKind, ObjectRef
from archive.storage.base import ObjectStore, StoreError
from archive.taxonomy import Taxonomy


@dataclass(frozen=True)
class PdfInfo:
    """A searchable PDF as pypdf reads it: page count and the text of each page, or why it cannot."""

    pages: int | None
    texts: tuple[str, ...] | None
    code: str | None = None
    detail: str = ""


@dataclass
class CheckContext:
    store: ObjectStore
    taxonomy: Taxonomy
    now: datetime
    dossiers: list[DossierSnapshot]
    objects: list[ObjectRef]
    due: set[str]  # keys whose bytes this run reads
    max_image_pixels: int = 120_000_000
    workers: int = 4  # threads re-hashing objects (reads overlap; hashlib releases the GIL)
    failed: dict[str, str] = field(default_factory=dict)  # key -> first failure code (this run)
    read: dict[str, str | None] = field(default_factory=dict)  # key -> digest found (None: not verified)
    bytes_verified: int = 0
    _protection: dict[str, Protection | StoreError] = field(default_factory=dict)
    _pdf: dict[str, PdfInfo] = field(default_factory=dict)
    _by_id: dict[str, DossierSnapshot] = field(default_factory=dict)

    @property
    def today(self) -> date:
        return self.now.date()

    def dossier(self, dossier_id: str) -> DossierSnapshot:
        if not self._by_id:
            self._by_id.update((d.id, d) for d in self.dossiers)
        return self._by_id[dossier_id]

    def due_objects(self, *kinds: ObjectKind) -> Iterator[ObjectRef]:
        """The due objects of these kinds (every kind when none is named), in record order."""
        for obj in self.objects:
            if obj.key in self.due and (not kinds or obj.kind in kinds):
                yield obj

    def mark_read(self, key: str, sha256: str | None = None, size: int = 0) -> None:
        if key not in self.read or sha256 is not None:
            self.read[key] = sha256
        self.bytes_verified += size

    def protection(self, key: str) -> Protection:
        """The object's protection (memoised; a metadata request, never a read of the body)."""
        if key not in self._protection:
            try:
                self._protection[key] = protection(self.store, key, self.now)
            except StoreError as exc:
                self._protection[key] = exc
        found = self._protection[key]
        if isinstance(found, StoreError):
            raise found
        return found

    def pdf(self, key: str) -> PdfInfo:
        """The PDF read once through the store's hash-checked ``get``, then parsed by pypdf."""
        if key in self._pdf:
            return self._pdf[key]
        try:
            data = self.store.get(key)
        except StoreError as exc:
            info = PdfInfo(None, None, exc.code, f"无法读取：{exc}")
        else:
            self.mark_read(key)
            try:
                reader = PdfReader(io.BytesIO(data))
                texts = tuple(page.extract_text() or "" for page in reader.pages)
                info = PdfInfo(len(texts), texts)
            except Exception as exc:  # pypdf raises many types on damaged files
                info = PdfInfo(None, None, "pdf_unreadable", f"pypdf 无法打开或解析：{exc.__class__.__name__}: {exc}")
        self._pdf[key] = info
        return info
