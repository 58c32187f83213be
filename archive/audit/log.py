"""Appending to the access log.

Appenders serialise on the single ``access_log_head`` row: the UPDATE that advances its sequence
number takes the database's write lock (SQLite) or the row lock (PostgreSQL) before the previous
hash is read (``UPDATE … RETURNING``), so two processes can never chain onto the same entry.
Entries and the new head are committed together; a checkpoint (sequence number, head hash, time)
is written to the object store, write-once, every ``checkpoint_every`` entries and on demand (at
shutdown).

Events are checked and serialised (``prepare``) before they reach the transaction, so one bad
event is refused to its caller and never fails the group it would have been committed with.
Rows go in with one driver-level ``executemany`` (no per-row ORM or Core work); ``targets`` and
``detail`` are written as their exact JSON text (``chain.json_text``), which is what the hash
covers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, text

from archive.audit.chain import FIELDS, GENESIS, SEPARATOR, canonical, digest_function, json_text
from archive.ids import new_id
from archive.records.models import AccessLogEntry, AccessLogHead
from archive.runtime import Runtime

CHECKPOINTS = "audit/checkpoints/"
# A restore of the records database writes a write-once restore record here (``restore_key``), naming
# the checkpoints it supersedes, and the ``backup_restore`` entry in the restored log names that
# record under ``RESTORE_RECORD`` (see ``archive.audit.verify``).
RESTORES = "audit/restores/"
RESTORE_ACTION = "backup_restore"
RESTORE_RECORD = "restore_record"
COLUMNS = (*FIELDS, "prev", "hash", "algorithm")
# Column widths PostgreSQL enforces (SQLite does not): refused up front, for both, per event.
_LIMITS = {"actor": 200, "role": 32, "office": 32, "client": 64, "action": 32, "outcome": 16}
_TEXT_FIELDS = ("actor", "role", "office", "client", "action", "reason", "outcome")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AccessEvent:
    actor: str
    role: str
    action: str  # login|search|dossier_open|page_view|download|export|review|admin|ingest
    outcome: str = "allowed"  # allowed|denied
    office: str = ""
    client: str = ""
    targets: tuple[str, ...] = ()
    reason: str = ""
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PreparedEvent:
    """An event checked and serialised, ready to be chained: ``targets``/``detail`` as JSON text."""

    id: str
    actor: str
    role: str
    office: str
    client: str
    action: str
    targets: str
    reason: str
    outcome: str
    detail: str


def prepare(event: AccessEvent) -> PreparedEvent:
    """Check one event and serialise its JSON fields; ``ValueError``/``TypeError`` when unfit.

    Refused: non-text fields, NUL characters (PostgreSQL cannot store them and the canonical form
    uses NUL as its separator), text that is not valid Unicode, over-long fields, targets that
    are not a list of strings, and a detail that is not a JSON object (NaN included).
    """
    values: dict[str, str] = {}
    for name in _TEXT_FIELDS:
        value = getattr(event, name)
        if not isinstance(value, str):
            raise TypeError(f"访问日志字段 {name} 须为字符串，实为 {type(value).__name__}")
        if SEPARATOR in value:
            raise ValueError(f"访问日志字段 {name} 含 NUL 字符")
        value.encode("utf-8")  # lone surrogates fail here, not in the transaction
        limit = _LIMITS.get(name)
        if limit is not None and len(value) > limit:
            raise ValueError(f"访问日志字段 {name} 超长（{len(value)} > {limit}）")
        values[name] = value
    if isinstance(event.targets, str | bytes) or not all(isinstance(t, str) for t in event.targets):
        raise TypeError("访问日志字段 targets 须为字符串序列")
    if not isinstance(event.detail, dict):
        raise TypeError("访问日志字段 detail 须为字典")
    targets = json_text(list(event.targets))
    detail = json_text(event.detail)
    targets.encode("utf-8")
    detail.encode("utf-8")
    return PreparedEvent(id=new_id(), targets=targets, detail=detail, **values)


def checkpoint_key(seq: int, head: str) -> str:
    return f"{CHECKPOINTS}{seq:012d}-{head}.json"


def restore_key(at: datetime, record_id: str) -> str:
    """The key of a restore record: its UTC time (sortable) and a unique id."""
    return f"{RESTORES}{at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{record_id}.json"


def insert_sql(dialect: str, paramstyle: str) -> str:
    """The driver-level INSERT of one row, positional parameters in ``COLUMNS`` order."""
    mark = "?" if paramstyle == "qmark" else "%s"
    values = ", ".join(
        f"CAST({mark} AS JSON)" if name in ("targets", "detail") and dialect != "sqlite" else mark for name in COLUMNS
    )
    return f"INSERT INTO access_log ({', '.join(COLUMNS)}) VALUES ({values})"


class AccessLog:
    def __init__(
        self,
        rt: Runtime,
        algorithm: str = "sha256",
        checkpoint_every: int = 1000,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.rt = rt
        self.algorithm = algorithm
        self._digest = digest_function(algorithm)
        self.checkpoint_every = checkpoint_every
        self.clock = clock
        self.insert_sql = insert_sql(rt.db.dialect.name, rt.db.dialect.paramstyle)
        self._ensure_head()

    def hash(self, data: bytes) -> str:
        return self._digest(data).hexdigest()

    def _ensure_head(self) -> None:
        with self.rt.sessions.begin() as session:
            if session.get(AccessLogHead, 1) is None:
                session.add(AccessLogHead(id=1, seq=0, hash=GENESIS))

    def append(self, event: AccessEvent) -> AccessLogEntry:
        return self.append_many([event])[0]

    def append_many(self, events: Sequence[AccessEvent]) -> list[AccessLogEntry]:
        """Append in one durable transaction (a group commit when there are several)."""
        rows = self.write([prepare(event) for event in events])
        if self.checkpoint_due(rows):
            self.checkpoint()
        return [_entry(row) for row in rows]

    def write(self, events: Sequence[PreparedEvent]) -> list[dict[str, Any]]:
        """Chain and commit prepared events in one transaction; the rows as stored (JSON as text).

        Raises whatever the database raises; then nothing of the group was committed.
        """
        if not events:
            return []
        with self.rt.db.begin() as conn:
            rows = self._chain(conn, events)
            conn.exec_driver_sql(self.insert_sql, [tuple(row[name] for name in COLUMNS) for row in rows])
            conn.execute(text("UPDATE access_log_head SET hash = :hash WHERE id = 1"), {"hash": rows[-1]["hash"]})
        return rows

    def _chain(self, conn: Connection, events: Sequence[PreparedEvent]) -> list[dict[str, Any]]:
        # The UPDATE takes the lock before the previous hash is read.
        head = conn.execute(
            text("UPDATE access_log_head SET seq = seq + :n WHERE id = 1 RETURNING seq, hash"), {"n": len(events)}
        ).one()
        first = head.seq - len(events) + 1
        prev = head.hash
        at = self.clock().astimezone(UTC).isoformat(timespec="microseconds")
        digest = self._digest
        rows = []
        for offset, event in enumerate(events):
            row: dict[str, Any] = {
                "seq": first + offset,
                "id": event.id,
                "at": at,
                "actor": event.actor,
                "role": event.role,
                "office": event.office,
                "client": event.client,
                "action": event.action,
                "targets": event.targets,
                "reason": event.reason,
                "outcome": event.outcome,
                "detail": event.detail,
            }
            row["prev"] = prev
            row["hash"] = prev = digest(canonical(row, prev)).hexdigest()
            row["algorithm"] = self.algorithm
            rows.append(row)
        return rows

    def checkpoint_due(self, rows: Sequence[dict[str, Any]]) -> bool:
        """Whether a group just written crossed a multiple of ``checkpoint_every``."""
        if not rows:
            return False
        first, last = rows[0]["seq"], rows[-1]["seq"]
        return last // self.checkpoint_every > (first - 1) // self.checkpoint_every

    def checkpoint(self) -> str | None:
        """Write the current head to the object store (write-once); None when the log is empty."""
        with self.rt.sessions() as session:
            head = session.execute(select(AccessLogHead.seq, AccessLogHead.hash).where(AccessLogHead.id == 1)).one()
        if head.seq == 0:
            return None
        key = checkpoint_key(head.seq, head.hash)
        body = {
            "seq": head.seq,
            "hash": head.hash,
            "algorithm": self.algorithm,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if not self.rt.store.exists(key):
            self.rt.store.put(key, json.dumps(body, sort_keys=True).encode("utf-8"))
        return key


def _entry(row: dict[str, Any]) -> AccessLogEntry:
    """A detached ORM object for a written row, JSON fields decoded as the database returns them."""
    return AccessLogEntry(**{**row, "targets": json.loads(row["targets"]), "detail": json.loads(row["detail"])})
