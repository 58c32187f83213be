"""Read-only checks shared by the readiness probe (``GET /api/v1/ready``) and the administrators'
system status (``GET /api/v1/system/status``): the database answers, the object store can be read,
the search index answers, the batch thread is alive, and with Celery the broker answers.

Every check only reads (the store is probed with ``stat``/``exists``, never a write) and answers a
``Check``: ok or not, a stable code, a Chinese message and the facts behind it.  Failures are
described by the exception's type or its service message only, so the public readiness answer
carries no connection string, path or personal data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text

from archive.records.models import Original
from archive.runtime import Runtime

DB_LABEL = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
OK = "ok"


@dataclass(frozen=True)
class Check:
    ok: bool
    code: str  # "ok", or a stable failure code
    message: str  # Chinese, for people
    facts: dict[str, Any] = field(default_factory=dict)


def failure(exc: BaseException) -> str:
    """What went wrong, without details that may carry secrets: a service message or the type."""
    return getattr(exc, "message", None) or type(exc).__name__


def database(rt: Runtime) -> Check:
    """One round trip: the schema revision."""
    dialect = rt.db.dialect.name
    label = DB_LABEL.get(dialect, dialect)
    started = time.perf_counter()
    try:
        with rt.sessions() as session:
            revision = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as exc:  # noqa: BLE001 — the answer is the check
        message = f"数据库（{label}）无法访问：{failure(exc)}"
        return Check(False, "database_unavailable", message, {"dialect": dialect, "label": label})
    ms = round((time.perf_counter() - started) * 1000, 1)
    facts = {"dialect": dialect, "label": label, "revision": revision, "latency_ms": ms}
    return Check(True, OK, f"数据库可访问（{label}）", facts)


def newest_original_key(rt: Runtime) -> str | None:
    """The object key of the most recent original (ids are time-ordered UUIDv7: the primary key's
    index answers at once), or None for an empty archive."""
    with rt.sessions() as session:
        return session.scalar(select(Original.object_key).order_by(Original.id.desc()).limit(1))


def probe_store(rt: Runtime, key: str | None) -> str | None:
    """None when the object store answers; else why not.  Reads only: ``key``'s metadata, or
    whether a probe key exists when the archive holds nothing yet."""
    try:
        if key is not None:
            rt.store.stat(key)
        else:
            rt.store.exists("health/probe")
    except Exception as exc:  # noqa: BLE001 — the answer is the check
        return failure(exc)
    return None


def storage(rt: Runtime, key: str | None) -> Check:
    failed = probe_store(rt, key)
    if failed is not None:
        return Check(False, "storage_unreadable", f"对象存储无法读取：{failed}")
    return Check(True, OK, "对象存储可读取")


def index(rt: Runtime) -> Check:
    """The search index answers a count (cheap on tantivy and on Elasticsearch)."""
    try:
        pages = rt.search.count()
    except Exception as exc:  # noqa: BLE001 — the answer is the check
        why = failure(exc)
        return Check(False, "index_unavailable", f"检索索引无法访问：{why}", {"why": why})
    return Check(True, OK, "检索索引可用", {"pages": pages})


def worker_alive(worker: Any) -> bool:
    return bool(getattr(worker, "alive", False))  # api.batches.BatchWorker


def worker(batches: Any) -> Check:
    if not worker_alive(batches):
        return Check(False, "worker_stopped", "批次处理线程已停止，上传的批次不会被处理")
    return Check(True, OK, "批次处理线程运行中")


def broker(rt: Runtime, timeout: float = 2.0) -> Check:
    """With ``ARCHIVE_BROKER_URL``: Redis answers, and how many pages and files wait for a worker."""
    from archive.distributed.queues import queue_lengths

    try:
        waiting = queue_lengths(rt.settings, timeout)
    except Exception as exc:  # noqa: BLE001 — the answer is the check
        why = failure(exc)
        return Check(
            False, "broker_unavailable", f"任务队列（Redis）无法访问，批次的 OCR 与归档会停下：{why}", {"why": why}
        )
    return Check(True, OK, "任务队列可用", {"waiting": waiting})


def readiness(rt: Runtime, batches: Any) -> dict[str, Check]:
    """Everything a load balancer needs before sending traffic.  The store is probed with the
    newest original's metadata, or with a probe key when the database cannot name one."""
    checks = {"database": database(rt)}
    key = None
    if checks["database"].ok:
        try:
            key = newest_original_key(rt)
        except Exception:  # noqa: BLE001 — the database check answers for it; the store is still probed
            key = None
    checks["storage"] = storage(rt, key)
    checks["index"] = index(rt)
    checks["worker"] = worker(batches)
    if rt.settings.broker_url:
        checks["broker"] = broker(rt)
    return checks
