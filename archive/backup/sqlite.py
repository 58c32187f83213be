"""The embedded default: online snapshots with SQLite's backup API, read-only copies, atomic swaps."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from archive.errors import ServiceError, Unavailable

from .manifest import fsync_dir

SIDECARS = ("-wal", "-shm", "-journal")


def _fsync_file(path: Path) -> None:
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def snapshot(source: Path, target: Path) -> str:
    """Copy the live database ``source`` into ``target`` with the online backup API; the SQLite version.

    One backup step holds one read transaction, so the copy is a consistent snapshot while writers
    carry on (WAL mode).  The copy is switched to a rollback journal, so it is one self-contained
    file that opens read-only without ``-wal``/``-shm`` files.
    """
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(str(source), timeout=30)
    try:
        dst = sqlite3.connect(str(partial))
        try:
            src.backup(dst)  # pages=-1: the whole database in one step
            dst.execute("PRAGMA journal_mode=DELETE")
            dst.commit()
        finally:
            dst.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise ServiceError("backup_snapshot_failed", f"数据库快照失败：{exc}") from exc
    finally:
        src.close()
    _fsync_file(partial)
    os.replace(partial, target)
    fsync_dir(target.parent)
    return sqlite3.sqlite_version


@contextlib.contextmanager
def open_readonly(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to a database copy (nothing is written to it or beside it)."""
    conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
    try:
        yield conn
    finally:
        conn.close()


def integrity_problems(conn: sqlite3.Connection) -> list[str]:
    rows = [str(row[0]) for row in conn.execute("PRAGMA integrity_check(20)")]
    return [] if rows == ["ok"] else rows


def in_use(path: Path) -> bool:
    """Whether another connection (a running service, another command) has the database open.

    An exclusive lock cannot be had while any other connection holds the database open in WAL mode.
    """
    if not path.exists():
        return False
    conn = sqlite3.connect(str(path), timeout=0.5, isolation_level=None)
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("COMMIT")
        return False
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc) or "busy" in str(exc)
    except sqlite3.DatabaseError:  # not a database at all: nothing can be using it as one
        return False
    finally:
        conn.close()


def place(backup: Path, target: Path, stamp: str) -> Path | None:
    """Put a copy of ``backup`` in place of ``target`` atomically (one rename).

    The database it replaces is kept beside it as ``<name>.pre-restore-<stamp>`` (with its ``-wal``
    and ``-shm``, so it stays readable); stray ``-wal``/``-shm`` files are moved aside too, so no old
    write-ahead log is ever replayed into the restored file.  Returns where the old database went.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.restore-")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, backup.open("rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o777)
        aside = target.with_name(f"{target.name}.pre-restore-{stamp}")
        kept = None
        if target.exists():
            os.replace(target, aside)
            kept = aside
        for suffix in SIDECARS:
            side = target.with_name(target.name + suffix)
            if side.exists():
                os.replace(side, aside.with_name(aside.name + suffix))
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise Unavailable("restore_write_failed", f"无法写入数据库文件 {target}：{exc}") from exc
    fsync_dir(target.parent)
    return kept
