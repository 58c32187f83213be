"""``archive worker`` (a Celery worker for ingest) and ``archive tasks`` (failed tasks: list, retry)."""

from __future__ import annotations

import json
import logging
import os

import click
from rich.table import Table

from archive import logs
from archive.cli_common import audit_event, console
from archive.pipeline.runner import current_user
from archive.runtime import open_runtime
from archive.settings import Settings, get_settings


def _broker_settings() -> Settings:
    settings = get_settings()
    if not settings.broker_url:
        raise click.ClickException("[broker_not_configured] 未设置 ARCHIVE_BROKER_URL（如 redis://127.0.0.1:6379/0）")
    return settings


@click.command("worker")
@click.option(
    "--concurrency", type=click.IntRange(1, 64), default=None, help="任务进程数（默认 ARCHIVE_WORKER_CONCURRENCY）"
)
@click.option(
    "--threads", type=click.IntRange(1, 64), default=None, help="每个进程的 OCR 线程数（默认 ARCHIVE_OCR_THREADS）"
)
@click.option(
    "--recycle",
    type=click.IntRange(1),
    default=None,
    help="进程处理多少个任务后更换（默认 ARCHIVE_WORKER_RECYCLE_TASKS）",
)
@click.option("--name", default=None, help="节点名（默认 archive.<pid>@<主机名>）")
def worker(concurrency: int | None, threads: int | None, recycle: int | None, name: str | None) -> None:
    """运行一个 Celery 工作节点：页面 OCR、案卷分类校验存储与索引。"""
    # The task processes read the settings from the environment (forked from this one).
    for option, variable in (
        (concurrency, "WORKER_CONCURRENCY"),
        (threads, "OCR_THREADS"),
        (recycle, "WORKER_RECYCLE_TASKS"),
    ):
        if option is not None:
            os.environ[f"ARCHIVE_{variable}"] = str(option)
    get_settings.cache_clear()
    settings = _broker_settings()
    logs.configure(settings.home / "logs" / "worker.jsonl", echo=logging.WARNING)
    from archive.distributed.app import FILES_QUEUE, PAGES_QUEUE, make_app

    app = make_app(settings)
    console.print(
        f"工作节点启动：{settings.worker_concurrency} 个进程 × {settings.ocr_threads} 线程，"
        f"每进程 {settings.worker_recycle_tasks} 个任务后更换；队列 {FILES_QUEUE}, {PAGES_QUEUE}"
    )
    app.worker_main(
        argv=[
            "worker",
            f"--concurrency={settings.worker_concurrency}",
            f"--max-tasks-per-child={settings.worker_recycle_tasks}",
            f"--queues={FILES_QUEUE},{PAGES_QUEUE}",
            f"--hostname={name or f'archive.{os.getpid()}@%h'}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--pool=prefork",
        ]
    )


@click.group("tasks")
def tasks() -> None:
    """失败任务：查看与重试。"""


@tasks.command("failed")
@click.option("--all", "include_retried", is_flag=True, help="包括已重试的")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def tasks_failed(include_retried: bool, as_json: bool) -> None:
    """列出最终失败（重试次数用尽）的任务。"""
    from archive.distributed.failures import open_failures

    rt = open_runtime(get_settings())
    try:
        failures = open_failures(rt, include_retried)
    finally:
        rt.close()
    if as_json:
        rows = [
            {
                "id": f.id,
                "task_id": f.task_id,
                "task": f.task_name,
                "error": f.error,
                "worker": f.worker,
                "failed_at": f.failed_at.isoformat(),
                "retried_at": f.retried_at.isoformat() if f.retried_at else None,
                "args": f.args,
            }
            for f in failures
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not failures:
        console.print("没有失败的任务")
        return
    table = Table("编号", "任务", "错误", "节点", "失败时间", "已重试")
    for f in failures:
        table.add_row(
            f.id, f.task_name, f.error[:80], f.worker, f"{f.failed_at:%Y-%m-%d %H:%M:%S}", "是" if f.retried_at else ""
        )
    console.print(table)


@tasks.command("retry")
@click.argument("failure_ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="重试全部未重试的失败任务")
def tasks_retry(failure_ids: tuple[str, ...], every: bool) -> None:
    """按原参数重新发送失败的任务（任务幂等，不会重复入库）。"""
    from archive.distributed.app import make_app
    from archive.distributed.failures import NotRetryable, open_failures, retry

    if not failure_ids and not every:
        raise click.UsageError("请给出失败任务编号，或使用 --all")
    settings = _broker_settings()
    rt = open_runtime(settings)
    app = make_app(settings)
    try:
        ids = [f.id for f in open_failures(rt)] if every else list(failure_ids)
        for failure_id in ids:
            try:
                sent = retry(rt, app, failure_id, current_user())
            except NotRetryable as exc:
                raise click.ClickException(f"[task_not_retryable] {exc}") from exc
            audit_event(rt, "task_retry", (), failure=failure_id, task=sent.task_name, new_task_id=sent.new_task_id)
            console.print(f"已重新发送 {sent.task_name}（失败编号 {failure_id}）→ 任务 {sent.new_task_id}")
        if not ids:
            console.print("没有需要重试的失败任务")
    finally:
        rt.close()


@tasks.command("ping")
@click.option("--name", default=None, help="只探测该节点（如 archive@主机名）；默认全部")
@click.option("--timeout", type=float, default=3.0, show_default=True, help="等待应答的秒数")
def tasks_ping(name: str | None, timeout: float) -> None:
    """探测工作节点是否在线（容器健康检查用）：无应答时退出码为 1。"""
    from archive.distributed.queues import workers_online

    nodes = workers_online(_broker_settings(), timeout, name)
    if not nodes:
        raise click.ClickException(f"[no_worker] {timeout:g} 秒内没有工作节点应答{f'（{name}）' if name else ''}")
    for node in nodes:
        console.print(f"{node} 在线")
