"""``archive backup``: snapshot the records, check a backup, restore one.

``archive backup create DEST`` snapshots the records database into a new folder with a manifest
(and checks it at once); ``archive backup verify DEST`` checks a backup; ``archive backup restore
DEST`` puts it back, verifies the access log, rebuilds the search index and checks the objects.
Each writes an access-log entry; a restore's goes into the restored log.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from archive.backup import CheckReport, CreateResult, RestoreResult, create_backup, restore_backup, verify_backup
from archive.backup.chain import store_checkpoints
from archive.backup.service import target_state
from archive.cli_common import audit_event, console, fail
from archive.errors import ServiceError
from archive.pipeline.runner import current_user
from archive.runtime import open_runtime
from archive.settings import Settings, get_settings

STEP_ZH = {
    "snapshot": "数据库快照",
    "objects": "核对引用对象",
    "check": "校验备份",
    "restore": "写回数据库",
    "reindex": "重建检索索引",
}


class _Bars:
    """The service's progress hook as rich progress bars, one per step."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, step: str, done: int, total: int | None) -> None:
        task = self.tasks.get(step)
        if task is None:
            task = self.tasks[step] = self.progress.add_task(STEP_ZH.get(step, step), total=total)
        self.progress.update(task, completed=done, total=total)


@contextlib.contextmanager
def _bars() -> Iterator[_Bars]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        yield _Bars(progress)


def _size(n: int | None) -> str:
    if n is None:
        return "未统计"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _records_line(tables: dict[str, int]) -> str:
    return (
        f"案卷 {tables.get('dossiers', 0)}、页 {tables.get('pages', 0)}、"
        f"审核事件 {tables.get('dossier_events', 0)}、用户 {tables.get('users', 0)}"
    )


@click.group()
def backup() -> None:
    """备份与恢复：create 生成数据库快照与清单；verify 校验备份；restore 从备份恢复并重建检索索引。"""


# -- create ---------------------------------------------------------------------------------------


def _print_created(result: CreateResult) -> None:
    m = result.manifest
    head = m.snapshot.head
    console.print(f"备份已写入 {result.dest}（{m.database_kind}，迁移版本 {m.snapshot.revision}）", markup=False)
    console.print(
        f"  {_records_line(m.snapshot.tables)}；访问日志 {head.entries} 条，链头 #{head.seq} {head.hash[:16]}…",
        markup=False,
    )
    objects = m.objects
    console.print(
        f"  引用对象 {m.snapshot.referenced_objects} 个，共 {_size(objects.bytes)}"
        f"{f'，缺失 {objects.missing} 个' if objects.missing else ''}（对象未复制：由对象存储一次写入并另行复制保护）",
        markup=False,
    )
    _print_check(result.check)


@backup.command("create")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（清单与校验结果）")
@click.option("--skip-objects", is_flag=True, help="不逐个向对象存储查询引用对象的大小与存在（对象很多时更快）")
def backup_create(dest: Path, as_json: bool, skip_objects: bool) -> None:
    """在服务运行时生成记录数据库的一致快照（SQLite 在线备份 / pg_dump）与清单 manifest.json，并随即校验。"""
    rt = open_runtime(get_settings())
    try:
        try:
            with _bars() as bars:
                result = create_backup(rt, dest, current_user(), check_objects=not skip_objects, progress=bars)
        except ServiceError as exc:
            audit_event(rt, "backup_create", (), "denied", dest=str(dest), code=exc.code)
            raise fail(exc) from exc
        m = result.manifest
        audit_event(
            rt,
            "backup_create",
            (),
            dest=str(result.dest.resolve()),
            kind=m.database_kind,
            sha256=m.files[m.database_file].sha256,
            tables=m.snapshot.tables,
            log_seq=m.snapshot.head.seq,
            log_hash=m.snapshot.head.hash,
            objects=m.snapshot.referenced_objects,
            missing=m.objects.missing,
            verified=result.check.ok,
        )
    finally:
        rt.close()
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        _print_created(result)
    if not result.check.ok:
        raise fail(ServiceError("backup_check_failed", "备份已写入，但校验未通过：" + _problems(result.check)))
    if result.manifest.objects.missing:
        n = result.manifest.objects.missing
        raise fail(ServiceError("backup_objects_missing", f"备份已写入，但记录引用的 {n} 个对象在对象存储中缺失"))


# -- verify ---------------------------------------------------------------------------------------


def _problems(report: CheckReport) -> str:
    return "；".join(f"[{p.code}] {p.message}" for p in report.problems)


def _print_check(report: CheckReport) -> None:
    if report.ok:
        chain = report.chain.summary() if report.chain else "备份中没有访问日志"
        console.print(f"备份校验通过：文件哈希、行数、迁移版本与清单一致；{chain}", markup=False)
    else:
        console.print(f"备份校验未通过（{len(report.problems)} 个问题）：", markup=False)
        for problem in report.problems:
            console.print(f"  [{problem.code}] {problem.message}", markup=False)
    if report.later_entries:
        console.print(
            f"  提示：对象存储的日志检查点表明备份之后又写入了 {report.later_entries} 条访问日志（不在此备份中）",
            markup=False,
        )


@backup.command("verify")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出校验结果")
def backup_verify(dest: Path, as_json: bool) -> None:
    """校验备份：重算文件哈希，只读打开数据库副本核对行数、迁移版本、访问日志链头，并逐条校验哈希链。"""
    rt = open_runtime(get_settings())
    try:
        try:
            with _bars() as bars:
                report = verify_backup(dest, store_checkpoints(rt.store), bars)
        except ServiceError as exc:
            audit_event(rt, "backup_verify", (), "denied", dest=str(dest), code=exc.code)
            raise fail(exc) from exc
        audit_event(
            rt,
            "backup_verify",
            (),
            dest=str(dest.resolve()),
            ok=report.ok,
            problems=sorted({p.code for p in report.problems}),
            tables=report.found.tables if report.found else {},
            log_entries=report.chain.entries if report.chain else 0,
        )
    finally:
        rt.close()
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        _print_check(report)
    if not report.ok:
        raise fail(ServiceError("backup_invalid", f"备份校验未通过：{_problems(report)}"))


# -- restore --------------------------------------------------------------------------------------


def _audit_refusal(settings: Settings, dest: Path, exc: ServiceError) -> None:
    """A refused or failed restore is logged in the database that is there, if it holds anything
    (an empty or absent one is left untouched, so a later restore still needs no --yes)."""
    try:
        if target_state(settings).empty:
            return
        rt = open_runtime(settings)
        try:
            audit_event(rt, "backup_restore", (), "denied", dest=str(dest), code=exc.code)
        finally:
            rt.close()
    except Exception:  # noqa: BLE001 — the refusal itself is what the operator must see
        console.print("（未能把这次拒绝写入访问日志）", markup=False)


def _print_restored(result: RestoreResult, dest: Path) -> None:
    m = result.manifest
    console.print(f"已从 {dest} 恢复（备份于 {m.created_at}，{m.database_kind}）", markup=False)
    console.print(f"  {_records_line(m.snapshot.tables)}；{result.chain.summary()}", markup=False)
    console.print(f"  检索索引已从记录重建：{result.pages_indexed} 页", markup=False)
    if result.missing:
        console.print(f"  记录引用的 {result.objects_checked} 个对象中缺失 {len(result.missing)} 个：", markup=False)
        for key in result.missing[:50]:
            console.print(f"    {key}", markup=False)
        if len(result.missing) > 50:
            console.print(f"    ……共 {len(result.missing)} 个（--json 列出全部）", markup=False)
    else:
        console.print(f"  记录引用的 {result.objects_checked} 个对象都在对象存储中", markup=False)
    if result.kept:
        console.print(f"  原数据库保留在 {result.kept}", markup=False)
    if result.superseded:
        console.print(
            f"  备份之后的 {result.superseded} 个日志检查点已由恢复记录 {result.restore_record} 标为作废"
            "（archive audit verify 据此不再报告尾部截断）",
            markup=False,
        )
    if result.lost_entries:
        console.print(
            f"  注意：对象存储的日志检查点表明备份之后还写入过 {result.lost_entries} 条访问日志，"
            "本备份无法恢复这些条目" + (f"（仍在 {result.kept} 中）" if result.kept else ""),
            markup=False,
        )


@backup.command("restore")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="目标数据库已有内容时仍然覆盖（原库会另行保留）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出恢复结果")
def backup_restore(dest: Path, yes: bool, as_json: bool) -> None:
    """从备份恢复记录数据库（须先停止服务），执行迁移，校验访问日志，从记录重建检索索引，并核对引用对象都在。"""
    settings = get_settings()
    try:
        with _bars() as bars:
            result = restore_backup(settings, dest, yes=yes, progress=bars)
    except ServiceError as exc:
        _audit_refusal(settings, dest, exc)
        raise fail(exc) from exc
    rt = open_runtime(settings)
    try:
        m = result.manifest
        audit_event(
            rt,
            "backup_restore",
            (),
            dest=str(dest.resolve()),
            created_at=m.created_at,
            sha256=m.files[m.database_file].sha256,
            tables=m.snapshot.tables,
            log_seq=m.snapshot.head.seq,
            log_hash=m.snapshot.head.hash,
            lost_entries=result.lost_entries,
            restore_record=result.restore_record,  # what makes `archive audit verify` honour the record
            superseded=result.superseded,
            kept=result.kept,
            pages_indexed=result.pages_indexed,
            objects=result.objects_checked,
            missing=len(result.missing),
        )
    finally:
        rt.close()
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        _print_restored(result, dest)
    if result.missing:
        message = f"记录引用的 {len(result.missing)} 个对象在对象存储中缺失（数据库与索引已恢复）"
        raise fail(ServiceError("restore_objects_missing", message))
