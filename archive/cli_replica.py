"""``archive replicate`` and ``archive restore``: keep the replica (双重备份) in step with the primary.

``replicate`` copies to the replica every primary object it lacks or holds corrupt (after checking the
primary's hash); ``restore`` rebuilds primary objects that are missing or corrupt from the replica (after
checking the replica's copy against the records).  Both exit 1 naming every key they could not handle,
and both are written to the access log.  The rules are in ``archive.storage.resync``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from typing import cast

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select

from archive import logs
from archive.cli_common import audit_event, console, fail
from archive.errors import ServiceError
from archive.records.models import Dossier, OcrResult, Original, Page
from archive.runtime import Runtime, open_runtime
from archive.settings import get_settings
from archive.storage.base import ObjectStore, StoreError, validate_key
from archive.storage.filesystem import FilesystemStore
from archive.storage.replica import ReplicatedStore
from archive.storage.resync import FAILED_KEYS_LOGGED, Failure, RepairableStore, replicate, restore

_SHOWN_RESTORED = 50  # restored keys listed on the terminal (--json lists them all; failures are always all listed)


def _progress(label: str) -> Progress:
    return Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=False
    )


def _replicated(rt: Runtime) -> ReplicatedStore:
    if not isinstance(rt.store, ReplicatedStore):
        raise fail(
            ServiceError(
                "replica_not_configured", "未配置副本：请设置 ARCHIVE_REPLICA_DIR 或 ARCHIVE_REPLICA_S3_ENDPOINT"
            )
        )
    return rt.store


def _open(rt: Runtime, action: str) -> tuple[ReplicatedStore, ObjectStore]:
    """(the replicated store, its replica) or a logged, clean failure."""
    store = _replicated(rt)
    try:
        return store, store.replica_store()
    except StoreError as exc:
        audit_event(rt, action, (), code=exc.code)
        raise fail(ServiceError(exc.code, str(exc))) from exc


def _print_failures(failed: list[Failure]) -> None:
    for item in failed:
        console.print(f"  ✗ {item.key}  [{item.code}] {item.detail}", markup=False)


def _failed_keys(failed: list[Failure]) -> list[str]:
    return [item.key for item in failed[:FAILED_KEYS_LOGGED]]


@click.command("replicate")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@click.option("--quick", is_flag=True, help="只比对副本记录的 SHA-256，不重读副本内容")
def replicate_command(as_json: bool, quick: bool) -> None:
    """把主存储中副本缺少或副本校验失败的对象复制到副本（先校验主存储的 SHA-256）；可重复运行。"""
    settings = get_settings()
    logs.configure(settings.home / "logs" / "archive.jsonl")
    rt = open_runtime(settings)
    try:
        store, replica = _open(rt, "replicate")
        try:
            if isinstance(replica, FilesystemStore):
                replica.sweep_temporary()
            keys = list(store.primary.keys())
            with _progress("同步副本") as bar:
                task = bar.add_task("objects", total=len(keys))
                report = replicate(
                    store.primary,
                    cast(RepairableStore, replica),
                    keys,
                    full_check=not quick,
                    advance=lambda: bar.advance(task),
                )
        except (StoreError, OSError) as exc:  # listing a store failed: nothing is known
            code = getattr(exc, "code", "replica_unavailable")
            audit_event(rt, "replicate", (), code=code)
            raise fail(ServiceError(code, f"无法列出对象：{exc}")) from exc
        audit_event(
            rt,
            "replicate",
            (),
            replica=store.label,
            checked=report.checked,
            copied=report.copied,
            repaired=report.repaired,
            bytes=report.bytes,
            failed=len(report.failed),
            failed_keys=_failed_keys(report.failed),
        )
    finally:
        rt.close()
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        console.print(
            f"副本（{store.label}）：检查 {report.checked} 个对象，已一致 {report.in_sync} 个，"
            f"复制 {report.copied} 个，修复副本 {report.repaired} 个，共 {report.bytes:,} 字节；"
            f"失败 {len(report.failed)} 个。",
            markup=False,
        )
        _print_failures(report.failed)
    if not report.ok:
        sys.exit(1)


def _recorded_digests(rt: Runtime) -> Callable[[str], dict[str, str]]:
    """The records database's SHA-256 of an object key (originals and page images), if it has one."""

    def lookup(key: str) -> dict[str, str]:
        with rt.sessions() as session:
            sha = session.scalar(select(Original.sha256).where(Original.object_key == key).limit(1))
            if sha is None:
                sha = session.scalar(select(Page.image_sha256).where(Page.image_key == key).limit(1))
        return {"records": sha} if sha else {}

    return lookup


def _recorded_keys(rt: Runtime) -> Iterator[str]:
    """Every object key the records refer to."""
    columns = (Original.object_key, Page.image_key, Page.ocr_key, OcrResult.ocr_key, Dossier.searchable_pdf_key)
    with rt.sessions() as session:
        for column in columns:
            yield from session.scalars(select(column).where(column.is_not(None)).distinct())


@click.command("restore")
@click.argument("keys", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="检查主存储、副本与记录中的全部对象")
@click.option("--trust-replica", is_flag=True, help="对除副本外没有 SHA-256 记录的对象，以副本自身的记录为准")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def restore_command(keys: tuple[str, ...], everything: bool, trust_replica: bool, as_json: bool) -> None:
    """用副本重建主存储中缺失或校验失败的对象（先以记录的 SHA-256 核对副本）；完好的对象从不覆盖。"""
    if bool(keys) == everything:
        raise click.UsageError("请给出对象键，或使用 --all（二者取其一）")
    for key in keys:
        try:
            validate_key(key)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="KEY") from exc
    settings = get_settings()
    logs.configure(settings.home / "logs" / "archive.jsonl")
    rt = open_runtime(settings)
    try:
        store, replica = _open(rt, "restore")
        try:
            if everything:
                todo = sorted({*store.primary.keys(), *replica.keys(), *_recorded_keys(rt)}, key=lambda k: k.split("/"))
            else:
                todo = list(dict.fromkeys(keys))
        except (StoreError, OSError) as exc:
            code = getattr(exc, "code", "store_unavailable")
            audit_event(rt, "restore", (), code=code)
            raise fail(ServiceError(code, f"无法列出对象：{exc}")) from exc
        with _progress("恢复主存储") as bar:
            task = bar.add_task("objects", total=len(todo))
            report = restore(
                cast(RepairableStore, store.primary),
                replica,
                todo,
                _recorded_digests(rt),
                trust_replica=trust_replica,
                advance=lambda: bar.advance(task),
            )
        audit_event(
            rt,
            "restore",
            (),
            replica=store.label,
            checked=report.checked,
            restored=len(report.restored),
            restored_keys=report.restored[:FAILED_KEYS_LOGGED],
            bytes=report.bytes,
            failed=len(report.failed),
            failed_keys=_failed_keys(report.failed),
            trust_replica=trust_replica,
        )
    finally:
        rt.close()
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        console.print(
            f"主存储：检查 {report.checked} 个对象，完好 {report.healthy} 个，"
            f"从副本（{store.label}）恢复 {len(report.restored)} 个（{report.bytes:,} 字节）；"
            f"无法恢复 {len(report.failed)} 个。",
            markup=False,
        )
        for key in report.restored[:_SHOWN_RESTORED]:
            console.print(f"  ✓ {key}", markup=False)
        if len(report.restored) > _SHOWN_RESTORED:
            console.print(f"  … 另有 {len(report.restored) - _SHOWN_RESTORED} 个（--json 列出全部）")
        _print_failures(report.failed)
    if not report.ok:
        sys.exit(1)
