"""Appending to the access log.

Appenders serialise on the single ``access_log_head`` row: the UPDATE that advances its sequence
number takes the database's write lock (SQLite) or the row lock (PostgreSQL) before the previous
hash is read, so two processes can never chain onto the same entry.  Entries and the new head are
committed together; a checkpoint (sequence number, head hash, time) is written to the object store,
write-once, every ``checkpoint_every`` entries and on demand (at shutdown).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, update

from archive.audit.chain import GENESIS, canonical, hasher
from archive.ids import new_id
from archive.records.models import AccessLogEntry, AccessLogHead
from archive.runtime import Runtime

CHECKPOINTS = "audit/checkpoints/"


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


def checkpoint_key(seq: int, head: str) -> str:
    return f"{CHECKPOINTS}{seq:012d}-{head}.json"


class AccessLog:
    def __init__(self, rt: Runtime, algorithm: str = "sha256", checkpoint_every: int = 1000) -> None:
        self.rt = rt
        self.algorithm = algorithm
        self.hash = hasher(algorithm)
        self.checkpoint_every = checkpoint_every
        self._ensure_head()

    def _ensure_head(self) -> None:
        with self.rt.sessions.begin() as session:
            if session.get(AccessLogHead, 1) is None:
                session.add(AccessLogHead(id=1, seq=0, hash=GENESIS))

    def append(self, event: AccessEvent) -> AccessLogEntry:
        return self.append_many([event])[0]

    def append_many(self, events: list[AccessEvent]) -> list[AccessLogEntry]:
        """Append in one durable transaction (a group commit when there are several)."""
        if not events:
            return []
        with self.rt.sessions.begin() as session:
            session.execute(
                update(AccessLogHead).where(AccessLogHead.id == 1).values(seq=AccessLogHead.seq + len(events))
            )
            head = session.execute(select(AccessLogHead.seq, AccessLogHead.hash).where(AccessLogHead.id == 1)).one()
            first = head.seq - len(events) + 1
            prev = head.hash
            now = datetime.now(UTC).isoformat(timespec="microseconds")
            rows = []
            for offset, event in enumerate(events):
                entry = {
                    "seq": first + offset,
                    "id": new_id(),
                    "at": now,
                    "actor": event.actor,
                    "role": event.role,
                    "office": event.office,
                    "client": event.client,
                    "action": event.action,
                    "targets": list(event.targets),
                    "reason": event.reason,
                    "outcome": event.outcome,
                    "detail": json.loads(json.dumps(event.detail, ensure_ascii=False)),  # as the database returns it
                }
                digest = self.hash(canonical(entry, prev))
                rows.append(AccessLogEntry(**entry, prev=prev, hash=digest, algorithm=self.algorithm))
                prev = digest
            session.add_all(rows)
            session.execute(update(AccessLogHead).where(AccessLogHead.id == 1).values(hash=prev))
        last = rows[-1].seq
        if last // self.checkpoint_every > (first - 1) // self.checkpoint_every:
            self.checkpoint()
        return rows

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
