"""Draining the search outbox into the index, re-indexing everything, and checking for drift.

Ingest and review only queue dossiers (``outbox.enqueue``, in their own transaction); the commit
hook installed by ``open_runtime`` then calls ``Indexer.drain``.  A failed drain (index locked by
another process, cluster down) leaves the rows queued, so the next drain, ``archive search
reindex`` or the API's periodic drain catches up: nothing is silently left out of the index.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from archive.records.models import Dossier, Page, utcnow
from search import SearchIndex
from search.text import normalize

from . import outbox
from .documents import NOT_INDEXED, every_page, load_dossiers, page_docs

log = logging.getLogger("archive.search")

# Clocks of the processes writing ``updated_at`` may differ this much.
_CLOCK_SLACK = timedelta(minutes=5)

# Fields compared, page by page, between the records and the index by ``check``.
_COMPARED = ("office", "status", "business_type", "archive_number")


@dataclass
class DriftReport:
    backend: str
    record_dossiers: int
    index_dossiers: int
    record_pages: int
    index_pages: int
    pending: int
    missing: list[str] = field(default_factory=list)  # in the records, not in the index
    extra: list[str] = field(default_factory=list)  # in the index, not in the records
    sampled: int = 0
    mismatched: list[dict[str, str]] = field(default_factory=list)
    advice: str | None = None  # a maintenance recommendation; not drift

    @property
    def ok(self) -> bool:
        counts_agree = self.pending > 0 or self.record_pages == self.index_pages
        return counts_agree and not self.missing and not self.extra and not self.mismatched

    def to_json(self) -> dict:
        return {**asdict(self), "ok": self.ok}


class Indexer:
    """Moves queued dossiers into ``index``; one drain at a time per process."""

    def __init__(self, sessions: sessionmaker[Session], index: SearchIndex, batch: int = 50) -> None:
        self.sessions = sessions
        self.index = index
        self.batch = batch
        self._lock = threading.Lock()

    def drain(self) -> int:
        """Index every queued dossier; returns how many were (re-)indexed or removed."""
        with self._lock:
            done = 0
            while True:
                with self.sessions() as session:
                    work = outbox.due(session, self.batch)
                if not work:
                    return done
                self._apply([dossier_id for dossier_id, _ in work])
                with self.sessions.begin() as session:
                    outbox.settle(session, work)
                done += len(work)

    def _apply(self, ids: list[str]) -> None:
        """Write the dossiers' current pages to the index (a dossier gone from the records leaves it)."""
        with self.sessions() as session:
            docs = {dossier_id: page_docs(dossier) for dossier_id, dossier in load_dossiers(session, ids).items()}
        for dossier_id in ids:
            if dossier_id in docs:
                self.index.replace_dossier(dossier_id, docs[dossier_id])
            else:
                self.index.delete_dossier(dossier_id)
        self.index.commit()

    def drain_quietly(self, attempts: int = 4) -> int:
        """``drain``, retried briefly (another process may hold the index for a moment); a failure
        is logged and the work stays queued."""
        for attempt in range(attempts):
            try:
                return self.drain()
            except Exception as exc:  # noqa: BLE001 — the change is committed; indexing catches up later
                if attempt == attempts - 1:
                    log.warning("search_index_behind", extra={"error": f"{type(exc).__name__}: {exc}"})
                    return 0
                time.sleep(0.2 * 2**attempt)
        return 0

    def on_commit(self, session: Session) -> None:
        """SQLAlchemy ``after_commit`` hook: drain when the committed transaction queued work."""
        if session.info.pop(outbox.DIRTY, False):
            self.drain_quietly()

    def reindex(self, progress: Callable[[int], None] | None = None) -> int:
        """Rebuild the whole index from the records; searches keep answering from the old one until
        the new one is complete.  Returns the number of pages indexed."""
        with self._lock:
            started = utcnow() - _CLOCK_SLACK
            with self.sessions() as session:
                queued = outbox.due(session, 10**9)

            def docs():
                for n, doc in enumerate(every_page(self.sessions), start=1):
                    if progress is not None:
                        progress(n)
                    yield doc

            count = self.index.rebuild(docs())
            # Another process may have indexed a change into the old index while this one was being
            # built: index again every dossier changed since the rebuild started.
            with self.sessions() as session:
                changed = list(session.scalars(select(Dossier.id).where(Dossier.updated_at >= started)))
            for start in range(0, len(changed), self.batch):
                self._apply(changed[start : start + self.batch])
            with self.sessions.begin() as session:  # what was queued before the rebuild is in it now
                outbox.settle(session, queued)
            return count

    def check(self, backend: str, sample: int = 50, seed: int | None = None) -> DriftReport:
        """Compare the index with the records: page counts, dossier ids, and ``sample`` dossiers
        page by page (fields and normalised text).  Dossiers still queued are not counted as drift."""
        with self.sessions() as session:
            indexed = Dossier.status.not_in(sorted(NOT_INDEXED))
            record_ids = set(session.scalars(select(Dossier.id).where(indexed)))
            record_pages = (
                session.scalar(
                    select(func.count()).select_from(Page).join(Dossier, Dossier.id == Page.dossier_id).where(indexed)
                )
                or 0
            )
            pending = {dossier_id for dossier_id, _ in outbox.due(session, 10**9)}
        index_ids = set(self.index.dossier_ids())
        report = DriftReport(
            backend=backend,
            record_dossiers=len(record_ids),
            index_dossiers=len(index_ids),
            record_pages=record_pages,
            index_pages=self.index.count(),
            pending=len(pending),
            missing=sorted(record_ids - index_ids - pending),
            extra=sorted(index_ids - record_ids - pending),
            advice=self.index.advice(),
        )
        candidates = sorted(record_ids & index_ids - pending)
        chosen = random.Random(seed).sample(candidates, min(sample, len(candidates)))
        report.sampled = len(chosen)
        with self.sessions() as session:
            found = load_dossiers(session, chosen)
            expected = {dossier_id: page_docs(dossier) for dossier_id, dossier in found.items()}
        for dossier_id in chosen:
            problem = _compare(expected.get(dossier_id, []), self.index.pages_of(dossier_id))
            if problem:
                report.mismatched.append({"dossier": dossier_id, "problem": problem})
        return report


def _compare(expected: list, indexed: list) -> str | None:
    want = {d.page: d for d in expected}
    have = {d.page: d for d in indexed}
    if sorted(want) != sorted(have):
        return f"页码不一致：记录 {sorted(want)}，索引 {sorted(have)}"
    for number, doc in want.items():
        got = have[number]
        for name in _COMPARED:
            if getattr(doc, name) != getattr(got, name):
                return f"第 {number} 页 {name} 不一致：记录 {getattr(doc, name)!r}，索引 {getattr(got, name)!r}"
        if normalize(doc.text) != got.text:
            return f"第 {number} 页文本与记录不一致"
    return None
