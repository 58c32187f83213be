"""PostgreSQL: ``pg_dump --format=custom`` inside an exported snapshot, ``pg_restore --clean``, and a
server-free check of a dump.

A dump is checked without any server: ``pg_restore --data-only -f -`` turns it back into COPY text,
which is counted table by table; the access log (and the few columns the checks need) go into a
temporary SQLite mirror, where the very walk of ``archive audit verify`` checks the chain.  The
mirror keeps each value as the text PostgreSQL printed, which is the text the hash covers.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import URL, Connection, Engine, text

from archive.errors import ServiceError

from .facts import REFERENCES

# Tables mirrored into SQLite for the checks (None: every column), with the columns kept as integers.
_MIRRORED: dict[str, tuple[str, ...] | None] = {"access_log": None, "access_log_head": None, "alembic_version": None}
for _table, _column in REFERENCES:
    _MIRRORED[_table] = (*(_MIRRORED.get(_table) or ()), _column)
_INTEGERS = {"access_log": ("seq",), "access_log_head": ("id", "seq")}
_COPY = re.compile(rb"^COPY (?P<table>\S+) \((?P<columns>.*)\) FROM stdin;$")
_ESCAPE = re.compile(rb"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))", re.S)
_SIMPLE = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}


@dataclass(frozen=True)
class Libpq:
    """How the client tools reach the database: a libpq URL without the password, which goes in the
    environment (never on a command line)."""

    dsn: str
    env: dict[str, str]


def libpq(url: URL) -> Libpq:
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    dsn = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return Libpq(dsn=dsn, env=env)


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ServiceError(
            "backup_tool_missing", f"未找到 {name}：请安装与数据库服务器同版本（或更新）的 PostgreSQL 客户端工具"
        )
    return path


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(args, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()[-2000:]
        raise ServiceError("backup_tool_failed", f"{what}失败（退出码 {done.returncode}）：{detail}")


def server_version(conn: Connection) -> str:
    return str(conn.exec_driver_sql("SHOW server_version").scalar_one())


@contextlib.contextmanager
def exported_snapshot(engine: Engine) -> Iterator[tuple[Connection, str]]:
    """A REPEATABLE READ transaction and its exported snapshot id: ``pg_dump --snapshot`` dumps exactly
    what this transaction sees, so the manifest's counts are the dump's counts."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot_id = str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())
            yield conn, snapshot_id


def dump(url: URL, snapshot_id: str | None, target: Path) -> None:
    """``pg_dump --format=custom`` into ``target`` (written as ``.partial``, then renamed)."""
    client = libpq(url)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    args = [tool("pg_dump"), "--format=custom", "--encoding=UTF8", f"--file={partial}"]
    if snapshot_id:
        args.append(f"--snapshot={snapshot_id}")
    try:
        _run([*args, f"--dbname={client.dsn}"], client.env, "pg_dump ")
        with partial.open("rb") as fh:
            os.fsync(fh.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)


def restore(url: URL, source: Path) -> None:
    """``pg_restore --clean`` into the database, in one transaction: all of it or nothing."""
    client = libpq(url)
    args = [tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges"]
    args += ["--single-transaction", "--exit-on-error", f"--dbname={client.dsn}", str(source)]
    _run(args, client.env, "pg_restore ")


def other_sessions(conn: Connection) -> int:
    """Client connections to this database other than ``conn`` (a running service, a console)."""
    sql = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
    )
    return int(conn.exec_driver_sql(sql).scalar_one())


def drop_tables(engine: Engine, names: list[str]) -> None:
    """Drop tables (CASCADE), in one transaction."""
    if not names:
        return
    with engine.begin() as conn:
        for name in names:
            conn.execute(text(f'DROP TABLE IF EXISTS "{name.replace(chr(34), chr(34) * 2)}" CASCADE'))


# -- checking a dump without a server -------------------------------------------------------------


def _unescape_match(match: re.Match[bytes]) -> bytes:
    octal, hexa, char = match.groups()
    if octal is not None:
        return bytes([int(octal, 8) & 0xFF])
    if hexa is not None:
        return bytes([int(hexa, 16)])
    return _SIMPLE.get(char, char)


def copy_field(raw: bytes) -> str | None:
    """One field of COPY's text format: ``\\N`` is NULL; backslash escapes decoded; UTF-8."""
    if raw == b"\\N":
        return None
    if b"\\" in raw:
        raw = _ESCAPE.sub(_unescape_match, raw)
    return raw.decode("utf-8")


def _name(raw: str) -> str:
    """``public."position"`` -> ``position``."""
    last = raw.strip().rsplit(".", 1)[-1]
    return last[1:-1].replace('""', '"') if last.startswith('"') and last.endswith('"') else last


def _header(line: bytes) -> tuple[str, list[str]] | None:
    match = _COPY.match(line.rstrip(b"\n"))
    if match is None:
        return None
    table = _name(match["table"].decode("utf-8"))
    return table, [_name(c) for c in match["columns"].decode("utf-8").split(",")]


class _Mirror:
    """The mirrored tables in a temporary SQLite file, filled one COPY block at a time."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def start(self, table: str, columns: list[str]) -> Callable[[list[bytes]], None] | None:
        if table not in _MIRRORED:
            return None
        wanted = _MIRRORED[table] or tuple(columns)
        kept = [columns.index(c) for c in wanted if c in columns]
        names = [columns[i] for i in kept]
        integers = _INTEGERS.get(table, ())
        defs = ", ".join(f'"{c}" {"INTEGER" if c in integers else "TEXT"}' for c in names)
        self.conn.execute(f'CREATE TABLE IF NOT EXISTS "{table}" ({defs})')
        insert = f'INSERT INTO "{table}" ({", ".join(chr(34) + c + chr(34) for c in names)}) VALUES ({", ".join("?" * len(names))})'
        batch: list[tuple[str | None, ...]] = []

        def add(fields: list[bytes]) -> None:
            if fields:
                batch.append(tuple(copy_field(fields[i]) for i in kept))
            if len(batch) >= 5000 or (not fields and batch):
                self.conn.executemany(insert, batch)
                batch.clear()

        return add


@dataclass
class DumpContents:
    counts: dict[str, int]
    mirror: sqlite3.Connection


@contextlib.contextmanager
def read_dump(source: Path, progress: Callable[[int], None] | None = None) -> Iterator[DumpContents]:
    """Row counts of every table in the dump, and a SQLite mirror of the tables the checks need.

    Raises ``ServiceError`` (``backup_unreadable``) when ``pg_restore`` cannot read the archive.
    """
    with tempfile.TemporaryDirectory(prefix="archive-backup-check-") as tmp:
        mirror = sqlite3.connect(str(Path(tmp) / "mirror.sqlite3"))
        try:
            counts = _fill(source, _Mirror(mirror), progress)
            mirror.commit()
            yield DumpContents(counts=counts, mirror=mirror)
        finally:
            mirror.close()


def _fill(source: Path, mirror: _Mirror, progress: Callable[[int], None] | None) -> dict[str, int]:
    args = [tool("pg_restore"), "--data-only", "--file=-", str(source)]
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
        assert process.stdout is not None
        try:
            counts, finished = _copy_blocks(process.stdout, mirror, progress)
        except (UnicodeDecodeError, ValueError, sqlite3.Error) as exc:
            process.kill()
            raise ServiceError("backup_unreadable", f"备份文件中的数据无法解读：{exc}") from exc
        finally:
            process.stdout.close()
            code = process.wait()
        errors.seek(0)
        message = errors.read().decode("utf-8", "replace").strip()
    if code != 0 or not finished:
        raise ServiceError("backup_unreadable", f"pg_restore 无法读出备份文件（退出码 {code}）：{message[-2000:]}")
    return counts


def _copy_blocks(
    lines: Iterable[bytes], mirror: _Mirror, progress: Callable[[int], None] | None
) -> tuple[dict[str, int], bool]:
    """Count the rows of each COPY block and mirror the wanted ones; whether the last block ended."""
    counts: dict[str, int] = {}
    rows = 0
    table: str | None = None
    add: Callable[[list[bytes]], None] | None = None
    for line in lines:
        if table is None:
            header = _header(line) if line.startswith(b"COPY ") else None
            if header is not None:
                table, columns = header
                counts[table] = 0
                add = mirror.start(table, columns)
            continue
        if line == b"\\.\n":
            if add is not None:
                add([])
            table, add = None, None
            continue
        counts[table] += 1
        if add is not None:
            add(line.rstrip(b"\n").split(b"\t"))
        rows += 1
        if progress is not None and rows % 10000 == 0:
            progress(rows)
    if progress is not None:
        progress(rows)
    return counts, table is None
