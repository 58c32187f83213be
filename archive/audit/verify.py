"""Walk the access-log chain against the write-once checkpoints.

Caught: an entry altered (its hash no longer matches), deleted or inserted (a gap or a broken
link), reordered (a broken link), the whole chain recomputed after a change (the checkpoint's
hash no longer matches), and the tail truncated behind the last checkpoint or behind the chain
head the appenders keep.

A large log whose seqs run 1..N without a gap (any intact log) is verified in parallel: the
range is cut into slices that this process and ``python -m archive.audit.walk`` workers (one per
further CPU) take in order as each gets free, each checking the link into its slice against the
stored hash of the entry before it.  The slice before vouches for that hash, so the answer — the
lowest bad seq, with the count of entries before it — is the one a single walk gives.  A log with
a gap, a small log, a worker that cannot start or fails: walked in this process.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from archive.audit.chain import GENESIS
from archive.audit.log import CHECKPOINTS
from archive.audit.walk import Walked, pages, parse_result, walk, walk_range
from archive.runtime import Runtime

logger = logging.getLogger(__name__)
PARALLEL_MIN = 50_000  # entries; below this a worker's start-up costs more than it saves
SLICE_MIN = 5_000  # entries per slice, at least


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    checkpoints: int
    code: str = "intact"
    first_bad: int | None = None  # sequence number of the first bad entry
    message: str = ""

    def summary(self) -> str:
        if self.ok:
            return f"访问日志完整：{self.entries} 条，{self.checkpoints} 个检查点一致"
        return f"访问日志被篡改 [{self.code}]：第 {self.first_bad} 条起 — {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary()}

    def covers(self, seq: int) -> bool:
        """Whether entry ``seq`` lies in the verified part of the chain (before the first bad one)."""
        if self.ok:
            return 1 <= seq <= self.entries
        return self.first_bad is not None and 1 <= seq < self.first_bad


def _checkpoints(rt: Runtime) -> dict[int, str]:
    out = {}
    for key in rt.store.keys(CHECKPOINTS):
        body = json.loads(rt.store.get(key))  # the store verifies each object's own hash
        out[int(body["seq"])] = body["hash"]
    return out


def _one(conn: Connection, sql: str) -> tuple:
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
        return tuple(cursor.fetchone() or ())
    finally:
        cursor.close()


def verify(rt: Runtime, workers: int | None = None) -> Verification:
    """Verify the whole chain; ``workers`` caps the parallel slices (default: the CPU count)."""
    checkpoints = _checkpoints(rt)  # read first, then the head, then the rows: each only grows
    workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
    with rt.db.connect() as conn:
        head = int((_one(conn, "SELECT seq FROM access_log_head WHERE id = 1") or (0,))[0])
        low, high, rows = (int(v or 0) for v in _one(conn, "SELECT MIN(seq), MAX(seq), COUNT(*) FROM access_log"))
        contiguous = rows > 0 and low == 1 and high == rows
        if contiguous and workers > 1 and rows >= PARALLEL_MIN:
            done = _walk_parallel(rt, conn, high, checkpoints, workers)
        else:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                dialect = conn.dialect.name
                done = walk(pages(cursor, dialect, binary=_binary(conn)), 1, GENESIS, checkpoints, dialect)
            finally:
                cursor.close()
    n = len(checkpoints)
    if done.bad is not None:
        return Verification(False, done.count, n, done.bad.code, done.bad.seq, done.bad.message)
    count, last = done.count, max(checkpoints, default=0)
    if count < last:
        return Verification(
            False, count, n, "truncated", count + 1, f"检查点记录了 {last} 条，库中只有 {count} 条（尾部被截断）"
        )
    if count < head:
        return Verification(
            False, count, n, "truncated", count + 1, f"链头记录了 {head} 条，库中只有 {count} 条（尾部被截断）"
        )
    return Verification(True, count, n)


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


def _walk_parallel(rt: Runtime, conn: Connection, high: int, checkpoints: dict[int, str], workers: int) -> Walked:
    """Slices of 1..high walked here and by ``workers - 1`` worker processes, each taking the next
    slice when free (a worker still starting costs nothing; a slow one holds up no one)."""
    slices = _Slices(high, max(SLICE_MIN, -(-high // (workers * 4))))
    dialect, binary = conn.dialect.name, _binary(conn)

    def walk_here(index: int) -> Walked:
        lo, hi = slices.bounds[index]
        return walk_range(cursor, dialect, lo, hi, _within(checkpoints, lo, hi), binary)

    processes = [p for p in (_start_worker(rt) for _ in range(workers - 1)) if p is not None]
    threads = [threading.Thread(target=_feed, args=(p, slices, checkpoints), daemon=True) for p in processes]
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
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


def _feed(process: subprocess.Popen[bytes], slices: _Slices, checkpoints: dict[int, str]) -> None:
    """Hand slices to one worker until none are left; a failing worker's slice goes back."""
    assert process.stdin is not None and process.stdout is not None
    while (index := slices.take()) is not None:
        lo, hi = slices.bounds[index]
        job = {"lo": lo, "hi": hi, "checkpoints": {str(k): v for k, v in _within(checkpoints, lo, hi).items()}}
        try:
            process.stdin.write((json.dumps(job) + "\n").encode("utf-8"))
            process.stdin.flush()
            walked = parse_result(process.stdout.readline().decode("utf-8"))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            logger.warning("日志校验子进程失败（第 %d–%d 条改由本进程校验）", lo, hi)
            slices.orphan(index)
            return
        slices.done(index, walked)


def _within(checkpoints: dict[int, str], lo: int, hi: int) -> dict[int, str]:
    return {seq: digest for seq, digest in checkpoints.items() if lo <= seq <= hi}


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
