"""Facts read from a records database (live, a backup copy, or a mirror of a dump): row counts per
table, the migration revision, the access-log head, and the object keys the records reference.

Queries are plain SQL run through ``Rows`` (SQL in, rows out), so the same code reads an SQLAlchemy
connection inside a PostgreSQL snapshot and a raw read-only ``sqlite3`` connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection

from archive.audit.chain import GENESIS

from .manifest import LogHead, Snapshot

Rows = Callable[[str], Iterable[Sequence[Any]]]

# Every column holding an object-store key: what a restore needs back from the store.
REFERENCES: tuple[tuple[str, str], ...] = (
    ("originals", "object_key"),
    ("dossiers", "searchable_pdf_key"),
    ("pages", "image_key"),
    ("pages", "ocr_key"),
    ("ocr_results", "ocr_key"),
)
# Tables that hold no content of their own: an archive with rows only there is empty.
BOOKKEEPING = frozenset({"alembic_version", "access_log_head"})


def sqlite_rows(conn: sqlite3.Connection) -> Rows:
    def run(sql: str) -> Iterator[Sequence[Any]]:
        yield from conn.execute(sql)

    return run


def sqlalchemy_rows(conn: Connection, stream: bool = False) -> Rows:
    """``stream``: a server-side cursor (for the long list of object keys)."""

    def run(sql: str) -> Iterator[Sequence[Any]]:
        target = conn.execution_options(stream_results=True, yield_per=2000) if stream else conn
        yield from target.exec_driver_sql(sql)

    return run


def table_names(rows: Rows, dialect: str) -> list[str]:
    if dialect == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    else:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    return sorted(str(row[0]) for row in rows(sql))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _scalar(rows: Rows, sql: str) -> Any:
    for row in rows(sql):
        return row[0]
    return None


def table_counts(rows: Rows, tables: Iterable[str]) -> dict[str, int]:
    return {name: int(_scalar(rows, f"SELECT count(*) FROM {_quoted(name)}")) for name in tables}


def is_empty(counts: dict[str, int]) -> bool:
    return not any(n for name, n in counts.items() if name not in BOOKKEEPING)


def revision(rows: Rows, tables: Iterable[str]) -> str | None:
    if "alembic_version" not in tables:
        return None
    value = _scalar(rows, "SELECT version_num FROM alembic_version")
    return None if value is None else str(value)


def log_head(rows: Rows, tables: Iterable[str]) -> LogHead:
    """The chain head row (seq, hash), the number of entries and the last entry's algorithm."""
    tables = set(tables)
    if "access_log_head" not in tables or "access_log" not in tables:
        return LogHead(0, GENESIS, 0, None)
    head = next(iter(rows("SELECT seq, hash FROM access_log_head WHERE id = 1")), None)
    seq, digest = (int(head[0]), str(head[1])) if head else (0, GENESIS)
    entries = int(_scalar(rows, "SELECT count(*) FROM access_log"))
    algorithm = _scalar(rows, f"SELECT algorithm FROM access_log WHERE seq = {seq}") if seq else None
    return LogHead(seq, digest, entries, algorithm)


def _present(tables: Iterable[str]) -> list[tuple[str, str]]:
    tables = set(tables)
    return [(table, column) for table, column in REFERENCES if table in tables]


def referenced_keys_sql(tables: Iterable[str], count: bool = False) -> str | None:
    parts = [f"SELECT {column} AS k FROM {table} WHERE {column} IS NOT NULL" for table, column in _present(tables)]
    if not parts:
        return None
    union = " UNION ".join(parts)
    return f"SELECT count(*) FROM ({union}) AS refs" if count else f"SELECT k FROM ({union}) AS refs ORDER BY k"


def referenced_count(rows: Rows, tables: Iterable[str]) -> int:
    sql = referenced_keys_sql(tables, count=True)
    return int(_scalar(rows, sql)) if sql else 0


def referenced_keys(rows: Rows, tables: Iterable[str]) -> Iterator[str]:
    """Every distinct object key the records reference, in order."""
    sql = referenced_keys_sql(tables)
    if sql:
        for row in rows(sql):
            yield str(row[0])


def snapshot(rows: Rows, dialect: str, counts: dict[str, int] | None = None) -> Snapshot:
    """The manifest's facts about a database; ``counts`` when known otherwise (a dump's COPY blocks)."""
    tables = table_names(rows, dialect)
    if counts is None:
        counts = table_counts(rows, tables)
    return Snapshot(
        tables=counts,
        revision=revision(rows, tables),
        head=log_head(rows, tables),
        referenced_objects=referenced_count(rows, tables),
    )
