"""Carrying out an approved destruction: the records' content cleared, then the objects deleted.

``mark_destroyed`` runs in the approval's transaction, after the register is stored: the dossier
becomes ``destroyed``, its page texts, OCR lines, person and unit fields, identifiers and extracted
record are emptied (the register is what remains), its training examples (page texts) are deleted, the OCR
cache forgets results that will be deleted, and the dossier is queued so search drops it.
``plan`` records one ``DisposalObject`` per object the register lists.

``destroy_objects`` runs after that commit: for each object not finished yet it asks again whether a
dossier that is not destroyed references it (kept: ``shared``), else ``store.dispose(key)``: deleted,
already ``gone``, or ``pending`` while the store's own lock still holds it (``RetentionActive``: a store
clock behind ours) or the store fails.  ``purge`` retries every unfinished object later.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from archive.disposition import status as st
from archive.disposition.register import DELETE, RegisterDocument
from archive.disposition.scope import office_clause
from archive.disposition.sharing import other_references
from archive.indexing import outbox
from archive.records.models import (
    DestructionRegister,
    DisposalObject,
    Dossier,
    DossierEvent,
    OcrResult,
    Page,
    TrainingExample,
)
from archive.storage.base import ObjectStore, RetentionActive, StoreError

CHUNK = 100


def mark_destroyed(session: Session, dossier: Dossier, actor: str, now: datetime, register_id: str) -> None:
    """Clear the dossier's content in the records and mark it destroyed (the caller's transaction)."""
    session.execute(update(Page).where(Page.dossier_id == dossier.id).values(text="", lines=[]))
    session.execute(
        delete(TrainingExample).where(TrainingExample.dossier_id == dossier.id)
    )  # its text, kept to learn from
    dossier.status = st.DESTROYED
    dossier.person_name = None
    dossier.person_id_number = None
    dossier.unit_name = None
    dossier.unit_uscc = None
    dossier.identifiers = {}
    dossier.record = {}
    dossier.problems = []
    session.add(
        DossierEvent(dossier_id=dossier.id, at=now, actor=actor, action="destroyed", detail={"register": register_id})
    )
    outbox.enqueue(session, dossier.id)  # the index drops a dossier that is no longer searchable


def plan(session: Session, register_id: str, document: RegisterDocument) -> list[DisposalObject]:
    """One row per object the register lists: planned for deletion, or kept as shared."""
    rows = []
    for key, (obj, dossier_ids) in document.objects().items():
        shared = obj.action != DELETE
        rows.append(
            DisposalObject(
                register_id=register_id,
                object_key=key,
                kind=obj.kind,
                sha256=obj.sha256,
                dossier_ids=dossier_ids,
                outcome=st.SHARED if shared else st.PLANNED,
                detail=_shared_detail(obj.shared_with) if shared else "",
                attempts=0,
            )
        )
    session.add_all(rows)
    planned = [r.object_key for r in rows if r.outcome == st.PLANNED]
    for start in range(0, len(planned), 500):  # a later ingest of the same image must OCR it afresh
        session.execute(delete(OcrResult).where(OcrResult.ocr_key.in_(planned[start : start + 500])))
    return rows


def _shared_detail(labels: Iterable[str]) -> str:
    return f"与 {'、'.join(labels)} 共用，保留"


@dataclass(frozen=True)
class ObjectOutcome:
    key: str
    kind: str
    outcome: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "outcome": self.outcome, "detail": self.detail}


@dataclass
class DisposalReport:
    """What one run did to a register's unfinished objects, and where the register stands after."""

    register_id: str
    tried: list[ObjectOutcome] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)  # outcome -> objects, all of the register

    @property
    def finished(self) -> bool:
        return not any(self.totals.get(o, 0) for o in st.UNFINISHED)

    def to_json(self) -> dict[str, Any]:
        return {
            "register": self.register_id,
            "finished": self.finished,
            "totals": self.totals,
            "tried": [o.to_json() for o in self.tried],
        }


def _dispose(store: ObjectStore, key: str) -> tuple[str, str]:
    try:
        return (st.DELETED, "") if store.dispose(key) else (st.GONE, "对象已不在存储中")
    except RetentionActive as exc:
        return st.PENDING, str(exc) or "对象仍受存储保留期限或法律保留保护"
    except StoreError as exc:
        return st.PENDING, f"[{exc.code}] {exc}"
    except OSError as exc:
        return st.PENDING, f"[store_error] {exc}"


def totals(session: Session, register_id: str) -> dict[str, int]:
    rows = session.scalars(select(DisposalObject.outcome).where(DisposalObject.register_id == register_id))
    return dict(Counter(rows))


def destroy_objects(
    store: ObjectStore, sessions: sessionmaker[Session], register_id: str, now: datetime
) -> DisposalReport:
    """Delete the register's unfinished objects where nothing else uses them and the store allows it."""
    report = DisposalReport(register_id)
    with sessions() as session:
        ids = list(
            session.scalars(
                select(DisposalObject.id)
                .where(DisposalObject.register_id == register_id, DisposalObject.outcome.in_(st.UNFINISHED))
                .order_by(DisposalObject.object_key)
            )
        )
    for start in range(0, len(ids), CHUNK):
        with sessions.begin() as session:
            rows = list(
                session.scalars(select(DisposalObject).where(DisposalObject.id.in_(ids[start : start + CHUNK])))
            )
            destroyed = {d for r in rows for d in r.dossier_ids}
            shared = other_references(session, [r.object_key for r in rows], destroyed)
            for row in sorted(rows, key=lambda r: r.object_key):
                if row.outcome not in st.UNFINISHED:  # another purge finished it meanwhile
                    continue
                if row.object_key in shared:
                    outcome, detail = st.SHARED, _shared_detail(shared[row.object_key])
                else:
                    outcome, detail = _dispose(store, row.object_key)
                row.outcome, row.detail = outcome, detail
                row.attempts += 1
                row.last_attempt_at = now
                report.tried.append(ObjectOutcome(row.object_key, row.kind, outcome, detail))
    with sessions() as session:
        report.totals = totals(session, register_id)
    return report


def unfinished_registers(session: Session, office: str | None = None) -> list[str]:
    """Registers of ``office`` (None: every office) with objects planned or pending, oldest first."""
    query = (
        select(DestructionRegister.id)
        .where(
            office_clause(DestructionRegister.office, office),
            DestructionRegister.id.in_(
                select(DisposalObject.register_id).where(DisposalObject.outcome.in_(st.UNFINISHED))
            ),
        )
        .order_by(DestructionRegister.created_at, DestructionRegister.id)
    )
    return list(session.scalars(query))


def purge(
    store: ObjectStore, sessions: sessionmaker[Session], now: datetime, office: str | None = None
) -> list[DisposalReport]:
    """Retry every unfinished object of every register in scope (``archive disposition purge``)."""
    with sessions() as session:
        registers: Sequence[str] = unfinished_registers(session, office)
    return [destroy_objects(store, sessions, register_id, now) for register_id in registers]
