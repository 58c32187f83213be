"""How a stored object is protected against being overwritten or removed, as far as its backend says.

Nothing here writes or deletes: the filesystem store is asked for file modes (``0444`` body and
sidecar), the MinIO store for the object-lock headers of the archived (oldest) version, through one
listing and one HEAD request.  Other backends expose nothing: ``protected`` is None there.  Presence
is answered here too (``exists``), from the same requests.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from datetime import datetime

from archive.storage.base import ObjectNotFound, ObjectStore, StoreError, validate_key
from archive.storage.filesystem import SIDECAR, FilesystemStore


@dataclass(frozen=True)
class Protection:
    exists: bool
    mechanism: str  # file_mode | object_lock | none
    protected: bool | None  # None: the backend exposes no protection to inspect
    detail: str  # for people (Chinese)
    mode: str | None = None  # file mode (octal) or object-lock mode
    retain_until: datetime | None = None
    legal_hold: bool | None = None


MISSING = Protection(exists=False, mechanism="none", protected=None, detail="对象不存在")


def _file_protection(store: FilesystemStore, key: str) -> Protection:
    body = store.root / validate_key(key)
    side = body.with_name(body.name + SIDECAR)
    try:
        body_mode = stat.S_IMODE(os.stat(body).st_mode)
        side_mode = stat.S_IMODE(os.stat(side).st_mode)
    except FileNotFoundError:
        return MISSING
    writable = [name for name, mode in (("文件", body_mode), ("摘要文件", side_mode)) if mode & 0o222]
    shown = f"{body_mode:04o}/{side_mode:04o}"
    if writable:
        return Protection(True, "file_mode", False, f"{'、'.join(writable)}权限 {shown} 允许写入", shown)
    return Protection(True, "file_mode", True, f"只读（{shown}）", shown)


def _lock_protection(store, key: str, now: datetime) -> Protection:
    """The archived (oldest) version's object-lock headers on an S3/MinIO store."""
    try:
        mode, held = store.lock_state(key)
    except ObjectNotFound:
        return MISSING
    except StoreError as exc:  # connection errors and refusals: reported, never taken for "unprotected"
        raise StoreError(f"无法读取对象 {key} 的保护设置（{exc.code}）") from exc
    until, hold = held.retain_until, held.legal_hold
    retained = mode is not None and until is not None and until > now
    parts = []
    if mode is not None:
        parts.append(f"保留模式 {mode}，至 {until.isoformat() if until else '?'}" + ("" if retained else "（已过期）"))
    if hold:
        parts.append("法律保留 ON")
    if not parts:
        parts.append("未设置对象保留或法律保留，可被删除")
    return Protection(True, "object_lock", retained or hold, "；".join(parts), mode, until, hold)


def protection(store: ObjectStore, key: str, now: datetime) -> Protection:
    """The object's protection; raises ``StoreError`` when the backend cannot be asked.

    A replicated store (``archive.storage.replica``) answers for its primary, the archive: whether the
    replica holds the object, protected, is a question for a "replica in step" check, which can call
    this function on ``store.replica_store()``.
    """
    with contextlib.suppress(ImportError):
        from archive.storage.replica import ReplicatedStore

        if isinstance(store, ReplicatedStore):
            return protection(store.primary, key, now)
    if isinstance(store, FilesystemStore):
        return _file_protection(store, key)
    with contextlib.suppress(ImportError):
        from archive.storage.minio_store import MinioStore

        if isinstance(store, MinioStore):
            return _lock_protection(store, key, now)
    if not store.exists(key):
        return MISSING
    return Protection(True, "none", None, "存储后端未提供保护设置")
