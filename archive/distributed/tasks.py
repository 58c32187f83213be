"""The Celery tasks.  Each is idempotent: run twice (a retry, or a message handed out again after its
worker died) it records nothing twice.

* ``archive.ocr_page``: one page image, by object key.  Keyed by the image's SHA-256 and the engine:
  OCR already kept for that image is returned without reading it again.
* ``archive.finish_file``: a file whose pages are read — its dossiers split, checked, classified,
  stored as searchable PDFs and recorded in one transaction; a file already recorded is left alone.
* ``archive.index_file``: chained after it: the search outbox drained into the index.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from dataclasses import asdict

from celery import shared_task
from celery.signals import task_failure, worker_process_init, worker_process_shutdown
from sqlalchemy.exc import OperationalError

from archive import logs
from archive.classify.store import load_classifier, taxonomy_for
from archive.distributed.app import FINISH_TASK, INDEX_TASK, OCR_TASK
from archive.distributed.failures import record_failure
from archive.distributed.worker_state import forget, state
from archive.pipeline import steps
from archive.pipeline.finishing import finish_file
from archive.pipeline.work import FileWork, RawPage
from archive.storage.base import sha256_bytes
from ocr.engine import PageOcr
from ocr.pool import PageOutcome, peak_rss_mb, read_one

log = logging.getLogger(__name__)

# Faults worth retrying (a database or store that blinked); anything else fails for good at once.
FAULTS = (OperationalError, OSError, ConnectionError, TimeoutError)


class EngineMismatch(RuntimeError):
    """The worker runs another OCR engine than the batch was started with."""


@shared_task(name=OCR_TASK, bind=True, autoretry_for=FAULTS, retry_backoff=2, retry_jitter=True)
def ocr_page(self, image_key: str | None = None, engine: str = "", raw: dict | None = None) -> dict:  # noqa: ANN001
    """OCR of one page: a stored image (``image_key``), or a page as intake gave it (``raw``), which is
    first measured and straightened (the same ``prepare_page`` as in-process) and stored."""
    st = state()
    if engine != st.engine:
        raise EngineMismatch(f"batch engine {engine!r}, this worker runs {st.engine!r}: configure both alike")
    _count_delivery(self)
    prepared = None
    if raw is not None:
        page = RawPage.from_json(raw)
        quality, data = steps.prepare_page(page.data, page.media_type, page.resolution, page.config, "worker")
        sha = sha256_bytes(data)
        key = steps.store_page(st.rt, data, sha, page.media_type)
        prepared = {"image_key": key, "image_sha256": sha, "quality": asdict(quality) if quality else None}
    else:
        assert image_key, "a page key or the page itself"
        data = st.rt.store.get(image_key)
        sha = sha256_bytes(data)
    kept = steps.cached_ocr_key(st.rt, sha, engine)
    if kept is not None:  # read before (a retry, a resumed batch, the same page in another file)
        return asdict(PageOutcome(None, None, None, 0.0, None, peak_rss_mb(), ocr_key=kept, prepared=prepared))
    st.ensure_engine()
    outcome = read_one(data)
    outcome.prepared = prepared
    if outcome.ocr is not None:
        key = steps.remember_ocr(st.rt, sha, engine, PageOcr.from_json(outcome.ocr))
        outcome.ocr, outcome.ocr_key = None, key  # the text travels through the store, not the broker
    return asdict(outcome)


class PageKillsWorker(RuntimeError):
    """The page's task was started too often: each time its process died (out of memory, a crash)."""


def _count_delivery(task) -> None:  # noqa: ANN001 — the bound Celery task
    """A page whose reading kills the process comes back after each death (late acknowledgement);
    after a few starts it fails for good instead, so the batch is not held forever."""
    client = task.app.backend.client
    key = f"archive-task-starts-{task.request.id}"
    starts = client.incr(key)
    client.expire(key, 86_400)
    limit = (task.max_retries or 0) + 3  # retries also start the task again
    if starts > limit:
        raise PageKillsWorker(f"任务已启动 {starts} 次，每次进程都异常退出（内存不足或识别崩溃）")


def _no_submit(data: bytes, image_key: str):  # noqa: ANN202 — finishing never reads a page again
    raise RuntimeError("a file's pages are read before it is finished")


@shared_task(name=FINISH_TASK, bind=True, autoretry_for=FAULTS, retry_backoff=2, retry_jitter=True)
def finish_file_task(self, batch: dict, work: dict) -> dict:  # noqa: ANN001
    st = state()
    settings = st.rt.settings
    ctx = steps.IngestContext(
        rt=st.rt,
        batch_id=batch["batch_id"],
        office=batch["office"],
        engine_name=batch["engine"],
        user=batch["user"],
        submit=_no_submit,
        classifier=load_classifier(settings),
        taxonomy=taxonomy_for(settings),
    )
    file_work = FileWork.from_json(work)
    status = finish_file(ctx, file_work, FAULTS)
    return {"record_id": file_work.record_id, "status": status}


@shared_task(name=INDEX_TASK, bind=True, autoretry_for=(Exception,), retry_backoff=2, retry_jitter=True)
def index_file(self, finished: dict) -> dict:  # noqa: ANN001
    """Index what the file's commit queued (and anything else still queued)."""
    started = time.perf_counter()
    indexed = state().rt.indexer.drain()
    seconds = round(time.perf_counter() - started, 4)
    log.info(
        "dossiers indexed", extra={"dossiers": indexed, "seconds": seconds, "record_id": finished.get("record_id")}
    )
    return {**finished, "indexed": indexed}


@worker_process_init.connect
def _start_process(**_: object) -> None:
    """Each worker process logs to the worker's JSON log and loads its engine before its first task."""
    st = state()
    logs.configure(st.rt.settings.home / "logs" / "worker.jsonl", echo=logging.WARNING)
    started = time.perf_counter()
    st.ensure_engine()
    log.info("ocr engine loaded", extra={"engine": st.engine, "seconds": round(time.perf_counter() - started, 2)})


@worker_process_shutdown.connect
def _close(**_: object) -> None:
    forget()


@task_failure.connect
def _keep_failure(sender=None, task_id=None, exception=None, args=None, kwargs=None, einfo=None, **_: object) -> None:  # noqa: ANN001
    """A task that failed for good is kept in the database for ``archive tasks`` to show and retry."""
    kwargs = dict(kwargs or {})
    if isinstance(kwargs.get("raw"), dict):  # a page image is not kept with the failure (personal data)
        kwargs["raw"] = {**kwargs["raw"], "data": None}
    record_failure(
        state().rt,
        task_id=str(task_id),
        task_name=getattr(sender, "name", str(sender)),
        args=list(args or []),
        kwargs=kwargs,
        error=f"{type(exception).__name__}: {exception}",
        trace="".join(traceback.format_exception(exception)) if exception is not None else str(einfo or ""),
        worker=f"{os.uname().nodename}:{os.getpid()}",
    )
