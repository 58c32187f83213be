"""Fixity: re-hashing stored objects, and the ``fixity_checks`` record of when each was last verified.

An object is *due* when it has never been verified, when its last verification failed, or when it
was last verified more than ``due_days`` ago (``due_days <= 0``: everything is due).  Only due
objects are read; the rest of a run works from the records and from metadata requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.records.models import FixityCheck, as_utc
from archive.storage.base import IntegrityError, ObjectNotFound, ObjectStore, StoreError

_IN_CHUNK = 500  # keys per IN (...) query: far below every driver's parameter limit


@dataclass(frozen=True)
class Verified:
    """The outcome of re-hashing one object; ``code`` is None when it matched."""

    key: str
    size: int
    sha256: str | None  # the digest the store recorded (and the body matched), when it did
    code: str | None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.code is None


@dataclass(frozen=True)
class FixityRecord:
    key: str
    ok: bool
    code: str | None
    sha256: str | None


def verify_object(store: ObjectStore, key: str, sha256: str | None, size: int | None) -> Verified:
    """Re-hash ``key`` against the digest the store recorded, and that against the records' ``sha256``.

    Codes: ``object_missing``, ``digest_mismatch`` (the store's recorded digest is not the one the
    records hold), ``size_mismatch``, ``object_corrupt`` (the body no longer hashes to its digest), or
    the store's own error code (e.g. ``store_unavailable``).
    """
    try:
        info = store.stat(key)
        if sha256 is not None and info.sha256 != sha256:
            return Verified(
                key,
                info.size,
                None,
                "digest_mismatch",
                f"存储记录的 SHA-256 {info.sha256[:12]}… 与档案记录 {sha256[:12]}… 不符",
            )
        if size is not None and info.size != size:
            return Verified(
                key, info.size, None, "size_mismatch", f"对象大小 {info.size} 字节与档案记录 {size} 字节不符"
            )
        if not store.verify(key):
            return Verified(
                key, info.size, None, "object_corrupt", "对象内容与记录的 SHA-256 不符（数据已损坏或被篡改）"
            )
    except ObjectNotFound:
        return Verified(key, 0, None, "object_missing", "对象不存在")
    except IntegrityError as exc:
        return Verified(key, 0, None, exc.code, str(exc))
    except StoreError as exc:
        return Verified(key, 0, None, exc.code, f"无法核验：{exc}")
    return Verified(key, info.size, info.sha256, None)


def _chunks(items: Sequence[str], size: int = _IN_CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def due_keys(session: Session, keys: Sequence[str], due_days: float, now: datetime) -> set[str]:
    """The keys among ``keys`` that must be read in this run."""
    if due_days <= 0:
        return set(keys)
    cutoff = now - timedelta(days=due_days)
    fresh: set[str] = set()
    for part in _chunks(list(keys)):
        for key, checked_at, ok in session.execute(
            select(FixityCheck.object_key, FixityCheck.checked_at, FixityCheck.ok).where(
                FixityCheck.object_key.in_(part)
            )
        ):
            if ok and as_utc(checked_at) >= cutoff:
                fresh.add(key)
    return set(keys) - fresh


def record(session: Session, results: Sequence[FixityRecord], now: datetime) -> None:
    """Replace each key's row with this run's outcome (an upsert on SQLite and PostgreSQL)."""
    if not results:
        return
    rows = [{"object_key": r.key, "checked_at": now, "ok": r.ok, "code": r.code, "sha256": r.sha256} for r in results]
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        for start in range(0, len(rows), _IN_CHUNK):
            stmt = insert(FixityCheck).values(rows[start : start + _IN_CHUNK])
            stmt = stmt.on_conflict_do_update(
                index_elements=[FixityCheck.object_key],
                set_={name: stmt.excluded[name] for name in ("checked_at", "ok", "code", "sha256")},
            )
            session.execute(stmt)
        return
    for row in rows:  # any other database: one merge per row
        session.merge(FixityCheck(**row))
