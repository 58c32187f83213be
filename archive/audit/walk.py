"""The inner loop of verification: walk access-log rows in seq order and check each link.

Standard library only (plus the DBAPI driver), so that ``python -m archive.audit.walk`` starts
quickly as a worker that verifies slices of a large log (see ``verify``).  Jobs come on stdin as
JSON lines (the first holds the database address, password included, so never the command
line); results go to stdout, one JSON line per slice.

Rows are read through the raw DBAPI cursor in keyset pages, the JSON columns as their stored
text; the canonical form (``chain.canonical``) is the NUL-join of the field texts, done by SQLite
in the query or here on PostgreSQL.  No ORM row, JSON parse or re-serialisation per entry.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archive.audit.chain import GENESIS, SEPARATOR, digest_function

PAGE = 20000


@dataclass(frozen=True)
class Bad:
    code: str
    seq: int
    message: str


@dataclass(frozen=True)
class Walked:
    count: int  # entries verified before the first bad one (all of them when bad is None)
    bad: Bad | None


_TEXTS = ("CAST(seq AS TEXT)", "id", "at", "actor", "role", "office", "client", "action", "targets", "reason")
_TEXTS += ("outcome", "detail", "prev")


def select_sql(dialect: str) -> str:
    """SQLite: (seq, canonical bytes, prev, hash, algorithm), the NUL-join done by SQLite itself
    (byte for byte ``chain.canonical``: the database is UTF-8 and ``||`` copies bytes, NULs
    included).  Others: (seq, the 13 canonical texts, hash, algorithm), joined here."""
    if dialect == "sqlite":
        joined = " || x'00' || ".join(_TEXTS)
        return f"SELECT seq, CAST({joined} AS BLOB), prev, hash, algorithm FROM access_log"
    texts = [f"CAST({c} AS TEXT)" if c in ("targets", "detail") else c for c in _TEXTS]  # JSON: text as stored
    return f"SELECT seq, {', '.join(texts)}, hash, algorithm FROM access_log"


def _execute(cursor: Any, sql: str, binary: bool) -> None:
    if binary:  # psycopg 3: binary results skip text parsing
        cursor.execute(sql, binary=True)
    else:
        cursor.execute(sql)


def pages(
    cursor: Any, dialect: str, lo: int | None = None, hi: int | None = None, page: int = PAGE, binary: bool = False
) -> Iterator[list[tuple]]:
    """Rows with lo <= seq <= hi (unbounded where None) in seq order, ``page`` at a time."""
    base = select_sql(dialect)
    low = f"access_log.seq >= {int(lo)}" if lo is not None else None
    high = f"access_log.seq <= {int(hi)}" if hi is not None else None
    while True:
        where = " AND ".join(c for c in (low, high) if c)
        _execute(
            cursor, f"{base}{' WHERE ' + where if where else ''} ORDER BY access_log.seq LIMIT {int(page)}", binary
        )
        rows = cursor.fetchall()
        if rows:
            yield rows
        if len(rows) < page:
            return
        low = f"access_log.seq > {int(rows[-1][0])}"


Checkpoints = Mapping[int, str | Sequence[str]]  # seq -> the hash recorded, or every hash recorded


def _hashes(checkpoints: Checkpoints) -> dict[int, tuple[str, ...]]:
    return {int(seq): (want,) if isinstance(want, str) else tuple(want) for seq, want in checkpoints.items()}


def walk(row_pages: Iterable[list[tuple]], expected: int, prev: str, checkpoints: Checkpoints, dialect: str) -> Walked:
    """Check rows from seq ``expected`` on, the first one linking to ``prev``; stop at the first bad one.

    ``checkpoints`` maps a seq to the hash a checkpoint recorded for it, or to every hash recorded
    for it when there are several: each of them must match.
    """
    wanted = _hashes(checkpoints)
    joined = dialect == "sqlite"  # rows as select_sql shapes them
    p, h, a = (2, 3, 4) if joined else (13, 14, 15)
    join = SEPARATOR.join
    makers: dict[str, Callable[[bytes], Any]] = {}
    algorithm, make = "", None
    count = 0
    for rows in row_pages:
        for row in rows:
            seq = row[0]
            if seq != expected:
                code = "entry_missing" if seq > expected else "entry_inserted"
                return Walked(count, Bad(code, expected, f"序号应为 {expected}，实为 {seq}"))
            if row[p] != prev:
                return Walked(count, Bad("chain_broken", seq, "与前一条的哈希链接不符（删除、插入或顺序被改）"))
            if row[a] != algorithm:
                algorithm = row[a]
                try:
                    make = makers.get(algorithm) or makers.setdefault(algorithm, digest_function(algorithm))
                except ValueError:
                    return Walked(count, Bad("entry_altered", seq, f"未知的哈希算法 {algorithm!r}（被修改）"))
            try:
                data = row[1] if joined else join(row[1:14]).encode("utf-8")
                digest = make(data).hexdigest()  # type: ignore[misc]
            except (TypeError, UnicodeEncodeError):  # a NULL or foreign value put in by hand
                return Walked(count, Bad("entry_altered", seq, "条目含无法规范化的值（被修改）"))
            if digest != row[h]:
                return Walked(count, Bad("entry_altered", seq, "条目内容与其哈希不符（被修改）"))
            if seq in wanted and any(want != digest for want in wanted[seq]):
                return Walked(count, Bad("checkpoint_mismatch", seq, "与检查点记录的哈希不符（整链被重算）"))
            prev, expected, count = digest, expected + 1, count + 1
    return Walked(count, None)


def stored_hash(cursor: Any, seq: int) -> str | None:
    cursor.execute(f"SELECT hash FROM access_log WHERE seq = {int(seq)}")
    row = cursor.fetchone()
    return row[0] if row else None


def walk_range(cursor: Any, dialect: str, lo: int, hi: int, checkpoints: Checkpoints, binary: bool) -> Walked:
    """Verify lo..hi of a log whose seqs are known to be contiguous from 1; the link into lo is
    checked against the stored hash of lo - 1 (the range before checks that hash itself)."""
    prev = GENESIS if lo == 1 else stored_hash(cursor, lo - 1)
    if prev is None:
        return Walked(0, Bad("entry_missing", lo - 1, f"序号应为 {lo - 1}，该条不存在"))
    done = walk(pages(cursor, dialect, lo, hi, binary=binary), lo, prev, checkpoints, dialect)
    if done.bad is None and done.count < hi - lo + 1:  # rows gone since the caller counted them
        missing = lo + done.count
        return Walked(done.count, Bad("entry_missing", missing, f"序号应为 {missing}，该条不存在"))
    return done


def _connect(job: dict[str, Any]) -> Any:
    if job["dialect"] == "sqlite":
        import sqlite3

        return sqlite3.connect(job["dsn"], timeout=30)
    import psycopg

    return psycopg.connect(job["dsn"], autocommit=True)


def result_line(done: Walked) -> str:
    bad = done.bad
    return json.dumps({"count": done.count, "bad": [bad.code, bad.seq, bad.message] if bad else None}) + "\n"


def parse_result(line: str) -> Walked:
    """A worker's answer; ``ValueError`` (or ``KeyError``/``TypeError``) when it is not one."""
    result = json.loads(line)
    bad = result["bad"]
    return Walked(int(result["count"]), Bad(str(bad[0]), int(bad[1]), str(bad[2])) if bad else None)


def main() -> None:
    """Worker: first line ``{"dialect", "dsn"}``, then one ``{"lo", "hi", "checkpoints"}`` line per
    slice (``checkpoints``: seq -> the list of hashes recorded for it), each answered by one result
    line; ends when stdin closes."""
    setup = json.loads(sys.stdin.readline())
    conn = _connect(setup)
    try:
        cursor = conn.cursor()
        binary = setup["dialect"] != "sqlite"
        for line in sys.stdin:
            job = json.loads(line)
            checkpoints = _hashes(job["checkpoints"])  # seq (as text) -> a list of hashes
            done = walk_range(cursor, setup["dialect"], job["lo"], job["hi"], checkpoints, binary)
            sys.stdout.write(result_line(done))
            sys.stdout.flush()
    finally:
        conn.close()


if __name__ == "__main__":
    main()
