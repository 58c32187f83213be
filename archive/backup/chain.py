"""The access-log chain of a database copy, checked with the same walk ``archive audit verify`` uses.

A backup is a snapshot: the object store's write-once checkpoints may run past its head (entries
written after the backup).  Only checkpoints at or before the head are checked against the copy;
later ones are counted, so a restore can say how many entries the backup cannot bring back.  Restore
records are honoured as ``archive audit verify`` honours them: only where the copy's own chain names
them (a backup taken after a restore holds that restore's ``backup_restore`` entry).
"""

from __future__ import annotations

import sqlite3

from archive.audit.chain import GENESIS
from archive.audit.verify import StoreLog, Verification, read_store_log, walk_checked
from archive.audit.walk import pages, walk
from archive.errors import Unavailable
from archive.storage.base import ObjectStore, StoreError

from .manifest import LogHead


def store_checkpoints(store: ObjectStore) -> StoreLog:
    """Every checkpoint and restore record in the store (each read through the store's hash check)."""
    try:
        return read_store_log(store)
    except StoreError as exc:
        raise Unavailable("object_store_unavailable", f"无法从对象存储读取访问日志检查点：{exc}") from exc


def checkpoints_after(checkpoints: StoreLog, seq: int) -> int:
    """How many entries the store's checkpoints prove were written after ``seq`` (0: none)."""
    return max((c.seq - seq for c in checkpoints.checkpoints if c.seq > seq), default=0)


def check_copy(conn: sqlite3.Connection, head: LogHead, checkpoints: StoreLog) -> Verification:
    """Walk the chain of an SQLite copy (a backup, or the mirror of a dump) from the genesis.

    Beyond the walk's own findings (altered, inserted, missing, relinked entries, checkpoint
    mismatches): the copy must end exactly at its recorded head, with the head's hash.
    """
    cursor = conn.cursor()
    try:
        checked = walk_checked(
            cursor,
            checkpoints,
            lambda in_force: walk(
                pages(cursor, "sqlite"), 1, GENESIS, {s: h for s, h in in_force.items() if s <= head.seq}, "sqlite"
            ),
        )
        done = checked.done
        last = _hash_at(cursor, done.count) if done.count else GENESIS
    finally:
        cursor.close()
    n = sum(len(hashes) for seq, hashes in checked.in_force.items() if seq <= head.seq)
    aside = {"superseded": checked.dropped, "notice": checked.notice}  # restores the copy's chain names
    if done.bad is not None:
        return Verification(False, done.count, n, done.bad.code, done.bad.seq, done.bad.message, **aside)
    if done.count < head.seq:
        message = f"链头记录了 {head.seq} 条，副本中只有 {done.count} 条（尾部被截断）"
        return Verification(False, done.count, n, "truncated", done.count + 1, message, **aside)
    if done.count > head.seq:
        message = f"链头记录了 {head.seq} 条，副本中却有 {done.count} 条"
        return Verification(False, done.count, n, "head_mismatch", head.seq + 1, message, **aside)
    if last != head.hash:
        message = "最后一条的哈希与链头记录不符"
        return Verification(False, done.count, n, "head_mismatch", head.seq, message, **aside)
    return Verification(True, done.count, n, **aside)


def _hash_at(cursor: sqlite3.Cursor, seq: int) -> str | None:
    row = cursor.execute(f"SELECT hash FROM access_log WHERE seq = {int(seq)}").fetchone()
    return None if row is None else str(row[0])
