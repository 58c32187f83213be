"""The replica (双重备份): a second object store that receives every archived object.

``ReplicatedStore`` implements the object-store interface (``archive.storage.base``) over a *primary*
(the archive) and a *replica* (another bucket or endpoint, or a filesystem path), and passes the same
contract suite (``tests/contract/test_object_store.py``).

**Writes: primary, then replica, synchronously.**  ``put``/``put_file`` write the primary; its answer is
the answer, and its errors are the caller's errors.  Then, in the same call, the replica gets the same
object (for a filesystem primary, ``put_file`` copies the primary's own read-only body, not the caller's
file, so the replica cannot receive bytes other than the primary's).  Any failure of the replica (an
exception of any kind: unreachable, disk full, permissions, a refused write) is caught: the primary write
stands, a structured warning ``replica_write_owed`` (key, digest, size, reason, error code) is logged, and
for ``retry_after_s`` seconds further writes skip the replica (``reason: replica_unavailable``) instead of
each paying for a timeout.

Synchronous on purpose, by measurement (``scripts/bench/replica.py``: 6 dev dossiers, 31 pages, 74
objects, 2 OCR processes, a filesystem replica): with/without wall time 1.050 quiet (shared: 1.020, 0.979, 0.839:
this shared machine's noise is larger than the effect); the replica's writes took 1.3–1.6 % of the wall
time inside the runs; the same writes alone cost 10.8 ms per object (25.8 ms per page) more through this
store than through a plain filesystem store, at most 5.7 % of a page's 457 ms at the quiet-machine
ingest rate even if none of it overlapped the OCR workers (it mostly does: the pipeline thread waits on
fsync while the workers read the pages already queued).  The target is ≤ 10 %.  A background thread
would buy little and would add a queue to lose on a crash, to drain at exit, and to bound in memory
(originals up to 2 GiB).

**What is owed is not journaled: it is the difference between the two stores.**  The primary and the
replica are themselves durable; every object the replica lacks (or holds corrupt) is, by definition,
owed, and ``archive replicate`` (``archive.storage.resync.replicate``) finds exactly those by listing both
and checking every replica copy.  A journal would be a second record that can disagree with the stores:
a crash between the primary's commit and the journal append (or the replica write) would lose its entry
unless every put paid one more fsync, which is the cost this design avoids.  The scan cannot miss what a
crash left behind, needs no recovery of its own, and is idempotent.  The warnings in the structured log
say *that* the replica fell behind and when; the scan says *what* it lacks.

**Write-once across the pair.**  When the primary lacks a key but the replica holds it (the primary lost
an object), a put of a *different* body is refused with ``WriteOnceViolation``: the key is archived, its
bytes are in the replica, and ``archive restore`` is the way back.  The same body is simply written
(which restores the primary's copy).  A replica that is down at that moment is not asked.

**Reads: the primary, failing over to the replica only for a missing or corrupt object.**  ``get`` serves
the primary's verified bytes.  If the primary's object is missing, or fails its hash, the replica's copy
is served *if* it verifies against the replica's own record and, when the primary still records a
digest, against that too; this is logged at error level (``replica_read_fallback``) so that someone runs
``archive restore``.  Serving it is safe because the bytes are verified twice, and it is what a second
copy is for: a page a caseworker opens should not fail because one disk sector flipped.  The read does
*not* repair the primary: replacing an archived object is a deliberate, logged act (``archive restore``,
``repair`` on the stores), not a side effect of a read.  A primary that is unreachable is not failed
over: that outage must surface, not be hidden behind the replica.  ``stat`` and ``exists`` answer for the
pair (a key the primary lost but the replica holds exists, so writers do not mint another body for it);
``verify`` answers for the primary's copy (``False`` when only the replica holds it), since it is what
operators use to find damage; ``keys`` lists both.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archive.storage.base import (
    Hold,
    IntegrityError,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    StoreError,
    WriteOnceViolation,
    sha256_bytes,
    sha256_file,
    validate_key,
)
from archive.storage.filesystem import FilesystemStore

log = logging.getLogger(__name__)


class ReplicaUnavailable(StoreError):
    code = "replica_unavailable"


class ReplicaNotConfigured(StoreError):
    code = "replica_not_configured"


@dataclass
class ReplicaCounters:
    """What this process's store did with the replica (diagnostics; the bench reads ``seconds``)."""

    mirrored: int = 0
    owed: int = 0
    fallbacks: int = 0
    seconds: float = 0.0  # wall time spent in replica writes (and their write-once pre-check)


def _code(exc: BaseException) -> str:
    return getattr(exc, "code", None) or type(exc).__name__


class ReplicatedStore:
    """A primary object store mirrored, write by write, to a replica (see the module docstring)."""

    def __init__(
        self,
        primary: ObjectStore,
        replica: ObjectStore | None = None,
        *,
        open_replica: Callable[[], ObjectStore] | None = None,
        retry_after_s: float = 30.0,
        label: str = "replica",
    ) -> None:
        if (replica is None) == (open_replica is None):
            raise ValueError("give either replica or open_replica")
        self.primary = primary
        self.retry_after_s = retry_after_s
        self.label = label  # names the replica in logs and messages (a path, or endpoint/bucket; no secret)
        self.counters = ReplicaCounters()
        self._replica = replica
        self._open = open_replica
        self._lock = threading.Lock()
        self._down_until = 0.0

    # -- the replica -----------------------------------------------------------------------
    def replica_store(self) -> ObjectStore:
        """The replica, opened on first use (a replica down at start-up must not stop the archive)."""
        if self._replica is not None:
            return self._replica
        with self._lock:
            if self._replica is None:
                assert self._open is not None
                try:
                    self._replica = self._open()
                except Exception as exc:
                    raise ReplicaUnavailable(f"副本存储（{self.label}）不可用：{exc}") from exc
            return self._replica

    def _usable(self) -> ObjectStore | None:
        """The replica for routine work, or None while it rests after a failure."""
        if time.monotonic() < self._down_until:
            return None
        try:
            return self.replica_store()
        except ReplicaUnavailable as exc:
            self._rest(exc)
            return None

    def _rest(self, exc: BaseException) -> None:
        """After a failure, leave the replica alone for ``retry_after_s`` (``archive replicate`` catches up)."""
        self._down_until = time.monotonic() + self.retry_after_s
        log.warning(
            "replica_unavailable",
            extra={"replica": self.label, "code": _code(exc), "error": str(exc), "retry_after_s": self.retry_after_s},
        )

    def _count(self, **deltas: float) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self.counters, name, getattr(self.counters, name) + delta)

    # -- writes ----------------------------------------------------------------------------
    def _refuse_lost_key_conflict(self, key: str, sha_of: Callable[[], str]) -> None:
        """A key the primary lacks but the replica holds with another body is archived: refuse it."""
        if self.primary.exists(key):
            return  # the primary enforces write-once itself
        replica = self._usable()
        if replica is None:
            return
        started = time.perf_counter()
        try:
            held = replica.stat(key)
        except ObjectNotFound:
            return
        except Exception as exc:
            self._rest(exc)
            return
        finally:
            self._count(seconds=time.perf_counter() - started)
        if held.sha256 != sha_of():
            raise WriteOnceViolation(
                f"对象 {key} 已归档（副本中为不同内容），主存储中缺失，拒绝写入新内容；请运行 archive restore"
            )

    def _owe(self, info: ObjectInfo, reason: str, exc: BaseException | None = None, level: int = logging.WARNING):
        self._count(owed=1)
        log.log(
            level,
            "replica_write_owed",
            extra={
                "key": info.key,
                "sha256": info.sha256,
                "size": info.size,
                "reason": reason,
                "code": _code(exc) if exc is not None else reason,
                "error": str(exc) if exc is not None else "",
                "replica": self.label,
            },
        )

    def _mirror(self, info: ObjectInfo, write: Callable[[ObjectStore], ObjectInfo]) -> None:
        replica = self._usable()
        if replica is None:
            self._owe(info, "replica_unavailable")
            return
        started = time.perf_counter()
        try:
            copy = write(replica)
        except WriteOnceViolation as exc:  # the replica is up but holds another body: a person must look
            self._owe(info, "replica_conflict", exc, logging.ERROR)
            return
        except Exception as exc:  # whatever it is, the primary's write stands
            self._rest(exc)
            self._owe(info, "replica_write_failed", exc)
            return
        finally:
            self._count(seconds=time.perf_counter() - started)
        if copy.sha256 != info.sha256:
            self._owe(info, "replica_diverged", StoreError(f"副本记录的 SHA-256 为 {copy.sha256}"), logging.ERROR)
            return
        self._count(mirrored=1)

    def put(self, key: str, data: bytes) -> ObjectInfo:
        self._refuse_lost_key_conflict(key, lambda: sha256_bytes(data))
        info = self.primary.put(key, data)
        self._mirror(info, lambda replica: replica.put(key, data))
        return info

    def put_file(self, key: str, path: Path) -> ObjectInfo:
        self._refuse_lost_key_conflict(key, lambda: sha256_file(path)[0])
        info = self.primary.put_file(key, path)
        # The primary's own body (read-only, just verified) rather than the caller's file, which may change.
        source = self.primary.root / key if isinstance(self.primary, FilesystemStore) else path
        self._mirror(info, lambda replica: replica.put_file(key, source))
        return info

    # -- reads -----------------------------------------------------------------------------
    def get(self, key: str) -> bytes:
        try:
            return self.primary.get(key)
        except (ObjectNotFound, IntegrityError) as exc:
            return self._from_replica(key, exc)

    def _from_replica(self, key: str, primary_error: StoreError) -> bytes:
        reason = "missing" if isinstance(primary_error, ObjectNotFound) else "corrupt"
        recorded = None
        if reason == "corrupt":
            with contextlib.suppress(Exception):
                recorded = self.primary.stat(key).sha256
        try:
            data = self.replica_store().get(key)
        except ObjectNotFound:
            if reason == "corrupt":
                log.error("replica_read_failed", extra={"key": key, "reason": reason, "code": "object_not_found"})
            raise primary_error from None
        except Exception as exc:
            log.error(
                "replica_read_failed", extra={"key": key, "reason": reason, "code": _code(exc), "error": str(exc)}
            )
            raise primary_error from exc
        sha = sha256_bytes(data)
        if recorded is not None and sha != recorded:
            log.error("replica_read_refused", extra={"key": key, "recorded": recorded, "replica_sha256": sha})
            raise IntegrityError(f"对象 {key} 在主存储中损坏，副本内容与主存储记录的 SHA-256 不符") from primary_error
        self._count(fallbacks=1)
        log.error(
            "replica_read_fallback",
            extra={"key": key, "reason": reason, "sha256": sha, "replica": self.label, "action": "archive restore"},
        )
        return data

    def _replica_has(self, key: str) -> bool:
        replica = self._usable()
        if replica is None:
            return False
        try:
            held = replica.exists(key)
        except Exception as exc:
            self._rest(exc)
            return False
        if held:
            log.error("primary_object_missing", extra={"key": key, "replica": self.label, "action": "archive restore"})
        return held

    def stat(self, key: str) -> ObjectInfo:
        try:
            return self.primary.stat(key)
        except ObjectNotFound:
            if not self._replica_has(key):
                raise
            return self.replica_store().stat(key)

    def exists(self, key: str) -> bool:
        return self.primary.exists(key) or self._replica_has(validate_key(key))

    def verify(self, key: str) -> bool:
        try:
            return self.primary.verify(key)
        except ObjectNotFound:
            if self._replica_has(key):
                return False
            raise

    def keys(self, prefix: str = "") -> Iterator[str]:
        names = set(self.primary.keys(prefix))
        replica = self._usable()
        if replica is not None:
            try:
                names.update(replica.keys(prefix))
            except Exception as exc:
                self._rest(exc)
        yield from sorted(names, key=lambda name: name.split("/"))

    # -- retention ---------------------------------------------------------------------------
    def retain(self, key: str, until: datetime | None = None, *, legal_hold: bool = False) -> Hold:
        """The primary's hold, then the same on the replica; a replica that lacks the object or is down
        owes it (``replica_hold_owed``; ``archive replicate`` copies holds with the objects)."""
        hold = self.primary.retain(key, until, legal_hold=legal_hold)
        replica = self._usable()
        if replica is None:
            log.warning("replica_hold_owed", extra={"key": key, "reason": "replica_unavailable", "replica": self.label})
            return hold
        try:
            replica.retain(key, until, legal_hold=legal_hold)
        except ObjectNotFound:
            log.warning("replica_hold_owed", extra={"key": key, "reason": "replica_missing", "replica": self.label})
        except Exception as exc:
            self._rest(exc)
            log.warning("replica_hold_owed", extra={"key": key, "reason": _code(exc), "replica": self.label})
        return hold

    def hold(self, key: str) -> Hold:
        """The primary's hold (the replica's, for a key only the replica still holds)."""
        try:
            return self.primary.hold(key)
        except ObjectNotFound:
            if not self._replica_has(key):
                raise
            return self.replica_store().hold(key)

    def dispose(self, key: str) -> bool:
        """The replica's copy first, then the primary's: a primary copy is never gone while the replica still
        holds one (``archive restore`` would bring it back).  A replica that cannot be reached stops here."""
        replica = self.replica_store()  # ReplicaUnavailable: nothing deleted
        gone_replica = replica.dispose(key)
        gone_primary = self.primary.dispose(key)
        return gone_primary or gone_replica

    # -- housekeeping ----------------------------------------------------------------------
    def sweep_temporary(self, older_than_s: float = 3600.0) -> int:
        """Old temporary files of killed writers, in whichever of the two stores is a filesystem store."""
        removed = 0
        for store in (self.primary, self._replica):
            if isinstance(store, FilesystemStore):
                with contextlib.suppress(OSError):
                    removed += store.sweep_temporary(older_than_s)
        return removed
