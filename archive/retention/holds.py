"""Store holds for archived dossiers: every object a dossier references (original, page images, OCR
results, searchable PDF) is retained until the dossier's period ends, or legal-held for 永久
(``archive.retention.period.required_hold``).

Holds are set right after the transaction that archives a dossier commits (``mark`` in that transaction,
``HoldKeeper.on_commit`` after it), and recorded on the dossier (``Dossier.hold_applied``: the day the
retention runs to, or ``legal_hold``).  A store that cannot be reached then fails nothing: the dossier keeps
``hold_applied`` empty, ``archive retention apply`` catches up, and the integrity check's
``retention_set`` names every object still without its hold.  Holds only ever grow, so an object shared by
dossiers ends up with the longest of their periods.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from archive.integrity.snapshot import load_snapshots, objects_of
from archive.records.models import Dossier
from archive.retention.period import required_hold
from archive.storage.base import Hold, ObjectStore, StoreError

log = logging.getLogger(__name__)

PENDING = "holds_pending"  # session.info: ids of dossiers archived in this transaction
CHUNK = 200
LEGAL_HOLD = "legal_hold"


def mark(session: Session, dossier_id: str) -> None:
    """Hold the dossier's objects once this transaction commits (see ``HoldKeeper``)."""
    session.info.setdefault(PENDING, set()).add(dossier_id)


def marker(hold: Hold) -> str:
    """How a hold is recorded in ``Dossier.hold_applied``."""
    if hold.legal_hold or hold.retain_until is None:
        return LEGAL_HOLD
    return hold.retain_until.date().isoformat()


@dataclass(frozen=True)
class HoldFailure:
    dossier: str
    key: str
    code: str
    detail: str


@dataclass
class HoldReport:
    dossiers: int = 0  # dossiers whose every object now has its hold
    objects: int = 0  # retain requests that succeeded
    failed: list[HoldFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def apply_holds(store: ObjectStore, session: Session, dossier_ids: Sequence[str]) -> HoldReport:
    """Give every object of the archived dossiers among ``dossier_ids`` its hold; the caller commits."""
    report = HoldReport()
    for start in range(0, len(dossier_ids), CHUNK):
        chunk = list(dossier_ids[start : start + CHUNK])
        dossiers = list(session.scalars(select(Dossier).where(Dossier.id.in_(chunk), Dossier.status == "archived")))
        snapshots = {s.id: s for s in load_snapshots(session, [d.id for d in dossiers])}
        for dossier in dossiers:
            want = required_hold(dossier)
            failed = False
            for obj in objects_of([snapshots[dossier.id]]):
                try:
                    store.retain(obj.key, want.retain_until, legal_hold=want.legal_hold)
                except StoreError as exc:
                    failed = True
                    report.failed.append(HoldFailure(dossier.id, obj.key, exc.code, str(exc)))
                    continue
                report.objects += 1
            if not failed:
                dossier.hold_applied = marker(want)
                report.dossiers += 1
    return report


def due(session: Session, recheck: bool = False) -> Iterator[str]:
    """Archived dossiers whose objects lack their hold (never held, or held to a shorter period than they
    need now); with ``recheck`` every archived dossier (the store is asked again, not the records)."""
    query = select(Dossier).where(Dossier.status == "archived").order_by(Dossier.id)
    for dossier in session.scalars(query.execution_options(yield_per=1000)):
        if recheck or dossier.hold_applied != marker(required_hold(dossier)):
            yield dossier.id


class HoldKeeper:
    """The ``after_commit`` hook that holds what a transaction archived (never failing the caller)."""

    def __init__(self, sessions: sessionmaker[Session], store: ObjectStore) -> None:
        self.sessions = sessions
        self.store = store

    def on_commit(self, session: Session) -> None:
        ids = session.info.pop(PENDING, None)
        if not ids:
            return
        try:
            with self.sessions.begin() as inner:
                report = apply_holds(self.store, inner, sorted(ids))
        except Exception as exc:  # the archive decision stands; ``archive retention apply`` catches up
            log.error("holds_not_applied", extra={"dossiers": sorted(ids), "error": str(exc)})
            return
        for failure in report.failed:
            log.error("hold_not_applied", extra=asdict(failure))
