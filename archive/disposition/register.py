"""销毁清册 (destruction register): the document an approved destruction leaves behind.

One JSON document per approved destruction, written once to the object store under
``registers/destruction/<register id>.json`` and put under a legal hold at once, so it outlives
everything it lists.  One entry per dossier: 档号, 题名, dates, 保管期限 and the day it ended, page
count, and every stored object with its SHA-256 and whether it is deleted or kept because another
dossier still uses it.  The appraisal (decision, reason, proposer and approver with their times)
heads it.  Keys are English; ``labels`` names them in Chinese.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.disposition.scope import office_clause, sees
from archive.disposition.status import OUTCOME_ZH
from archive.errors import NotFound, Unavailable
from archive.integrity.snapshot import KIND_LABELS, DossierSnapshot, objects_of
from archive.records.models import Appraisal, DestructionRegister, DisposalObject, as_utc
from archive.storage.base import Hold, IntegrityError, ObjectNotFound, ObjectStore, StoreError, sha256_bytes

FORMAT = "shebao-archive/destruction-register/1"
PREFIX = "registers/destruction/"
DELETE = "delete"
KEEP_SHARED = "keep_shared"
LABELS = {
    "archive_number": "档号",
    "title": "题名",
    "date_start": "起始日期",
    "date_end": "终止日期",
    "retention": "保管期限",
    "retention_end": "保管期限届满日",
    "page_count": "页数",
    "business_type": "业务类型",
    "decision": "鉴定结论",
    "reason": "鉴定意见",
    "proposed_by": "提议人",
    "proposed_at": "提议时间",
    "approved_by": "批准人",
    "approved_at": "批准时间",
    "objects": "存储对象",
    "sha256": "SHA-256",
    "action": "处置（delete 删除 / keep_shared 与其他案卷共用而保留）",
}


def register_key(register_id: str) -> str:
    return f"{PREFIX}{register_id}.json"


@dataclass(frozen=True)
class RegisterObject:
    key: str
    kind: str
    sha256: str | None
    size: int | None
    action: str  # delete|keep_shared
    shared_with: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "kind_label": KIND_LABELS.get(self.kind, self.kind),  # type: ignore[call-overload]
            "sha256": self.sha256,
            "size": self.size,
            "action": self.action,
            "shared_with": list(self.shared_with),
        }


@dataclass(frozen=True)
class RegisterEntry:
    dossier_id: str
    archive_number: str | None
    title: str | None
    business_type: str | None
    date_start: date | None
    date_end: date | None
    retention: str | None
    retention_end: date
    page_count: int
    objects: tuple[RegisterObject, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "dossier_id": self.dossier_id,
            "archive_number": self.archive_number,
            "title": self.title,
            "business_type": self.business_type,
            "date_start": _day(self.date_start),
            "date_end": _day(self.date_end),
            "retention": self.retention,
            "retention_end": self.retention_end.isoformat(),
            "page_count": self.page_count,
            "objects": [o.to_json() for o in self.objects],
        }


@dataclass(frozen=True)
class RegisterDocument:
    id: str
    appraisal_id: str
    office: str
    decision: str
    reason: str
    proposed_by: str
    proposed_at: datetime
    approved_by: str
    approved_at: datetime
    entries: tuple[RegisterEntry, ...]

    def objects(self) -> dict[str, tuple[RegisterObject, list[str]]]:
        """Every object once: key -> (the object, the destroyed dossiers referencing it)."""
        found: dict[str, tuple[RegisterObject, list[str]]] = {}
        for entry in self.entries:
            for obj in entry.objects:
                found.setdefault(obj.key, (obj, []))[1].append(entry.dossier_id)
        return found

    def to_json(self) -> dict[str, Any]:
        objects = self.objects()
        return {
            "format": FORMAT,
            "title": "销毁清册",
            "id": self.id,
            "appraisal_id": self.appraisal_id,
            "office": self.office,
            "decision": self.decision,
            "reason": self.reason,
            "proposed_by": self.proposed_by,
            "proposed_at": as_utc(self.proposed_at).isoformat(),
            "approved_by": self.approved_by,
            "approved_at": as_utc(self.approved_at).isoformat(),
            "totals": {
                "dossiers": len(self.entries),
                "pages": sum(e.page_count for e in self.entries),
                "objects": len(objects),
                "objects_to_delete": sum(1 for o, _ in objects.values() if o.action == DELETE),
                "objects_kept_shared": sum(1 for o, _ in objects.values() if o.action == KEEP_SHARED),
            },
            "entries": [e.to_json() for e in self.entries],
            "labels": LABELS,
        }

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def build(
    register_id: str,
    appraisal: Appraisal,
    approved_by: str,
    approved_at: datetime,
    dossiers: Sequence[DossierSnapshot],
    ends: Mapping[str, date],
    shared: Mapping[str, list[str]],
) -> RegisterDocument:
    """The register for ``dossiers`` (snapshots taken before their content is cleared); ``ends`` holds
    each one's retention end, ``shared`` the other dossiers still referencing a key (``sharing``)."""
    entries = []
    for d in dossiers:
        objects = tuple(
            RegisterObject(
                key=ref.key,
                kind=ref.kind,
                sha256=ref.sha256,
                size=ref.size,
                action=KEEP_SHARED if ref.key in shared else DELETE,
                shared_with=tuple(shared.get(ref.key, ())),
            )
            for ref in objects_of([d])
        )
        entries.append(
            RegisterEntry(
                dossier_id=d.id,
                archive_number=d.archive_number,
                title=d.title,
                business_type=d.business_type,
                date_start=d.date_start,
                date_end=d.date_end,
                retention=d.retention,
                retention_end=ends[d.id],
                page_count=d.page_count,
                objects=objects,
            )
        )
    return RegisterDocument(
        id=register_id,
        appraisal_id=appraisal.id,
        office=appraisal.office,
        decision=appraisal.decision,
        reason=appraisal.reason,
        proposed_by=appraisal.proposed_by,
        proposed_at=appraisal.proposed_at,
        approved_by=approved_by,
        approved_at=approved_at,
        entries=tuple(entries),
    )


@dataclass(frozen=True)
class StoredRegister:
    key: str
    sha256: str
    size: int
    hold: Hold


def store_register(store: ObjectStore, document: RegisterDocument) -> StoredRegister:
    """Write the register once and put it under a legal hold; the store must keep both."""
    key = register_key(document.id)
    try:
        info = store.put(key, document.encode())
        hold = store.retain(key, legal_hold=True)
    except StoreError as exc:
        raise Unavailable("store_unavailable", f"销毁清册无法写入对象存储（{exc.code}），未执行销毁") from exc
    if not hold.legal_hold:
        raise Unavailable("register_not_held", "对象存储未能对销毁清册设置法律保留，未执行销毁")
    return StoredRegister(key=key, sha256=info.sha256, size=info.size, hold=hold)


def read_register(store: ObjectStore, key: str, sha256: str) -> dict[str, Any]:
    """The stored register, checked by the store's own hash and against the digest the records hold."""
    try:
        data = store.get(key)
    except IntegrityError as exc:
        raise Unavailable("register_corrupt", "销毁清册在对象存储中已损坏（校验不符）") from exc
    except ObjectNotFound as exc:
        raise Unavailable("register_missing", "销毁清册在对象存储中缺失") from exc
    except StoreError as exc:
        raise Unavailable("store_unavailable", f"销毁清册无法从对象存储读取（{exc.code}）") from exc
    if sha256_bytes(data) != sha256:
        raise Unavailable("register_corrupt", "销毁清册与数据库记录的 SHA-256 不符")
    return json.loads(data)


@dataclass(frozen=True)
class RegisterView:
    """A register as read back: the stored document and what became of each object since."""

    id: str
    appraisal_id: str
    office: str
    key: str
    sha256: str
    created_by: str
    created_at: datetime
    document: dict[str, Any]
    objects: tuple[dict[str, Any], ...]

    @property
    def totals(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for obj in self.objects:
            counts[obj["outcome"]] = counts.get(obj["outcome"], 0) + 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "appraisal_id": self.appraisal_id,
            "office": self.office,
            "key": self.key,
            "sha256": self.sha256,
            "created_by": self.created_by,
            "created_at": as_utc(self.created_at).isoformat(),
            "totals": self.totals,
            "objects": list(self.objects),
            "document": self.document,
        }


def _row(session: Session, register_id: str, office: str | None) -> DestructionRegister:
    row = session.get(DestructionRegister, register_id)
    if row is None or not sees(office, row.office):
        raise NotFound("register_not_found", "销毁清册不存在或不在您的经办机构范围内")
    return row


def open_register(session: Session, store: ObjectStore, register_id: str, office: str | None) -> RegisterView:
    """The register of ``office`` (None/``*``: any), its document read back from the store and checked."""
    row = _row(session, register_id, office)
    document = read_register(store, row.object_key, row.sha256)
    objects = tuple(
        {
            "key": o.object_key,
            "kind": o.kind,
            "sha256": o.sha256,
            "dossiers": list(o.dossier_ids),
            "outcome": o.outcome,
            "outcome_label": OUTCOME_ZH.get(o.outcome, o.outcome),
            "detail": o.detail,
            "attempts": o.attempts,
            "last_attempt_at": as_utc(o.last_attempt_at).isoformat() if o.last_attempt_at else None,
        }
        for o in session.scalars(
            select(DisposalObject).where(DisposalObject.register_id == row.id).order_by(DisposalObject.object_key)
        )
    )
    return RegisterView(
        id=row.id,
        appraisal_id=row.appraisal_id,
        office=row.office,
        key=row.object_key,
        sha256=row.sha256,
        created_by=row.created_by,
        created_at=as_utc(row.created_at),
        document=document,
        objects=objects,
    )


def list_registers(session: Session, office: str | None) -> list[DestructionRegister]:
    query = select(DestructionRegister).where(office_clause(DestructionRegister.office, office))
    return list(session.scalars(query.order_by(DestructionRegister.created_at, DestructionRegister.id)))
