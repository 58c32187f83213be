"""The search outbox (table ``search_pending``): dossiers whose index entry is behind the records.

``enqueue`` runs inside the transaction that changes a dossier, so the change and the promise to
index it commit together; a row leaves only when the index has committed that very generation.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from archive.records.models import SearchPending, utcnow

# Set on a session that queued work, so the commit hook knows to drain.
DIRTY = "search_pending"


def enqueue(session: Session, dossier_id: str) -> None:
    """Queue the dossier for (re-)indexing; a second change before indexing bumps the generation."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(SearchPending).values(dossier_id=dossier_id, generation=1, queued_at=utcnow())
    stmt = stmt.on_conflict_do_update(
        index_elements=[SearchPending.dossier_id],
        set_={"generation": SearchPending.generation + 1, "queued_at": stmt.excluded.queued_at},
    )
    session.execute(stmt)
    session.info[DIRTY] = True


def due(session: Session, limit: int) -> list[tuple[str, int]]:
    """The oldest queued (dossier_id, generation) pairs."""
    rows = session.execute(
        select(SearchPending.dossier_id, SearchPending.generation)
        .order_by(SearchPending.queued_at, SearchPending.dossier_id)
        .limit(limit)
    )
    return [(r.dossier_id, r.generation) for r in rows]


def settle(session: Session, done: list[tuple[str, int]]) -> None:
    """Forget what the index now holds; a row re-queued meanwhile (higher generation) stays."""
    for dossier_id, generation in done:
        session.execute(
            delete(SearchPending).where(SearchPending.dossier_id == dossier_id, SearchPending.generation == generation)
        )


def backlog(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(SearchPending)) or 0
