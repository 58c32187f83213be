"""安全性 (security): each object is protected against being overwritten or removed.

Nothing is probed destructively: the backend's own protection is read (``protection.py``).  On the
filesystem store body and digest sidecar must be read-only (no write bit: ``0444``); on MinIO/S3 the
archived version must be under an unexpired object-lock retention or a legal hold.  A backend that
exposes no protection is counted as skipped, not as passed.  Who may read an object (authorisation)
is checked by the API's tests, not here.
"""

from __future__ import annotations

from datetime import datetime

from archive.integrity.context import CheckContext
from archive.integrity.report import Findings
from archive.retention.period import required_hold
from archive.storage.base import Hold, ObjectNotFound, StoreError
from archive.storage.replica import ReplicatedStore

_CODES = {"file_mode": "object_writable", "object_lock": "object_unlocked"}


def write_protection(ctx: CheckContext) -> Findings:
    out = Findings()
    for obj in ctx.objects:
        if obj.key in ctx.failed:
            out.skipped += 1
            continue
        try:
            found = ctx.protection(obj.key)
        except StoreError as exc:
            out.checked += 1
            out.fail(exc.code, f"无法读取保护设置：{exc}", key=obj.key, dossiers=obj.dossiers)
            continue
        if not found.exists or found.protected is None:
            out.skipped += 1
            continue
        out.checked += 1
        if not found.protected:
            code = _CODES.get(found.mechanism, "object_unprotected")
            out.fail(code, f"对象未受保护：{found.detail}", key=obj.key, dossiers=obj.dossiers)
    return out


def _needed(ctx: CheckContext, owners: tuple[str, ...]) -> Hold | None:
    """The strongest hold the object's archived dossiers need (None: no archived owner)."""
    needs = [required_hold(d) for d in (ctx.dossier(i) for i in owners) if d.archived]
    if not needs:
        return None
    if any(n.legal_hold for n in needs):
        return Hold(legal_hold=True)
    return Hold(retain_until=max(n.retain_until for n in needs if n.retain_until is not None))


def _shown(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else "未设置"


def retention_set(ctx: CheckContext) -> Findings:
    """保管期限: every object of an archived dossier is held by the store until the dossier's retention
    ends (a legal hold for 永久), so nothing can be deleted before its appraisal."""
    out = Findings()
    for obj in ctx.objects:
        need = _needed(ctx, obj.dossiers)
        if obj.key in ctx.failed or need is None:
            out.skipped += 1
            continue
        out.checked += 1
        try:
            held = ctx.store.hold(obj.key)
        except StoreError as exc:
            out.fail(exc.code, f"无法读取保留设置：{exc}", key=obj.key, dossiers=obj.dossiers)
            continue
        if need.legal_hold and not held.legal_hold:
            detail = (
                f"永久保管的对象未设置法律保留（保留至 {_shown(held.retain_until)}；请运行 archive retention apply）"
            )
            out.fail("legal_hold_missing", detail, key=obj.key, dossiers=obj.dossiers)
        elif not held.legal_hold and (held.retain_until is None or held.retain_until < need.retain_until):
            detail = (
                f"保留期限 {_shown(held.retain_until)} 早于保管期限届满日 {_shown(need.retain_until)}"
                "（请运行 archive retention apply）"
            )
            out.fail("retention_short", detail, key=obj.key, dossiers=obj.dossiers)
    return out


def replica_in_step(ctx: CheckContext) -> Findings:
    """双重备份: with a replica configured, it holds every object with the digest the records expect.

    Metadata only (the replica's recorded digest); ``archive replicate`` re-reads and copies."""
    out = Findings()
    store = ctx.store
    if not isinstance(store, ReplicatedStore):
        out.skipped += len(ctx.objects)  # no replica configured: nothing to be in step with
        return out
    try:
        replica = store.replica_store()
    except StoreError as exc:
        for obj in ctx.objects:
            out.checked += 1
            out.fail(exc.code, f"副本不可用：{exc}", key=obj.key, dossiers=obj.dossiers)
        return out
    for obj in ctx.objects:
        if obj.key in ctx.failed:
            out.skipped += 1
            continue
        out.checked += 1
        try:
            info = replica.stat(obj.key)
        except ObjectNotFound:
            out.fail(
                "replica_missing", "副本缺少该对象（请运行 archive replicate）", key=obj.key, dossiers=obj.dossiers
            )
            continue
        except StoreError as exc:
            out.fail(exc.code, f"无法读取副本：{exc}", key=obj.key, dossiers=obj.dossiers)
            continue
        if obj.sha256 is not None and info.sha256 != obj.sha256:
            detail = f"副本记录的哈希 {info.sha256[:12]}… 与记录 {obj.sha256[:12]}… 不符（请运行 archive replicate）"
            out.fail("replica_mismatch", detail, key=obj.key, dossiers=obj.dossiers)
    return out
