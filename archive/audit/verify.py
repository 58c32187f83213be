"""Walk the access-log chain against the write-once checkpoints.

Caught: an entry altered (its hash no longer matches), deleted or inserted (a gap or a broken
link), reordered (a broken link), the whole chain recomputed after a change (the checkpoint's
hash no longer matches), and the tail truncated behind the last checkpoint or behind the chain
head the appenders keep.  Where several checkpoints record one seq, every one of them must match.

A large log whose seqs run 1..N without a gap (any intact log) is verified in parallel: the
range is cut into slices that this process and ``python -m archive.audit.walk`` workers (one per
further CPU) take in order as each gets free, each checking the link into its slice against the
stored hash of the entry before it.  The slice before vouches for that hash, so the answer — the
lowest bad seq, with the count of entries before it — is the one a single walk gives.  A log with
a gap, a small log, a worker that cannot start or fails: walked in this process.

Restores.  ``archive backup restore`` legitimately rolls the log back to a backup's head, and the
checkpoints written after the backup stay in the write-once store: without more, they would read
as a truncation for ever, and once the new log grows past them there are two checkpoints, with
different hashes, for the same seq.  So a restore writes, after the restored chain is verified, a
write-once *restore record* (``audit/restores/<UTC time>-<id>.json``: the restored head, the
backup's manifest SHA-256 and time, the actor, and the exact keys of the checkpoints past the
head that it supersedes), and the ``backup_restore`` entry it then appends to the restored log
names that record (``detail.restore_record``).  A checkpoint is set aside only when both agree:

- a restore record lists its key, every key it lists lies past the record's restored head, and
  the chain holds the record's head (same seq, same hash);
- an ``allowed`` ``backup_restore`` entry naming that record's key lies in the verified part of
  the chain, after that head.  It is looked up before the walk and trusted only if the walk then
  verifies up to it; if the walk stops before it, the walk is done again without that record.

Threat model.  Someone who can write objects but not the chain (a stolen store credential) can
add a forged restore record, but no verified entry names it, so a truncation stays a truncation.
Someone who can change the database but not write objects (a rogue DBA) can append an entry
naming any key, even a genuine earlier record's, but cannot make a record list the checkpoints
written since: records are write-once, and a genuine one lists only the checkpoints that existed
when it was written, past a head the chain must still hold.  Only someone with both can do what a
restore does, and then the record stays in the store for good, and every verification reports
the checkpoints it set aside (``superseded``, ``notice``): a restore never passes silently.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from archive.audit.chain import GENESIS
from archive.audit.log import CHECKPOINTS, RESTORE_ACTION, RESTORE_RECORD, RESTORES
from archive.audit.walk import Walked, pages, parse_result, stored_hash, walk, walk_range
from archive.runtime import Runtime
from archive.storage.base import ObjectStore

logger = logging.getLogger(__name__)
PARALLEL_MIN = 50_000  # entries; below this a worker's start-up costs more than it saves
SLICE_MIN = 5_000  # entries per slice, at least

Hashes = dict[int, tuple[str, ...]]  # seq -> every hash the checkpoints in force record for it


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    checkpoints: int  # checkpoints checked (those superseded by a restore not counted)
    code: str = "intact"
    first_bad: int | None = None  # sequence number of the first bad entry
    message: str = ""
    superseded: int = 0  # checkpoints set aside by a restore (not a problem)
    notice: str = ""  # which restores superseded them

    def summary(self) -> str:
        if self.ok:
            text = f"访问日志完整：{self.entries} 条，{self.checkpoints} 个检查点一致"
        else:
            text = f"访问日志被篡改 [{self.code}]：第 {self.first_bad} 条起 — {self.message}"
        return f"{text}；{self.notice}" if self.notice else text

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary()}

    def covers(self, seq: int) -> bool:
        """Whether entry ``seq`` lies in the verified part of the chain (before the first bad one)."""
        if self.ok:
            return 1 <= seq <= self.entries
        return self.first_bad is not None and 1 <= seq < self.first_bad


@dataclass(frozen=True)
class Checkpoint:
    key: str
    seq: int
    hash: str


@dataclass(frozen=True)
class RestoreRecord:
    key: str
    at: str  # ISO 8601 UTC
    head_seq: int  # the restored chain's head
    head_hash: str
    superseded: frozenset[str]  # checkpoint keys

    @property
    def day(self) -> str:
        return self.at[:10]


@dataclass(frozen=True)
class StoreLog:
    """What the object store holds about the log: its checkpoints and the restore records."""

    checkpoints: list[Checkpoint]
    restores: list[RestoreRecord]


def read_store_log(store: ObjectStore) -> StoreLog:
    """Checkpoints, then restore records (a restore writes its record after its checkpoints)."""
    return StoreLog(read_checkpoints(store), read_restores(store))


def read_checkpoints(store: ObjectStore) -> list[Checkpoint]:
    """Every checkpoint in the store, in key order (each read through the store's hash check)."""
    out = []
    for key in store.keys(CHECKPOINTS):
        body = json.loads(store.get(key))
        out.append(Checkpoint(key=key, seq=int(body["seq"]), hash=str(body["hash"])))
    return out


def read_restores(store: ObjectStore) -> list[RestoreRecord]:
    """Every well-formed restore record in the store, in key (time) order; a malformed one is
    logged and left out (it can then set nothing aside)."""
    out = []
    for key in store.keys(RESTORES):
        record = _parse_restore(key, store.get(key))
        if record is None:
            logger.warning("恢复记录 %s 格式不符，已忽略", key)
        else:
            out.append(record)
    return out


def _parse_restore(key: str, data: bytes) -> RestoreRecord | None:
    try:
        body = json.loads(data)
        head, keys, at = body["restored_head"], body["superseded"], body["at"]
        seq, digest = head["seq"], head["hash"]
        datetime.fromisoformat(at)
    except (ValueError, KeyError, TypeError):
        return None
    fit = isinstance(seq, int) and seq >= 0 and isinstance(digest, str) and isinstance(keys, list)
    if not fit or not all(isinstance(k, str) and k.startswith(CHECKPOINTS) for k in keys):
        return None
    return RestoreRecord(key=key, at=at, head_seq=seq, head_hash=digest, superseded=frozenset(keys))


@dataclass(frozen=True)
class _Claim:
    """A restore record that a ``backup_restore`` entry names, and the checkpoints it sets aside."""

    record: RestoreRecord
    entry: int  # seq of the entry; trusted only once the walk has verified it
    voided: tuple[Checkpoint, ...]


def _raw_cursor(conn: Connection) -> Any:
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


def _restore_entries(cursor: Any) -> dict[str, int]:
    """Record key -> the lowest seq of an allowed ``backup_restore`` entry naming it (unverified)."""
    cursor.execute(
        f"SELECT seq, CAST(detail AS TEXT) FROM access_log WHERE action = '{RESTORE_ACTION}'"
        " AND outcome = 'allowed' ORDER BY seq"
    )
    out: dict[str, int] = {}
    for seq, detail in cursor.fetchall():
        try:
            key = json.loads(detail).get(RESTORE_RECORD)
        except (ValueError, TypeError, AttributeError):
            continue
        if isinstance(key, str):
            out.setdefault(key, int(seq))
    return out


def _claims(cursor: Any, log: StoreLog) -> list[_Claim]:
    """The restore records that would set aside a checkpoint in the store, and that the chain
    seems to back (an entry naming the record after its head, the head's hash as recorded).
    Nothing is read from the database when no record lists a checkpoint there is."""
    by_key = {c.key: c for c in log.checkpoints}
    candidates = [r for r in log.restores if not r.superseded.isdisjoint(by_key)]
    if not candidates:
        return []
    entries = _restore_entries(cursor)
    claims = []
    for record in candidates:
        voided = tuple(sorted((by_key[k] for k in record.superseded if k in by_key), key=lambda c: c.seq))
        entry = entries.get(record.key)
        if entry is None or entry <= record.head_seq:
            logger.info("恢复记录 %s 未被访问日志中的恢复条目引用，不予采信", record.key)
            continue
        if voided[0].seq <= record.head_seq:
            logger.warning("恢复记录 %s 列出了恢复链头之前的检查点，不予采信", record.key)
            continue
        at_head = GENESIS if record.head_seq == 0 else stored_hash(cursor, record.head_seq)
        if at_head != record.head_hash:
            logger.warning("恢复记录 %s 的链头与访问日志不符，不予采信", record.key)
            continue
        claims.append(_Claim(record, entry, voided))
    return claims


def _in_force(
    checkpoints: list[Checkpoint], claims: list[_Claim]
) -> tuple[Hashes, int, list[tuple[RestoreRecord, int]]]:
    """The checkpoints not set aside (seq -> their hashes, and how many), and per record (in time
    order) how many it set aside; a checkpoint two records list counts for the earlier one."""
    voided: dict[str, RestoreRecord] = {}
    for claim in claims:
        for checkpoint in claim.voided:
            voided.setdefault(checkpoint.key, claim.record)
    hashes: dict[int, list[str]] = {}
    for checkpoint in checkpoints:
        if checkpoint.key not in voided:
            hashes.setdefault(checkpoint.seq, []).append(checkpoint.hash)
    per_record = [(claim.record, sum(r is claim.record for r in voided.values())) for claim in claims]
    in_force = {seq: tuple(dict.fromkeys(found)) for seq, found in hashes.items()}
    return in_force, len(checkpoints) - len(voided), [(r, n) for r, n in per_record if n]


@dataclass(frozen=True)
class Checked:
    """A walk against the checkpoints in force: those no honoured restore record sets aside."""

    done: Walked
    in_force: Hashes
    checkpoints: int  # checkpoints in force
    superseded: tuple[tuple[RestoreRecord, int], ...]  # per honoured record, in time order: how many

    @property
    def dropped(self) -> int:
        return sum(count for _, count in self.superseded)

    @property
    def notice(self) -> str:
        return "；".join(f"{count} 个检查点因 {record.day} 恢复备份而作废" for record, count in self.superseded)


def walk_checked(cursor: Any, log: StoreLog, walker: Callable[[Hashes], Walked]) -> Checked:
    """Walk a log (``walker``: the walk against the given checkpoints) honouring the restore records
    that its chain names; ``cursor`` (a DBAPI cursor on that log's database) looks the entries up.

    A record's entry is looked up before the walk and trusted only once the walk has verified it:
    where the walk stops before it, it is walked again without that record, so the first problem
    reported is the one a walk against every checkpoint that no verified restore sets aside finds.
    """
    claims = _claims(cursor, log)
    while True:
        in_force, n, superseded = _in_force(log.checkpoints, claims)
        done = walker(in_force)
        verified = done.count if done.bad is None else min(done.count, done.bad.seq - 1)
        trusted = [claim for claim in claims if claim.entry <= verified]
        if len(trusted) == len(claims):
            return Checked(done, in_force, n, tuple(superseded))
        claims = trusted


def _one(conn: Connection, sql: str) -> tuple:
    cursor = _raw_cursor(conn)
    try:
        cursor.execute(sql)
        return tuple(cursor.fetchone() or ())
    finally:
        cursor.close()


def verify(rt: Runtime, workers: int | None = None) -> Verification:
    """Verify the whole chain; ``workers`` caps the parallel slices (default: the CPU count)."""
    log = read_store_log(rt.store)  # read first, then the head, then the rows: each only grows
    workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
    with rt.db.connect() as conn:
        head = int((_one(conn, "SELECT seq FROM access_log_head WHERE id = 1") or (0,))[0])
        low, high, rows = (int(v or 0) for v in _one(conn, "SELECT MIN(seq), MAX(seq), COUNT(*) FROM access_log"))
        parallel = rows > 0 and low == 1 and high == rows and workers > 1 and rows >= PARALLEL_MIN
        dialect, binary = conn.dialect.name, _binary(conn)
        cursor = _raw_cursor(conn)
        try:

            def walker(in_force: Hashes) -> Walked:
                if parallel:
                    return _walk_parallel(rt, conn, high, in_force, workers)
                return walk(pages(cursor, dialect, binary=binary), 1, GENESIS, in_force, dialect)

            checked = walk_checked(cursor, log, walker)
        finally:
            cursor.close()
    done, n, dropped, notice = checked.done, checked.checkpoints, checked.dropped, checked.notice
    if done.bad is not None:
        return Verification(False, done.count, n, done.bad.code, done.bad.seq, done.bad.message, dropped, notice)
    count, last = done.count, max(checked.in_force, default=0)
    if count < last:
        message = f"检查点记录了 {last} 条，库中只有 {count} 条（尾部被截断）"
        return Verification(False, count, n, "truncated", count + 1, message, dropped, notice)
    if count < head:
        message = f"链头记录了 {head} 条，库中只有 {count} 条（尾部被截断）"
        return Verification(False, count, n, "truncated", count + 1, message, dropped, notice)
    return Verification(True, count, n, superseded=dropped, notice=notice)


def _binary(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"


class _Slices:
    """Slices of 1..high handed out in order to whoever is free; results kept by slice index.

    Once a slice is found bad, no later slice is handed out: the answer is the lowest bad one,
    and every slice before it is still walked to the end.
    """

    def __init__(self, high: int, size: int) -> None:
        self.bounds = [(lo, min(lo + size - 1, high)) for lo in range(1, high + 1, size)]
        self.results: dict[int, Walked] = {}
        self.orphans: list[int] = []  # handed to a worker that failed: walked here at the end
        self._next = 0
        self._stop = len(self.bounds)
        self._lock = threading.Lock()

    def take(self) -> int | None:
        with self._lock:
            if self._next >= len(self.bounds) or self._next > self._stop:
                return None
            self._next += 1
            return self._next - 1

    def done(self, index: int, walked: Walked) -> None:
        with self._lock:
            self.results[index] = walked
            if walked.bad is not None:
                self._stop = min(self._stop, index)

    def orphan(self, index: int) -> None:
        with self._lock:
            self.orphans.append(index)

    def answer(self) -> Walked:
        verified = 0
        for index, (lo, _) in enumerate(self.bounds):
            walked = self.results.get(index)
            if walked is None:  # only past a bad slice
                break
            if walked.bad is not None:
                return Walked(lo - 1 + walked.count, walked.bad)
            verified += walked.count
        return Walked(verified, None)


def _walk_parallel(rt: Runtime, conn: Connection, high: int, checkpoints: Hashes, workers: int) -> Walked:
    """Slices of 1..high walked here and by ``workers - 1`` worker processes, each taking the next
    slice when free (a worker still starting costs nothing; a slow one holds up no one)."""
    slices = _Slices(high, max(SLICE_MIN, -(-high // (workers * 4))))
    dialect, binary = conn.dialect.name, _binary(conn)

    def walk_here(index: int) -> Walked:
        lo, hi = slices.bounds[index]
        return walk_range(cursor, dialect, lo, hi, _within(checkpoints, lo, hi), binary)

    processes = [p for p in (_start_worker(rt) for _ in range(workers - 1)) if p is not None]
    threads = [threading.Thread(target=_feed, args=(p, slices, checkpoints), daemon=True) for p in processes]
    cursor = _raw_cursor(conn)
    try:
        for thread in threads:
            thread.start()
        while (index := slices.take()) is not None:
            slices.done(index, walk_here(index))
        for thread in threads:
            thread.join()
        for index in sorted(slices.orphans):
            slices.done(index, walk_here(index))
    finally:
        cursor.close()
        for process in processes:
            _stop_worker(process)
    return slices.answer()


def _feed(process: subprocess.Popen[bytes], slices: _Slices, checkpoints: Hashes) -> None:
    """Hand slices to one worker until none are left; a failing worker's slice goes back."""
    assert process.stdin is not None and process.stdout is not None
    while (index := slices.take()) is not None:
        lo, hi = slices.bounds[index]
        within = _within(checkpoints, lo, hi)
        job = {"lo": lo, "hi": hi, "checkpoints": {str(seq): list(hashes) for seq, hashes in within.items()}}
        try:
            process.stdin.write((json.dumps(job) + "\n").encode("utf-8"))
            process.stdin.flush()
            walked = parse_result(process.stdout.readline().decode("utf-8"))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            logger.warning("日志校验子进程失败（第 %d–%d 条改由本进程校验）", lo, hi)
            slices.orphan(index)
            return
        slices.done(index, walked)


def _within(checkpoints: Hashes, lo: int, hi: int) -> Hashes:
    return {seq: hashes for seq, hashes in checkpoints.items() if lo <= seq <= hi}


def _dsn(rt: Runtime) -> str | None:
    url = rt.db.url
    if url.get_backend_name() == "sqlite":
        return url.database if url.database and url.database != ":memory:" else None
    if url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg":
        return url.set(drivername="postgresql").render_as_string(hide_password=False)
    return None


def _start_worker(rt: Runtime) -> subprocess.Popen[bytes] | None:
    dsn = _dsn(rt)
    if dsn is None:
        return None
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "archive.audit.walk"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert process.stdin is not None
        process.stdin.write((json.dumps({"dialect": rt.db.url.get_backend_name(), "dsn": dsn}) + "\n").encode())
        process.stdin.flush()
    except OSError:
        logger.warning("无法启动日志校验子进程，改为本进程校验", exc_info=True)
        return None
    return process


def _stop_worker(process: subprocess.Popen[bytes]) -> None:
    """Close its input (a worker ends there); kill it if it lingers."""
    try:
        if process.stdin is not None:
            process.stdin.close()
    except OSError:
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()
