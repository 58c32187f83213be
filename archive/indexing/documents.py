"""Search documents built from the records: one ``PageDoc`` per page, carrying its dossier's fields."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from archive.records.models import Dossier
from search import PageDoc

# Dossiers in these statuses are kept out of the index: a destroyed dossier's content is gone
# (archive.disposition), so re-indexing it removes every page it had.
NOT_INDEXED: frozenset[str] = frozenset({"destroyed"})


def page_docs(dossier: Dossier) -> list[PageDoc]:
    """The dossier's pages as search documents; none for a dossier that is not indexed."""
    if dossier.status in NOT_INDEXED:
        return []
    return [
        PageDoc(
            dossier_id=dossier.id,
            page=page.number,
            text=page.text or "",
            archive_number=dossier.archive_number or "",
            business_type=dossier.business_type or "",
            category=dossier.category or "",
            office=dossier.office,
            status=dossier.status,
            retention=dossier.retention or "",
            date_start=dossier.date_start,
            date_end=dossier.date_end,
            person_id_number=dossier.person_id_number or "",
            person_name=dossier.person_name or "",
            unit_uscc=dossier.unit_uscc or "",
            unit_name=dossier.unit_name or "",
            business_number=dossier.business_number or "",
        )
        for page in dossier.pages
    ]


def load_dossiers(session: Session, ids: Iterable[str]) -> dict[str, Dossier]:
    """The named dossiers with their pages; ids that no longer exist are absent."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.scalars(select(Dossier).where(Dossier.id.in_(wanted)).options(selectinload(Dossier.pages)))
    return {d.id: d for d in rows}


def every_page(sessions: sessionmaker[Session], chunk: int = 200) -> Iterator[PageDoc]:
    """Every page of every dossier, read in keyset-paged chunks so memory stays flat."""
    after = ""
    while True:
        with sessions() as session:
            rows = session.scalars(
                select(Dossier)
                .where(Dossier.id > after)
                .order_by(Dossier.id)
                .limit(chunk)
                .options(selectinload(Dossier.pages))
            ).all()
            docs = [doc for dossier in rows for doc in page_docs(dossier)]
        if not rows:
            return
        after = rows[-1].id
        yield from docs
