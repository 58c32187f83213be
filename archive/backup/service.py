"""Backup, check and restore of the records: the three operations behind ``archive backup``.

Each returns a dataclass and raises ``ServiceError`` (a stable code, a Chinese message); the command
line shows progress, writes the access-log entries and turns errors into exit statuses.

A restore also writes a write-once restore record to the object store (``audit/restores/``) naming the
checkpoints past the backup's head that it supersedes; the ``backup_restore`` entry the command line
then appends names the record, and ``archive audit verify`` honours the record only with that entry
(``archive.audit.verify``).
"""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import URL, make_url

from archive.audit.log import restore_key
from archive.audit.verify import StoreLog, Verification, read_checkpoints, verify
from archive.errors import Invalid, ServiceError, Unavailable
from archive.ids import new_id
from archive.indexing.backend import backend_name
from archive.records.db import alembic_config, make_engine
from archive.records.models import Base
from archive.runtime import Runtime, open_runtime
from archive.settings import Settings
from archive.storage.base import ObjectNotFound, ObjectStore, StoreError, sha256_file
from archive.storage.factory import open_store

from . import facts, postgres, sqlite
from .chain import check_copy, checkpoints_after, store_checkpoints
from .manifest import (
    DATABASE_FILES,
    MANIFEST,
    MISSING_KEYS_KEPT,
    FileEntry,
    Manifest,
    ObjectSummary,
    Snapshot,
    read_manifest,
    write_manifest,
)

# (step, done, total): total None while unknown.  Steps: snapshot, objects, check, reindex, restore.
ProgressHook = Callable[[str, int, int | None], None]


def _quiet(step: str, done: int, total: int | None) -> None:
    return None


@dataclass(frozen=True)
class Problem:
    code: str
    message: str


@dataclass
class CheckReport:
    """``archive backup verify``: the files against the manifest, the copy against the manifest."""

    dest: Path
    manifest: Manifest
    problems: list[Problem] = field(default_factory=list)
    found: Snapshot | None = None
    chain: Verification | None = None
    later_entries: int = 0  # entries the store's checkpoints show after the backup (not a problem)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dest": str(self.dest),
            "kind": self.manifest.database_kind,
            "created_at": self.manifest.created_at,
            "problems": [asdict(p) for p in self.problems],
            "tables": self.found.tables if self.found else None,
            "access_log": self.chain.as_dict() if self.chain else None,
            "later_entries": self.later_entries,
        }


@dataclass
class CreateResult:
    dest: Path
    manifest: Manifest
    check: CheckReport

    def to_json(self) -> dict[str, Any]:
        return {"dest": str(self.dest), "manifest": self.manifest.to_json(), "check": self.check.to_json()}


@dataclass
class RestoreResult:
    manifest: Manifest
    kept: str | None  # where the replaced database was kept, if there was one
    chain: Verification
    lost_entries: int  # access-log entries written after the backup that it cannot bring back
    pages_indexed: int
    objects_checked: int
    missing: list[str]
    restore_record: str | None = None  # the key of the restore record written to the object store
    superseded: int = 0  # checkpoints past the backup's head that the record supersedes

    @property
    def ok(self) -> bool:
        return not self.missing

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "created_at": self.manifest.created_at,
            "kind": self.manifest.database_kind,
            "tables": self.manifest.snapshot.tables,
            "kept": self.kept,
            "access_log": self.chain.as_dict(),
            "lost_entries": self.lost_entries,
            "pages_indexed": self.pages_indexed,
            "objects_checked": self.objects_checked,
            "missing": self.missing,
            "restore_record": self.restore_record,
            "superseded": self.superseded,
        }


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _kind(url: URL) -> str:
    kind = url.get_backend_name()
    if kind not in DATABASE_FILES:
        raise Invalid("backup_unsupported_database", f"不支持备份 {kind} 数据库（仅 SQLite 与 PostgreSQL）")
    return kind


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise Invalid("backup_unsupported_database", "内存中的 SQLite 数据库无法备份或恢复")
    return Path(url.database)


def _store_location(settings: Settings) -> tuple[str, str]:
    if settings.s3_endpoint:
        return "s3", f"{settings.s3_endpoint}/{settings.s3_bucket}"
    return "filesystem", str(settings.objects_dir.resolve())


# -- create ---------------------------------------------------------------------------------------


def _prepare_dest(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    taken = [name for name in (MANIFEST, *DATABASE_FILES.values()) if (dest / name).exists()]
    if taken:
        raise Invalid("backup_dest_not_empty", f"{dest} 中已有备份文件（{'、'.join(taken)}），不会覆盖；请换一个目录")
    return dest


def _object_summary(
    settings: Settings, store: ObjectStore, keys: Iterable[str], total: int, check: bool, progress: ProgressHook
) -> ObjectSummary:
    kind, location = _store_location(settings)
    if not check:
        return ObjectSummary(store=kind, location=location, checked=False, bytes=None, missing=0)
    size, missing = 0, []
    progress("objects", 0, total)
    for n, key in enumerate(keys, start=1):
        try:
            size += store.stat(key).size
        except ObjectNotFound:
            missing.append(key)
        except StoreError as exc:
            raise Unavailable("object_store_unavailable", f"对象存储不可用：{exc}") from exc
        progress("objects", n, total)
    return ObjectSummary(
        store=kind,
        location=location,
        checked=True,
        bytes=size,
        missing=len(missing),
        missing_keys=missing[:MISSING_KEYS_KEPT],
    )


def _snapshot_sqlite(
    rt: Runtime, target: Path, check_objects: bool, progress: ProgressHook
) -> tuple[str, Snapshot, ObjectSummary]:
    progress("snapshot", 0, None)
    version = sqlite.snapshot(_sqlite_path(rt.db.url), target)
    progress("snapshot", 1, 1)
    with sqlite.open_readonly(target) as conn:
        rows = facts.sqlite_rows(conn)
        snap = facts.snapshot(rows, "sqlite")
        keys = facts.referenced_keys(rows, snap.tables)
        objects = _object_summary(rt.settings, rt.store, keys, snap.referenced_objects, check_objects, progress)
    return version, snap, objects


def _snapshot_postgres(
    rt: Runtime, target: Path, check_objects: bool, progress: ProgressHook
) -> tuple[str, Snapshot, ObjectSummary]:
    with postgres.exported_snapshot(rt.db) as (conn, snapshot_id):
        progress("snapshot", 0, None)
        postgres.dump(rt.db.url, snapshot_id, target)
        progress("snapshot", 1, 1)
        version = postgres.server_version(conn)
        snap = facts.snapshot(facts.sqlalchemy_rows(conn), "postgresql")
        keys = facts.referenced_keys(facts.sqlalchemy_rows(conn, stream=True), snap.tables)
        objects = _object_summary(rt.settings, rt.store, keys, snap.referenced_objects, check_objects, progress)
    return version, snap, objects


def create_backup(
    rt: Runtime, dest: Path, actor: str, *, check_objects: bool = True, progress: ProgressHook = _quiet
) -> CreateResult:
    """Snapshot the records database into ``dest`` (consistent while the service runs), write the
    manifest, then check the backup as ``verify_backup`` does."""
    kind = _kind(rt.db.url)
    try:
        dest = _prepare_dest(dest)
        target = dest / DATABASE_FILES[kind]
        started = _utc_now()  # the snapshot's time
        make = _snapshot_sqlite if kind == "sqlite" else _snapshot_postgres
        version, snap, objects = make(rt, target, check_objects, progress)
        digest, size = sha256_file(target)
        manifest = Manifest(
            created_at=started,
            created_by=actor,
            host=socket.gethostname(),
            database_kind=kind,
            database_version=version,
            files={target.name: FileEntry(sha256=digest, size=size)},
            snapshot=snap,
            objects=objects,
            search_backend=backend_name(rt.settings),
        )
        write_manifest(dest, manifest)
    except OSError as exc:
        raise Unavailable("backup_write_failed", f"无法写入备份目录 {dest}：{exc}") from exc
    check = verify_backup(dest, store_checkpoints(rt.store), progress)
    return CreateResult(dest=dest, manifest=manifest, check=check)


# -- verify ---------------------------------------------------------------------------------------


def _check_files(dest: Path, manifest: Manifest, progress: ProgressHook) -> list[Problem]:
    problems = []
    if manifest.database_file not in manifest.files:
        problems.append(Problem("backup_manifest_invalid", f"清单未列出数据库文件 {manifest.database_file}"))
    for name, entry in sorted(manifest.files.items()):
        path = dest / name
        if Path(name).name != name or not path.is_file():
            problems.append(Problem("backup_file_missing", f"备份文件 {name} 不存在"))
            continue
        progress("check", 0, None)
        try:
            digest, size = sha256_file(path)
        except OSError as exc:
            problems.append(Problem("backup_unreadable", f"备份文件 {name} 无法读取：{exc}"))
            continue
        if digest != entry.sha256 or size != entry.size:
            message = f"备份文件 {name} 的 SHA-256 或大小与清单不符（已损坏或被改动）"
            problems.append(Problem("backup_hash_mismatch", message))
    return problems


def _compare(expected: Snapshot, found: Snapshot) -> list[Problem]:
    problems = []
    for name in sorted(set(expected.tables) | set(found.tables)):
        want, have = expected.tables.get(name), found.tables.get(name)
        if want != have:
            message = f"表 {name}：清单记录 {want if want is not None else '无此表'}，备份中 {have if have is not None else '无此表'}"
            problems.append(Problem("backup_count_mismatch", message))
    if expected.revision != found.revision:
        message = f"清单记录迁移版本 {expected.revision}，备份中为 {found.revision}"
        problems.append(Problem("backup_revision_mismatch", message))
    if (expected.head.seq, expected.head.hash, expected.head.entries) != (
        found.head.seq,
        found.head.hash,
        found.head.entries,
    ):
        message = (
            f"清单记录访问日志链头 #{expected.head.seq} {expected.head.hash[:12]}…（{expected.head.entries} 条），"
            f"备份中为 #{found.head.seq} {found.head.hash[:12]}…（{found.head.entries} 条）"
        )
        problems.append(Problem("backup_head_mismatch", message))
    if expected.referenced_objects != found.referenced_objects:
        message = f"清单记录引用对象 {expected.referenced_objects} 个，备份中为 {found.referenced_objects} 个"
        problems.append(Problem("backup_count_mismatch", message))
    return problems


def _read_copy(
    path: Path, kind: str, checkpoints: StoreLog, progress: ProgressHook
) -> tuple[Snapshot, Verification | None, list[Problem]]:
    """Open the database copy read-only: its facts, its chain, and what is wrong with the file itself."""
    problems = []
    if kind == "sqlite":
        with sqlite.open_readonly(path) as conn:
            problems += [
                Problem("backup_corrupt", f"SQLite 完整性检查：{line}") for line in sqlite.integrity_problems(conn)
            ]
            found = facts.snapshot(facts.sqlite_rows(conn), "sqlite")
            chain = check_copy(conn, found.head, checkpoints) if "access_log" in found.tables else None
        return found, chain, problems
    with postgres.read_dump(path, lambda n: progress("check", n, None)) as contents:
        found = facts.snapshot(facts.sqlite_rows(contents.mirror), "sqlite", counts=contents.counts)
        chain = check_copy(contents.mirror, found.head, checkpoints) if "access_log" in found.tables else None
    return found, chain, problems


def verify_backup(dest: Path, checkpoints: StoreLog | None = None, progress: ProgressHook = _quiet) -> CheckReport:
    """Re-hash the files, open the copy read-only, compare it with the manifest and walk its
    access-log chain (against the store's checkpoints up to its head, when given)."""
    manifest = read_manifest(dest)
    report = CheckReport(dest=dest, manifest=manifest)
    report.problems += _check_files(dest, manifest, progress)
    path = dest / manifest.database_file
    if not path.is_file():
        return report
    checkpoints = checkpoints or StoreLog([], [])
    try:
        found, chain, problems = _read_copy(path, manifest.database_kind, checkpoints, progress)
    except sqlite3.DatabaseError as exc:
        report.problems.append(Problem("backup_unreadable", f"备份数据库无法读取：{exc}"))
        return report
    except ServiceError as exc:
        report.problems.append(Problem(exc.code, exc.message))
        return report
    report.found, report.chain = found, chain
    report.problems += problems + _compare(manifest.snapshot, found)
    if chain is not None and not chain.ok:
        report.problems.append(Problem("backup_chain_broken", chain.summary()))
    report.later_entries = checkpoints_after(checkpoints, found.head.seq)
    progress("check", 1, 1)
    return report


# -- restore --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetState:
    """The configured database before a restore."""

    exists: bool
    counts: dict[str, int]
    busy: int  # other connections (0: none)

    @property
    def empty(self) -> bool:
        return not self.exists or facts.is_empty(self.counts)

    def describe(self) -> str:
        if "?" in self.counts:
            return "现有数据库文件无法读取"
        shown = {k: v for k, v in self.counts.items() if v and k not in facts.BOOKKEEPING}
        return "、".join(f"{name} {n} 行" for name, n in sorted(shown.items())) or "内容无法读取"


def target_state(settings: Settings) -> TargetState:
    url = make_url(settings.db_url)
    if _kind(url) == "sqlite":
        path = _sqlite_path(url)
        if not path.exists():
            return TargetState(exists=False, counts={}, busy=0)
        busy = int(sqlite.in_use(path))
        try:
            with sqlite.open_readonly(path) as conn:
                rows = facts.sqlite_rows(conn)
                counts = facts.table_counts(rows, facts.table_names(rows, "sqlite"))
        except sqlite3.DatabaseError:
            counts = {"?": 1}  # unreadable: treated as not empty
        return TargetState(exists=True, counts=counts, busy=busy)
    engine = make_engine(settings.db_url)
    try:
        with engine.connect() as conn:
            busy = postgres.other_sessions(conn)
            rows = facts.sqlalchemy_rows(conn)
            counts = facts.table_counts(rows, facts.table_names(rows, "postgresql"))
    except Exception as exc:  # noqa: BLE001 — any connection failure is reported the same way
        raise Unavailable("restore_database_unreachable", f"无法连接目标数据库：{exc}") from exc
    finally:
        engine.dispose()
    return TargetState(exists=True, counts=counts, busy=busy)


def _require_known_revision(revision: str | None, settings: Settings) -> None:
    if revision is None:
        return
    scripts = ScriptDirectory.from_config(alembic_config(settings.db_url))
    try:
        scripts.get_revision(revision)
    except CommandError as exc:
        raise Invalid(
            "restore_revision_unknown", f"备份的数据库迁移版本 {revision} 比本程序新，请先升级程序再恢复"
        ) from exc


def _place(
    settings: Settings, dest: Path, manifest: Manifest, state: TargetState, progress: ProgressHook
) -> str | None:
    """Put the backup's database in place of the configured one; where the old one was kept."""
    url = make_url(settings.db_url)
    source = dest / manifest.database_file
    progress("restore", 0, None)
    if manifest.database_kind == "sqlite":
        kept = sqlite.place(source, _sqlite_path(url), _stamp())
        progress("restore", 1, 1)
        return str(kept) if kept else None
    kept_dump = None
    if not state.empty:  # the log entries since the backup live only there: keep them
        settings.home.mkdir(parents=True, exist_ok=True)
        kept_dump = settings.home / f"pre-restore-{_stamp()}.pgdump"
        postgres.dump(url, None, kept_dump)
    postgres.restore(url, source)
    # Tables of a newer schema than the backup's (only the archive's own): dropped, migrations recreate them.
    ours = set(Base.metadata.tables) | {"alembic_version"}
    leftovers = sorted((set(state.counts) & ours) - set(manifest.snapshot.tables))
    engine = make_engine(settings.db_url)
    try:
        postgres.drop_tables(engine, leftovers)
    finally:
        engine.dispose()
    progress("restore", 1, 1)
    return str(kept_dump) if kept_dump else None


def _restored_chain(rt: Runtime, manifest: Manifest, checkpoints: StoreLog) -> tuple[Verification, int]:
    """``archive audit verify`` on the restored log; the entries after the backup that are gone.

    A restore brings the log back to the backup's head: where the store's write-once checkpoints run
    past it, ``verify`` reports the tail as truncated.  That is expected (and reported as lost
    entries); anything else is a broken chain.
    """
    result = verify(rt)
    head = manifest.snapshot.head
    lost = checkpoints_after(checkpoints, head.seq)
    expected_gap = result.code == "truncated" and result.entries == head.seq and lost > 0
    if not result.ok and not expected_gap:
        raise ServiceError("restore_chain_broken", f"恢复后的访问日志校验未通过：{result.summary()}")
    if result.entries != head.seq:
        raise ServiceError(
            "restore_chain_broken", f"恢复后的访问日志有 {result.entries} 条，备份清单记录 {head.seq} 条"
        )
    with rt.db.connect() as conn:
        last = conn.exec_driver_sql(f"SELECT hash FROM access_log WHERE seq = {int(head.seq)}").scalar()
    if head.seq and last != head.hash:
        raise ServiceError("restore_chain_broken", "恢复后的访问日志链头哈希与备份清单不符")
    return result, lost


def _write_restore_record(rt: Runtime, manifest: Manifest, manifest_sha256: str, actor: str) -> tuple[str, int]:
    """Write the write-once restore record (the restored head, the backup, the actor, and the exact
    keys of the checkpoints past the head, present now, that the restore supersedes); its key and
    how many checkpoints it lists.  Called once the restored chain is verified up to the head."""
    head = manifest.snapshot.head
    now = datetime.now(UTC)
    key = restore_key(now, new_id())
    try:
        superseded = [c.key for c in read_checkpoints(rt.store) if c.seq > head.seq]
        body = {
            "format": "shebao-archive-restore",
            "format_version": 1,
            "at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "actor": actor,
            "host": socket.gethostname(),
            "restored_head": {"seq": head.seq, "hash": head.hash},
            "backup": {
                "manifest_sha256": manifest_sha256,
                "created_at": manifest.created_at,
                "created_by": manifest.created_by,
                "host": manifest.host,
                "database_sha256": manifest.files[manifest.database_file].sha256,
            },
            "superseded": superseded,
        }
        rt.store.put(key, json.dumps(body, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8"))
    except StoreError as exc:
        raise Unavailable(
            "restore_record_failed",
            f"数据库已恢复，但恢复记录无法写入对象存储：{exc}；修复对象存储后请再次恢复（--yes）",
        ) from exc
    return key, len(superseded)


def missing_objects(rt: Runtime, progress: ProgressHook = _quiet) -> tuple[int, list[str]]:
    """How many objects the records reference, and which of them the store does not have."""
    dialect = rt.db.dialect.name
    missing: list[str] = []
    with rt.db.connect() as conn:
        rows = facts.sqlalchemy_rows(conn)
        tables = facts.table_names(rows, dialect)
        total = facts.referenced_count(rows, tables)
        progress("objects", 0, total)
        n = 0
        for n, key in enumerate(facts.referenced_keys(facts.sqlalchemy_rows(conn, stream=True), tables), start=1):
            try:
                if not rt.store.exists(key):
                    missing.append(key)
            except StoreError as exc:
                raise Unavailable("object_store_unavailable", f"对象存储不可用：{exc}") from exc
            progress("objects", n, total)
    return n, missing


def restore_backup(
    settings: Settings, dest: Path, *, yes: bool = False, actor: str | None = None, progress: ProgressHook = _quiet
) -> RestoreResult:
    """Check the backup, put its database in place, migrate, verify the access log, write the restore
    record (``audit/restores/``), rebuild the search index from the records, and check that every
    object the records reference is in the store.

    Nothing is changed when the backup does not check out, the database is in use, or it holds
    records and ``yes`` is false (``restore_target_not_empty``).  The caller appends the
    ``backup_restore`` entry naming ``RestoreResult.restore_record`` to the restored log: until then
    ``archive audit verify`` does not honour the record.
    """
    manifest = read_manifest(dest)
    try:
        manifest_sha256, _ = sha256_file(dest / MANIFEST)
    except OSError as exc:
        raise Unavailable("backup_unreadable", f"备份清单无法读取：{exc}") from exc
    if actor is None:
        from archive.pipeline.runner import current_user

        actor = current_user()
    kind = _kind(make_url(settings.db_url))
    if manifest.database_kind != kind:
        raise Invalid(
            "restore_kind_mismatch", f"备份来自 {manifest.database_kind} 数据库，当前配置的是 {kind}；不能跨库恢复"
        )
    _require_known_revision(manifest.snapshot.revision, settings)
    checkpoints = store_checkpoints(open_store(settings))
    check = verify_backup(dest, checkpoints, progress)
    if not check.ok:
        details = "；".join(f"[{p.code}] {p.message}" for p in check.problems)
        raise Invalid("restore_backup_invalid", f"备份校验未通过，未做任何改动：{details}")
    state = target_state(settings)
    if state.busy:
        raise Unavailable(
            "restore_database_busy",
            f"目标数据库正被 {state.busy} 个其他连接使用：请先停止服务（archive serve）与其他命令",
        )
    if not state.empty and not yes:
        raise Invalid(
            "restore_target_not_empty", f"目标数据库已有内容（{state.describe()}），未做任何改动；确认覆盖请加 --yes"
        )
    kept = _place(settings, dest, manifest, state, progress)
    rt = open_runtime(settings)  # runs the migrations
    try:
        chain, lost = _restored_chain(rt, manifest, checkpoints)
        record, superseded = _write_restore_record(rt, manifest, manifest_sha256, actor)
        total_pages = manifest.snapshot.tables.get("pages")
        progress("reindex", 0, total_pages)
        pages = rt.indexer.reindex(lambda n: progress("reindex", n, total_pages))
        checked, missing = missing_objects(rt, progress)
    finally:
        rt.close()
    return RestoreResult(
        manifest=manifest,
        kept=kept,
        chain=chain,
        lost_entries=lost,
        pages_indexed=pages,
        objects_checked=checked,
        missing=missing,
        restore_record=record,
        superseded=superseded,
    )
