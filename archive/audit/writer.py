"""Group-commit writer for the access log: many request threads, one appending thread.

``AuditWriter.append(event)`` blocks until the entry is durably committed and returns its
``Appended`` (seq, id, at, hash).  Events submitted while a commit is in flight are coalesced into
the next transaction (up to ``max_batch``), so the durable commit — the fsync on SQLite — is paid
once per group instead of once per entry.  The head-row lock protocol of ``AccessLog.write`` is
unchanged, so several processes, each with its own writer, still chain safely.

Guarantees:

* an event is checked (``prepare``) in the caller's thread: a malformed event fails its own
  caller and never the group;
* a failed commit fails every caller of that group with ``AuditWriteError`` (the database error
  as its cause) — nothing is dropped silently; a caller that gets the error may retry;
* a submitted event cannot be cancelled (its future is running from the start), so an abandoned
  request still gets its entry written;
* ``close()`` refuses new events, drains and commits the queue, then writes a checkpoint.

One writer per process, created after any fork (e.g. in the web app's lifespan start-up; close it
at shutdown for the shutdown checkpoint).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from archive.audit.log import AccessEvent, AccessLog, PreparedEvent, prepare, utcnow
from archive.runtime import Runtime

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Appended:
    """What a committed entry is known by."""

    seq: int
    id: str
    at: str
    hash: str


class AuditWriteError(RuntimeError):
    """The group the event was in could not be committed; ``__cause__`` is the database error."""


class WriterClosed(RuntimeError):
    """The writer was closed before the event was submitted."""


class AuditWriter:
    def __init__(
        self,
        rt: Runtime,
        algorithm: str = "sha256",
        checkpoint_every: int = 1000,
        *,
        max_batch: int = 500,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch 须 ≥ 1")
        self.log = AccessLog(rt, algorithm, checkpoint_every, clock)
        self.max_batch = max_batch
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[tuple[PreparedEvent, Future[Appended]]] = deque()
        self._closed = False
        self._checkpoint_owed = False
        self._closed_checkpoint: str | None = None
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    # -- callers ------------------------------------------------------------------------------

    def submit(self, event: AccessEvent) -> Future[Appended]:
        """Queue one event; the future resolves once it is committed.  Raises at once if unfit."""
        prepared = prepare(event)
        future: Future[Appended] = Future()
        future.set_running_or_notify_cancel()  # not cancellable: the entry is written regardless
        with self._cond:
            if self._closed:
                raise WriterClosed("访问日志写入器已关闭")
            self._queue.append((prepared, future))
            self._cond.notify()
        return future

    def append(self, event: AccessEvent, timeout: float | None = None) -> Appended:
        """Append one event and wait until it is durably committed."""
        return self.submit(event).result(timeout)

    async def append_async(self, event: AccessEvent) -> Appended:
        """``append`` for async code: awaits the commit without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(event))

    def close(self) -> str | None:
        """Refuse new events, commit everything queued, write a checkpoint; its key (None if empty)."""
        with self._cond:
            already = self._closed
            self._closed = True
            self._cond.notify()
        self._thread.join()
        if not already:
            self._closed_checkpoint = self.log.checkpoint()
        return self._closed_checkpoint

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> AuditWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- the appending thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._closed:
                        self._cond.wait()
                    if not self._queue:
                        return
                    n = min(len(self._queue), self.max_batch)
                    batch = [self._queue.popleft() for _ in range(n)]
                self._commit(batch)
        finally:  # only reached abnormally with work queued; fail it rather than leave callers hanging
            with self._cond:
                self._closed = True
                left = list(self._queue)
                self._queue.clear()
            for _, future in left:
                _fail(future, WriterClosed("访问日志写入线程已停止"), None)

    def _commit(self, batch: list[tuple[PreparedEvent, Future[Appended]]]) -> None:
        try:
            rows = self.log.write([prepared for prepared, _ in batch])
        except BaseException as exc:
            for _, future in batch:
                _fail(future, AuditWriteError(f"访问日志写入失败：{exc}"), exc)
            if not isinstance(exc, Exception):
                raise
            logger.exception("访问日志写入失败，%d 条事件已向调用方报错", len(batch))
            return
        for (_, future), row in zip(batch, rows, strict=True):
            future.set_result(Appended(row["seq"], row["id"], row["at"], row["hash"]))
        if self._checkpoint_owed or self.log.checkpoint_due(rows):
            try:
                self.log.checkpoint()
                self._checkpoint_owed = False
            except Exception:
                self._checkpoint_owed = True  # tried again after the next group, and at close
                logger.exception("访问日志检查点写入失败，将在下一组提交后重试")


def _fail(future: Future[Appended], error: Exception, cause: BaseException | None) -> None:
    error.__cause__ = cause
    future.set_exception(error)
