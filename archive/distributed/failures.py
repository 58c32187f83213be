"""Tasks that failed for good, kept in ``task_failures`` for inspection, and sent again on request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from celery import Celery
from sqlalchemy import select

from archive.distributed.app import FINISH_TASK
from archive.records.models import TaskFailure
from archive.runtime import Runtime


@dataclass(frozen=True)
class Retried:
    failure_id: str
    task_name: str
    new_task_id: str


def record_failure(
    rt: Runtime, *, task_id: str, task_name: str, args: list, kwargs: dict, error: str, trace: str, worker: str
) -> None:
    with rt.sessions.begin() as session:
        session.add(
            TaskFailure(
                task_id=task_id,
                task_name=task_name,
                args=args,
                kwargs=kwargs,
                error=error[:4000],
                traceback=trace[-20_000:],
                worker=worker,
            )
        )


def open_failures(rt: Runtime, include_retried: bool = False) -> list[TaskFailure]:
    with rt.sessions() as session:
        query = select(TaskFailure).order_by(TaskFailure.failed_at)
        if not include_retried:
            query = query.where(TaskFailure.retried_at.is_(None))
        return list(session.scalars(query))


class NotRetryable(LookupError):
    """No such failure, or it was retried already."""


def retry(rt: Runtime, app: Celery, failure_id: str, user: str) -> Retried:
    from archive.distributed.dispatch import file_chain

    """Send the failed task again with the same arguments (safe: every task is idempotent); a file's
    task goes out chained to its indexing, as the batch sent it."""
    with rt.sessions.begin() as session:
        failure = session.get(TaskFailure, failure_id, with_for_update=True)
        if failure is None:
            raise NotRetryable(f"没有编号为 {failure_id} 的失败任务")
        if failure.retried_at is not None:
            raise NotRetryable(
                f"失败任务 {failure_id} 已于 {failure.retried_at:%Y-%m-%d %H:%M} 由 {failure.retried_by} 重试"
            )
        if failure.task_name == FINISH_TASK and len(failure.args) == 2:  # finished files are indexed too
            sent = file_chain(app, *failure.args).apply_async().parent
        elif isinstance(failure.kwargs.get("raw"), dict):
            raise NotRetryable(f"失败任务 {failure_id} 是一页随批次发送的图像（未保存）：请重新运行该批次")
        else:
            sent = app.send_task(failure.task_name, args=failure.args, kwargs=failure.kwargs)
        failure.retried_at, failure.retried_by, failure.retry_task_id = datetime.now(UTC), user, sent.id
        return Retried(failure.id, failure.task_name, sent.id)
