"""The backends a command works with, built from the settings: database, object store, search index."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from archive.indexing.backend import open_search
from archive.indexing.sync import Indexer
from archive.records.db import make_engine, migrate, session_factory
from archive.retention.holds import HoldKeeper
from archive.settings import Settings
from archive.storage.base import ObjectStore
from archive.storage.factory import open_store
from archive.storage.filesystem import FilesystemStore
from archive.storage.replica import ReplicatedStore
from search import SearchIndex


@dataclass
class Runtime:
    settings: Settings
    store: ObjectStore
    db: Engine
    sessions: sessionmaker[Session]
    search: SearchIndex
    indexer: Indexer
    holds: HoldKeeper

    index_on_commit: bool = True

    def close(self) -> None:
        if self.index_on_commit:
            event.remove(self.sessions, "after_commit", self.indexer.on_commit)
        event.remove(self.sessions, "after_commit", self.holds.on_commit)
        self.search.close()
        self.db.dispose()


def _sweep(settings: Settings, store: FilesystemStore | ReplicatedStore, older_than_s: float = 3600.0) -> None:
    """Temporary files of processes killed long ago: store writes and searchable-PDF drafts."""
    store.sweep_temporary(older_than_s)
    cutoff = time.time() - older_than_s
    for path in settings.home.glob("tmp*.pdf"):
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                path.unlink()


def open_runtime(settings: Settings, index_on_commit: bool = True) -> Runtime:
    """Open (and migrate) the database and the object store the settings name.  ``index_on_commit``
    false: queued dossiers wait for an explicit drain (a Celery worker's indexing task)."""
    settings.home.mkdir(parents=True, exist_ok=True)
    db = make_engine(settings.db_url)
    migrate(db)
    store = open_store(settings)
    if isinstance(store, FilesystemStore | ReplicatedStore):  # a replicated store sweeps its filesystem side(s)
        _sweep(settings, store)
    sessions = session_factory(db)
    search = open_search(settings)
    indexer = Indexer(sessions, search)
    # A transaction that queued dossiers for search (ingest, review) drains the queue once committed.
    if index_on_commit:
        event.listen(sessions, "after_commit", indexer.on_commit)
    # A transaction that archived dossiers (ingest, approval) has their objects held once committed.
    holds = HoldKeeper(sessions, store)
    event.listen(sessions, "after_commit", holds.on_commit)
    return Runtime(
        settings=settings,
        store=store,
        db=db,
        sessions=sessions,
        search=search,
        indexer=indexer,
        holds=holds,
        index_on_commit=index_on_commit,
    )
