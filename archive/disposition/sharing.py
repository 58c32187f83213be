"""Which stored objects are still referenced by dossiers that are not being destroyed.

An original is shared by every dossier split from one scanned file; page images, OCR results and
searchable PDFs are content-addressed, so two dossiers may reference the same object.  Such an object
stays while any dossier that is neither being destroyed nor already destroyed references it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.disposition.status import DESTROYED
from archive.records.models import Dossier, Original, Page

CHUNK = 500


def other_references(session: Session, keys: Sequence[str], excluding: Collection[str]) -> dict[str, list[str]]:
    """key -> the 档号 (or id, when a dossier has none) of every dossier outside ``excluding``, and not
    destroyed, that references it; keys nobody else references are absent."""
    found: dict[str, set[str]] = {}
    excluded = set(excluding)
    for start in range(0, len(keys), CHUNK):
        chunk = list(keys[start : start + CHUNK])
        label = (Dossier.id, Dossier.archive_number)
        live = Dossier.status != DESTROYED
        queries = (
            select(Original.object_key, *label).join(Dossier, Dossier.original_id == Original.id),
            select(Page.image_key, *label).join(Dossier, Dossier.id == Page.dossier_id),
            select(Page.ocr_key, *label).join(Dossier, Dossier.id == Page.dossier_id),
            select(Dossier.searchable_pdf_key, *label),
        )
        columns = (Original.object_key, Page.image_key, Page.ocr_key, Dossier.searchable_pdf_key)
        for query, column in zip(queries, columns, strict=True):
            for key, dossier_id, number in session.execute(query.where(column.in_(chunk), live)):
                if dossier_id not in excluded:
                    found.setdefault(key, set()).add(number or dossier_id)
    return {key: sorted(labels) for key, labels in found.items()}
