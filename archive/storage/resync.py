"""Bringing the primary and the replica back into step: ``replicate`` (primary → replica) and ``restore``
(replica → primary).  The ``archive replicate`` / ``archive restore`` commands (``archive.cli_replica``) are
thin wrappers; the rules live here.

``replicate`` walks the primary's keys: a key the replica lacks is copied, a replica copy that fails its
hash is repaired (``Repairable.repair``), in both cases only with bytes that passed the primary's own hash
check.  A replica copy that records another digest than the primary is a conflict for a person (both are
write-once), and a primary object that fails its hash is left to ``restore``.  Running it again finds
nothing to do (idempotent).  Holds travel too: a copy made here, and with ``full_check`` every copy, gets
at least the primary's retention and legal hold (``ReplicatedStore.retain`` owes them while the replica is
down).

``restore`` rebuilds a primary object that is missing or fails its hash from the replica's copy, after
checking that copy's SHA-256 against every independent record of it: the digest in a content-addressed
key, the records database (``Original.sha256``, ``Page.image_sha256``, given as ``expected``) and the
primary's own recorded digest (sidecar or object metadata) where it survives.  Records that disagree
stop the restore for that key.  A key with no record but the replica's own (an audit checkpoint whose
primary copy is gone) is restored only with ``trust_replica``.  A healthy primary object is never
touched (``repair`` refuses it too).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from archive.storage.base import (
    NO_HOLD,
    Hold,
    IntegrityError,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    Repairable,
    StoreError,
    content_digest,
    sha256_bytes,
)

FAILED_KEYS_LOGGED = 20  # failing keys named in an access-log entry (the count is always complete)


class RepairableStore(ObjectStore, Repairable, Protocol):
    pass


@dataclass(frozen=True)
class Failure:
    key: str
    code: str
    detail: str


class _Outcome:
    """What a replicate or restore run reports beyond its counts: ok when nothing failed."""

    failed: list[Failure]

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}  # type: ignore[call-overload]  # subclasses are dataclasses


@dataclass
class ReplicateReport(_Outcome):
    checked: int = 0
    in_sync: int = 0
    copied: int = 0
    repaired: int = 0
    holds: int = 0  # replica copies whose retention or legal hold was brought up to the primary's
    bytes: int = 0
    failed: list[Failure] = field(default_factory=list)


@dataclass
class RestoreReport(_Outcome):
    checked: int = 0
    healthy: int = 0
    restored: list[str] = field(default_factory=list)
    bytes: int = 0
    failed: list[Failure] = field(default_factory=list)


def _noop() -> None:
    return None


# -- primary → replica ------------------------------------------------------------------------------


def _replica_state(primary: ObjectStore, replica: ObjectStore, key: str, full_check: bool) -> str:
    """ "ok", "corrupt" (the replica's copy fails its hash) or "conflict" (it records another digest)."""
    want = primary.stat(key).sha256
    try:
        held = replica.stat(key)
    except IntegrityError:  # no usable recorded digest in the replica
        return "corrupt"
    if held.sha256 != want:
        return "conflict"
    if not full_check:
        return "ok"
    try:
        return "ok" if replica.verify(key) else "corrupt"
    except IntegrityError:
        return "corrupt"


def replicate(
    primary: ObjectStore,
    replica: RepairableStore,
    keys: Iterable[str],
    *,
    full_check: bool = True,
    advance: Callable[[], None] = _noop,
) -> ReplicateReport:
    """Copy to ``replica`` every one of ``keys`` it lacks or holds corrupt (see the module docstring).

    ``full_check`` re-hashes every replica copy; without it, copies are compared by recorded digest only.
    """
    report = ReplicateReport()
    held = set(replica.keys())
    for key in keys:
        report.checked += 1
        failure = _attempt(key, lambda k: _replicate_one(primary, replica, k, k in held, full_check, report))
        if failure is not None:
            report.failed.append(failure)
        advance()
    return report


def _attempt(key: str, step: Callable[[str], Failure | None]) -> Failure | None:
    """``step(key)``, with a store or file-system error turned into the key's failure."""
    try:
        return step(key)
    except StoreError as exc:
        return Failure(key, exc.code, str(exc))
    except (OSError, ValueError) as exc:  # a file system error, an unreadable sidecar
        return Failure(key, "io_error", f"{type(exc).__name__}: {exc}")


def _replicate_one(
    primary: ObjectStore, replica: RepairableStore, key: str, present: bool, full_check: bool, report: ReplicateReport
) -> Failure | None:
    state = _replica_state(primary, replica, key, full_check) if present else "missing"
    if state == "ok":
        report.in_sync += 1
        if full_check:
            _sync_hold(primary, replica, key, report)
        return None
    if state == "conflict":
        return Failure(
            key, "replica_conflict", "副本中的对象记录的 SHA-256 与主存储不同（两处均为一次写入），需人工处理"
        )
    try:
        data = primary.get(key)  # verified against the primary's record
    except IntegrityError:
        return Failure(key, "primary_corrupt", "主存储中的对象校验失败，未复制；请运行 archive restore")
    except ObjectNotFound:
        return Failure(key, "primary_missing", "主存储中已没有该对象，未复制；请运行 archive restore")
    copy: ObjectInfo
    if state == "missing":
        copy = replica.put(key, data)
        report.copied += 1
    else:
        copy = replica.repair(key, data, sha256_bytes(data))
        report.repaired += 1
    report.bytes += copy.size
    _sync_hold(primary, replica, key, report)
    return None


def _sync_hold(primary: ObjectStore, replica: ObjectStore, key: str, report: ReplicateReport) -> None:
    """Give the replica's copy at least the primary's retention and legal hold."""
    want: Hold = primary.hold(key)
    if want == NO_HOLD:
        return
    held: Hold = replica.hold(key)
    later = want.retain_until is not None and (held.retain_until is None or want.retain_until > held.retain_until)
    if later or (want.legal_hold and not held.legal_hold):
        replica.retain(key, want.retain_until, legal_hold=want.legal_hold)
        report.holds += 1


# -- replica → primary ------------------------------------------------------------------------------


def _primary_state(primary: ObjectStore, key: str) -> str:
    try:
        return "healthy" if primary.verify(key) else "corrupt"
    except ObjectNotFound:
        return "missing"
    except IntegrityError:  # e.g. an S3 object without a recorded digest
        return "corrupt"


def _records(primary: ObjectStore, key: str, state: str, expected: Callable[[str], dict[str, str]]) -> dict[str, str]:
    """Every independent record of the key's SHA-256, by where it was found."""
    found = dict(expected(key))
    address = content_digest(key)
    if address is not None:
        found["key"] = address
    if state == "corrupt":
        with contextlib.suppress(StoreError, ValueError, OSError):  # a damaged record: the others decide
            found["primary"] = primary.stat(key).sha256
    return found


def restore(
    primary: RepairableStore,
    replica: ObjectStore,
    keys: Iterable[str],
    expected: Callable[[str], dict[str, str]] = lambda key: {},
    *,
    trust_replica: bool = False,
    advance: Callable[[], None] = _noop,
) -> RestoreReport:
    """Rebuild every one of ``keys`` that is missing or corrupt in ``primary`` from ``replica``.

    ``expected(key)`` gives the records database's digests of the key (``{"records": sha}``, or ``{}``).
    """
    report = RestoreReport()
    for key in keys:
        report.checked += 1
        failure = _attempt(key, lambda k: _restore_one(primary, replica, k, expected, trust_replica, report))
        if failure is not None:
            report.failed.append(failure)
        advance()
    return report


def _restore_one(
    primary: RepairableStore,
    replica: ObjectStore,
    key: str,
    expected: Callable[[str], dict[str, str]],
    trust_replica: bool,
    report: RestoreReport,
) -> Failure | None:
    state = _primary_state(primary, key)
    if state == "healthy":
        report.healthy += 1
        return None
    records = _records(primary, key, state, expected)
    if len(set(records.values())) > 1:
        shown = "，".join(f"{source} {sha[:12]}…" for source, sha in sorted(records.items()))
        return Failure(key, "record_conflict", f"该对象的 SHA-256 记录互不一致（{shown}），未恢复")
    try:
        data = replica.get(key)  # verified against the replica's own record
    except ObjectNotFound:
        return Failure(key, "replica_missing", f"主存储中{_STATE_ZH[state]}，副本中也没有该对象，无法恢复")
    except IntegrityError:
        return Failure(key, "replica_corrupt", f"主存储中{_STATE_ZH[state]}，副本中的对象也校验失败，无法恢复")
    sha = sha256_bytes(data)
    if not records:
        if not trust_replica:
            return Failure(
                key,
                "no_independent_record",
                "除副本自身外没有该对象的 SHA-256 记录，未恢复（确认后可加 --trust-replica）",
            )
        want = sha
    else:
        want = next(iter(records.values()))
    if sha != want:
        return Failure(key, "replica_mismatch", f"副本内容的 SHA-256 {sha[:12]}… 与记录的 {want[:12]}… 不符，未恢复")
    primary.repair(key, data, want)
    report.restored.append(key)
    report.bytes += len(data)
    return None


_STATE_ZH = {"missing": "缺失", "corrupt": "校验失败"}
