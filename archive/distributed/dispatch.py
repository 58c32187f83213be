"""The batch's side of Celery: page images sent to the OCR tasks, finished files to the per-file
chain, and the results watched, so the pipeline (``archive.pipeline.runner``) runs unchanged and its
report is the same as with the in-process pool."""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import Future, InvalidStateError

from celery import Celery

from archive.distributed.app import FILES_QUEUE, FINISH_TASK, INDEX_TASK, OCR_TASK, PAGES_QUEUE, make_app
from archive.pipeline import steps
from archive.pipeline.finishing import finish_file
from archive.pipeline.work import BatchStopped, FileWork, RawPage
from archive.settings import Settings
from ocr.pool import PageLost, PageOutcome

log = logging.getLogger(__name__)

_READY = {"SUCCESS", "FAILURE", "REVOKED"}


class TaskFailed(BatchStopped):
    """A file's task failed for good: the batch stops, resumable; ``archive tasks retry`` can finish it."""


class TaskNotDone(RuntimeError):
    """The task failed for good (retries spent) or was revoked."""


def _broker_down(exc: Exception) -> BatchStopped:
    """The broker refused a task: the batch stops (resumable) and no file is refused."""
    return BatchStopped(f"任务队列无法写入，批次暂停（恢复后重新运行即可继续）：{type(exc).__name__}")


class ResultWatcher:
    """One thread per batch that reads the results of the tasks awaited (pages and files), all of
    them in one MGET per poll, and completes a ``Future`` for each (then drops the stored result)."""

    def __init__(self, app: Celery, poll_seconds: float = 0.2) -> None:
        self.backend = app.backend
        self.poll_seconds = poll_seconds
        self._awaited: dict[str, Future[dict]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="celery-results", daemon=True)
        self._thread.start()

    def watch(self, task_id: str) -> Future[dict]:
        future: Future[dict] = Future()
        with self._lock:
            self._awaited[task_id] = future
        return future

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            with self._lock:
                awaited = list(self._awaited.items())
            if not awaited:
                continue
            try:
                self._check(awaited)
            except Exception:  # the broker blinked: keep watching; the tasks keep running
                log.warning("task results not readable; retrying", exc_info=True)
                self._stop.wait(1.0)

    def _check(self, awaited: list[tuple[str, Future[dict]]]) -> None:
        keys = [self.backend.get_key_for_task(task_id) for task_id, _ in awaited]
        values = self.backend.client.mget(keys)
        done: list[bytes] = []
        for (task_id, future), key, value in zip(awaited, keys, values, strict=True):
            if future.cancelled():
                self._drop(task_id)
                continue
            if value is None:
                continue
            meta = self.backend.decode_result(value)
            if meta["status"] not in _READY:
                continue
            self._drop(task_id)
            done.append(key)
            try:
                if meta["status"] == "SUCCESS":
                    future.set_result(meta["result"])
                elif type(meta["result"]).__name__ == "EngineMismatch":  # a setting, not the page: stop
                    future.set_exception(BatchStopped(f"工作节点的 OCR 引擎与本批次不同：{meta['result']}"))
                else:
                    future.set_exception(TaskNotDone(f"task {task_id} {meta['status']}: {meta['result']!r}"))
            except InvalidStateError:  # cancelled meanwhile
                pass
        if done:
            self.backend.client.delete(*done)

    def _drop(self, task_id: str) -> None:
        with self._lock:
            self._awaited.pop(task_id, None)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        with self._lock:
            awaited, self._awaited = list(self._awaited.values()), {}
        for future in awaited:
            future.cancel()


class CeleryOcrPool:
    """The OCR pool interface (``submit``/``capacity``/``close``) over ``archive.ocr_page`` tasks."""

    def __init__(self, app: Celery, engine: str, capacity: int, watcher: ResultWatcher) -> None:
        self.app = app
        self.engine = engine
        self.capacity = capacity
        self.watcher = watcher

    def submit(self, data: bytes, image_key: str = "", raw: RawPage | None = None) -> Future[PageOutcome]:
        """A stored page (``image_key``) is read from the store; a page still to be prepared
        (``raw``) travels in the message, and the worker measures, straightens and stores it."""
        if not image_key and raw is None:
            raise ValueError("a Celery worker needs the page's key or the page itself")
        digest = image_key.rsplit("/", 1)[-1][:16] if image_key else "raw"
        task_id = f"ocr-{digest}-{uuid.uuid4().hex[:12]}"
        outer: Future[PageOutcome] = Future()
        inner = self.watcher.watch(task_id)
        try:
            if raw is not None:
                kwargs = {"engine": self.engine, "raw": raw.to_json()}
                self.app.send_task(OCR_TASK, kwargs=kwargs, task_id=task_id, queue=PAGES_QUEUE)
            else:
                self.app.send_task(OCR_TASK, args=[image_key, self.engine], task_id=task_id, queue=PAGES_QUEUE)
        except Exception as exc:
            inner.cancel()
            raise _broker_down(exc) from exc
        inner.add_done_callback(lambda f: _settle_page(outer, f))
        outer.add_done_callback(lambda f: inner.cancel() if f.cancelled() else None)
        return outer

    def close(self, cancel: bool = False) -> None:
        """Nothing of its own to close: the batch's watcher outlives the pool (``CeleryDispatch``)."""


def _settle_page(outer: Future[PageOutcome], inner: Future[dict]) -> None:
    try:
        if inner.cancelled():
            outer.set_exception(PageLost("no longer awaited"))
        elif isinstance(exc := inner.exception(), BatchStopped):
            outer.set_exception(exc)
        elif exc is not None:
            outer.set_exception(PageLost(str(exc)))
        else:
            try:
                outcome = PageOutcome(**inner.result())
            except Exception as bad:  # a worker of another version: the page is read again, never hangs
                outer.set_exception(PageLost(f"unreadable result: {bad}"))
            else:
                outer.set_result(outcome)
    except InvalidStateError:
        pass


def file_chain(app: Celery, batch: dict, work: dict):  # noqa: ANN201 — a Celery chain
    """``archive.finish_file | archive.index_file`` for one file."""
    finish = app.signature(FINISH_TASK, args=(batch, work), queue=FILES_QUEUE)
    return finish | app.signature(INDEX_TASK, queue=FILES_QUEUE)


class RemoteFinisher:
    """Finishes each file on a worker: ``archive.finish_file`` chained to ``archive.index_file``.
    A refused or duplicate file (nothing to classify or store) is recorded here, as in-process."""

    def __init__(self, app: Celery, batch: dict, watcher: ResultWatcher) -> None:
        self.app = app
        self.batch = batch  # batch_id, office, engine, user
        self.watcher = watcher

    def __call__(self, ctx: steps.IngestContext, work: FileWork) -> str:
        if work.rejection is not None or work.duplicate_of is not None:
            return finish_file(ctx, work)
        try:
            chained = file_chain(self.app, self.batch, work.to_json()).apply_async()
        except Exception as exc:
            raise _broker_down(exc) from exc
        finished = self.watcher.watch(chained.parent.id)
        indexed = self.watcher.watch(chained.id)
        try:
            status = finished.result()["status"]
        except TaskNotDone as exc:
            indexed.cancel()
            raise TaskFailed(f"文件 {work.source} 的归档任务失败（可用 archive tasks retry 重试）：{exc}") from exc
        try:
            indexed.result()
        except TaskNotDone as exc:  # kept as a failure; the dossiers stay queued for the next drain
            log.warning("indexing task failed; the search outbox keeps the dossiers", extra={"error": str(exc)})
        return status


class CeleryDispatch:
    """What ``run_batch`` uses when a broker is configured: a pool factory and a file finisher, both
    served by the batch's one result watcher."""

    def __init__(self, settings: Settings, batch: dict) -> None:
        self.app = make_app(settings)
        self.capacity = settings.dispatch_pages
        self.engine = batch["engine"]
        self.watcher = ResultWatcher(self.app)
        self.finisher = RemoteFinisher(self.app, batch, self.watcher)

    def pool_factory(self) -> CeleryOcrPool:
        return CeleryOcrPool(self.app, self.engine, self.capacity, self.watcher)

    def close(self) -> None:
        self.watcher.close()
        self.app.close()
