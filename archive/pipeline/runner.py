"""Run a batch: files flow through the steps while OCR workers read pages ahead of them.

Pages of later files are handed to the workers while earlier files are still being read, with
at most ``pool.capacity`` pages in flight; files are finished (stored, recorded, reported) in
the order given.  Every finished file is committed on its own, so a crash loses nothing already
committed, and running the same command again resumes the batch where it stopped.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import socket
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import select

from archive.classify.store import load_classifier, taxonomy_for
from archive.identifiers import OFFICE_PATTERN
from archive.pipeline import steps
from archive.pipeline.finishing import finish_file, refusals
from archive.pipeline.work import FileWork, PageWork, RawPage
from archive.records.models import Batch, BatchFile
from archive.report import lines_for_file
from archive.runtime import Runtime
from ocr.pool import OcrPool, PageLost, PageOutcome, engine_name
from ocr.registry import EngineConfig

log = logging.getLogger(__name__)


class Progress(Protocol):
    def files(self, total: int) -> None: ...

    def pages_found(self, count: int) -> None: ...

    def page_done(self) -> None: ...

    def file_done(self, source: str, status: str) -> None: ...


class NoProgress:
    def files(self, total: int) -> None: ...

    def pages_found(self, count: int) -> None: ...

    def page_done(self) -> None: ...

    def file_done(self, source: str, status: str) -> None: ...


@dataclass
class BatchSummary:
    batch_id: str
    resumed: bool
    lines: int = 0
    by_status: Counter = field(default_factory=Counter)
    problems: Counter = field(default_factory=Counter)
    pages: int = 0
    pages_ocred: int = 0
    seconds: float = 0.0
    ocr_seconds: float = 0.0
    intake_seconds: float = 0.0  # this process opening, measuring and storing pages (not waiting for OCR)
    worker_rss_mb: dict[int, float] = field(default_factory=dict)

    @property
    def pages_per_minute(self) -> float:
        return 60.0 * self.pages_ocred / self.seconds if self.seconds else 0.0


class BatchBusy(RuntimeError):
    """Another live process is running the same batch."""


def current_user() -> str:
    try:
        return f"system:{getpass.getuser()}"
    except Exception:  # no passwd entry (containers)
        return f"system:uid{os.getuid()}"


def engine_config(rt: Runtime) -> EngineConfig:
    s = rt.settings
    return EngineConfig(
        name=s.ocr_engine,
        threads=s.ocr_threads,
        cache_dir=s.cache_dir,
        det_limit_side_len=s.ocr_det_limit_side_len,
        model_dir=s.ocr_model_dir,
    )


def _failed(future: Future | None) -> bool:
    if future is None or not future.done():
        return False
    return future.cancelled() or isinstance(future.exception(), BrokenProcessPool | CancelledError)


def _fingerprint(sources: list[str], office: str) -> str:
    resolved = [str(Path(s).resolve()) for s in sources]
    return hashlib.sha256(json.dumps([office, resolved], ensure_ascii=False).encode()).hexdigest()


def _alive(pid: int | None, host: str) -> bool:
    if pid is None or host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_batch(rt: Runtime, sources: list[str], office: str, user: str, engine: str) -> tuple[str, bool]:
    """A new batch, or the unfinished one started by the same command (same files, same office)."""
    fingerprint = _fingerprint(sources, office)
    with rt.sessions.begin() as session:
        earlier = session.scalar(
            select(Batch)
            .where(Batch.fingerprint == fingerprint, Batch.status == "running")
            .order_by(Batch.created_at.desc())
        )
        if earlier is not None:
            if earlier.pid != os.getpid() and _alive(earlier.pid, earlier.host):
                raise BatchBusy(f"批次 {earlier.id} 正由进程 {earlier.pid} 处理，请等待其结束")
            earlier.pid, earlier.host = os.getpid(), socket.gethostname()
            return earlier.id, True
        for stale in session.scalars(select(Batch).where(Batch.status == "running")):
            if not _alive(stale.pid, stale.host) and stale.host == socket.gethostname():
                stale.status = "interrupted"  # its committed files stay; a different file list starts anew
        batch = Batch(
            created_by=user,
            office=office,
            status="running",
            fingerprint=fingerprint,
            engine=engine,
            host=socket.gethostname(),
            pid=os.getpid(),
            counts={},
        )
        session.add(batch)
        session.flush()
        for position, source in enumerate(sources):
            session.add(BatchFile(batch_id=batch.id, position=position, source=source, status="pending"))
        return batch.id, False


class _Flow:
    """Keeps the workers fed and finishes files in order."""

    def __init__(
        self,
        rt: Runtime,
        pool_factory: Callable[[], OcrPool],
        summary: BatchSummary,
        progress: Progress,
        emit: Callable[[dict], None],
        finisher: Callable[[steps.IngestContext, FileWork], str] = finish_file,
    ) -> None:
        self.rt = rt
        self.finisher = finisher
        self.pool_factory = pool_factory
        self.pool = pool_factory()
        self.summary = summary
        self.progress = progress
        self.emit = emit
        self.pending: deque[FileWork] = deque()
        self.scanning: FileWork | None = None
        self.futures: list[Future[PageOutcome]] = []
        self.generation = 0  # bumped each time the pool is replaced
        self.waiting = 0.0  # seconds submit() waited for a free place (and finished files meanwhile)
        self.ctx: steps.IngestContext | None = None

    # OCR submission with back-pressure: never more than pool.capacity pages in flight.
    def submit(self, data: bytes, image_key: str, raw: RawPage | None = None) -> Future[PageOutcome]:
        while True:
            self.futures = [f for f in self.futures if not f.done()]
            if len(self.futures) < self.pool.capacity:
                break
            waited = time.perf_counter()
            wait(self.futures, return_when=FIRST_COMPLETED)
            self.finish_ready()
            self.waiting += time.perf_counter() - waited
        try:
            return self._submit(data, image_key, raw)
        except BrokenProcessPool:
            self.restart()
            return self._submit(data, image_key, raw)

    def _submit(self, data: bytes, image_key: str, raw: RawPage | None = None) -> Future[PageOutcome]:
        future = self.pool.submit(data, image_key, raw)
        future.generation = self.generation  # type: ignore[attr-defined]
        future.add_done_callback(lambda _f: self.progress.page_done())
        self.futures.append(future)
        return future

    def restart(self) -> None:
        """A worker died and took the pool with it: a fresh pool, and every lost page again."""
        log.warning("ocr pool broken; restarting", extra={"generation": self.generation})
        self.pool.close(cancel=True)
        self.pool = self.pool_factory()
        self.generation += 1
        for work in self.pending:
            for page in work.pages:
                if _failed(page.future):
                    page.future = self._resubmit(page)

    def _resubmit(self, page: PageWork) -> Future[PageOutcome]:
        if page.raw is not None:  # not prepared yet: the page goes out again as intake gave it
            return self._submit(page.raw.data, "", page.raw)
        return self._submit(self.rt.store.get(page.image_key), page.image_key)

    def recover(self, page: PageWork) -> None:
        """Called when a page's OCR future failed: restart the pool if that broke it, then retry.
        A page lost alone (its Celery task failed) is sent again; the pool is not broken."""
        failed = page.future
        lost_alone = failed is not None and not failed.cancelled() and isinstance(failed.exception(), PageLost)
        if not lost_alone and getattr(failed, "generation", -1) == self.generation:
            self.restart()
        if page.future is failed:
            page.future = self._resubmit(page)

    def start(self, ctx: steps.IngestContext, work: FileWork) -> None:
        work.started = time.time()  # wall clock: the file may be finished in another process
        began, waited = time.perf_counter(), self.waiting
        self.pending.append(work)
        self.scanning = work
        try:
            with refusals(work):
                steps.identify(ctx, work)
                if work.duplicate_of is None and work.copy_of is None:
                    steps.keep_original(ctx, work)
                    self.progress.pages_found(ctx.sources[work.position].ingestor.page_count())
                    steps.scan_pages(ctx, work)
                    for page in work.pages:
                        if page.future is None:  # OCR reused from an interrupted run
                            self.progress.page_done()
        finally:
            self.scanning = None
            ctx.sources.pop(work.position, None)
            self.summary.intake_seconds += time.perf_counter() - began - (self.waiting - waited)

    def finish_ready(self) -> None:
        while (
            self.pending
            and self.pending[0] is not self.scanning
            and all(p.future is None or p.future.done() for p in self.pending[0].pages)
        ):
            self.finish(self.pending.popleft())

    def finish_all(self) -> None:
        while self.pending:
            self.finish(self.pending.popleft())

    def finish(self, work: FileWork) -> None:
        ctx = self.ctx
        assert ctx is not None
        if work.copy_of is not None and work.rejection is None:
            steps.settle_copy(ctx, work)
        if work.rejection is None and work.duplicate_of is None:
            with refusals(work):
                steps.collect_ocr(ctx, work, self.recover)
        if work.rejection is not None:
            for page in work.pages:  # pages of a refused file are not waited for
                if page.future is not None:
                    page.future.cancel()
        status = self.finisher(ctx, work)
        if status != "rejected":
            for page in work.pages:
                self.summary.ocr_seconds += page.seconds
                if page.worker_pid is not None and page.worker_rss_mb is not None:
                    rss = self.summary.worker_rss_mb
                    rss[page.worker_pid] = max(rss.get(page.worker_pid, 0.0), page.worker_rss_mb)
                if page.worker_pid is not None and page.separator is None:
                    self.summary.pages_ocred += 1
        status = self.report(work.record_id)
        log.info("file finished", extra={"source": work.source, "status": status})
        self.progress.file_done(work.source, status)

    def report(self, record_id: str) -> str:
        with self.rt.sessions() as session:
            record = session.get(BatchFile, record_id)
            assert record is not None
            for line in lines_for_file(session, record):
                self.summary.lines += 1
                self.summary.by_status[line["status"]] += 1
                self.summary.pages += len(line["pages"])
                for problem in line["problems"]:
                    self.summary.problems[problem["code"]] += 1
                self.emit(line)
            return record.status


def default_pool_factory(rt: Runtime) -> Callable[[], OcrPool]:
    """The in-process OCR pool the settings describe."""
    s = rt.settings
    cfg = engine_config(rt)
    return lambda: OcrPool(cfg, s.ocr_workers, s.ocr_recycle_pages, s.max_image_pixels)


class _Remote(Protocol):
    pool_factory: Callable[[], OcrPool]
    finisher: Callable[[steps.IngestContext, FileWork], str]

    def close(self) -> None: ...


def _remote(rt: Runtime, batch_id: str, office: str, user: str, engine: str) -> _Remote | None:
    """With ``ARCHIVE_BROKER_URL``: pages and files go to Celery workers (``archive.distributed``)."""
    if not rt.settings.broker_url:
        return None
    from archive.distributed.dispatch import CeleryDispatch  # Celery is loaded only when configured

    return CeleryDispatch(rt.settings, {"batch_id": batch_id, "office": office, "user": user, "engine": engine})


def _wrapped(factory: Callable[[], OcrPool], wrap: Callable[[OcrPool], OcrPool]) -> Callable[[], OcrPool]:
    return lambda: wrap(factory())


def run_batch(
    rt: Runtime,
    sources: list[str],
    *,
    office: str,
    user: str,
    emit: Callable[[dict], None],
    progress: Progress | None = None,
    pool_factory: Callable[[], OcrPool] | None = None,
    opened: tuple[str, bool] | None = None,
    wrap_pool: Callable[[OcrPool], OcrPool] | None = None,
) -> BatchSummary:
    """Ingest ``sources`` as one batch; ``emit`` receives each report line as its file finishes.
    ``opened`` is a batch already registered by ``open_batch`` (an upload that answered with its id);
    ``wrap_pool`` sees each OCR pool the batch makes (the API's stoppable view)."""
    progress = progress or NoProgress()
    if not OFFICE_PATTERN.fullmatch(office):
        raise ValueError(f"经办机构代码 {office!r} 无效：应为 1–32 位字母、数字、下划线或连字符")
    cfg = engine_config(rt)
    engine = engine_name(cfg)
    batch_id, resumed = opened or open_batch(rt, sources, office, user, engine)
    summary = BatchSummary(batch_id=batch_id, resumed=resumed)
    started = time.perf_counter()
    remote = _remote(rt, batch_id, office, user, engine)
    try:
        factory = pool_factory or (remote.pool_factory if remote is not None else default_pool_factory(rt))
        if wrap_pool is not None:
            factory = _wrapped(factory, wrap_pool)
        finisher = remote.finisher if remote is not None else finish_file
        flow = _Flow(rt, factory, summary, progress, emit, finisher)
        flow.ctx = steps.IngestContext(
            rt=rt,
            batch_id=batch_id,
            office=office,
            engine_name=engine,
            user=user,
            submit=flow.submit,
            remote_prepare=remote is not None and pool_factory is None,
            classifier=load_classifier(rt.settings),
            taxonomy=taxonomy_for(rt.settings),
        )
        with rt.sessions() as session:
            records = session.scalars(
                select(BatchFile).where(BatchFile.batch_id == batch_id).order_by(BatchFile.position)
            ).all()
        progress.files(len(records))
        try:
            for record in records:
                if record.status != "pending":  # finished before an interruption: report it again
                    flow.finish_ready()
                    flow.finish_all()
                    flow.report(record.id)
                    progress.file_done(record.source, record.status)
                    continue
                flow.start(flow.ctx, FileWork(position=record.position, source=record.source, record_id=record.id))
                flow.finish_ready()
            flow.finish_all()
        finally:
            flow.pool.close(cancel=True)
    finally:
        if remote is not None:
            remote.close()
    summary.seconds = time.perf_counter() - started
    with rt.sessions.begin() as session:
        batch = session.get(Batch, batch_id)
        assert batch is not None
        batch.status = "completed"
        batch.finished_at = datetime.now(UTC)
        batch.counts = {
            "by_status": dict(summary.by_status),
            "problems": dict(summary.problems),
            "pages": summary.pages,
        }
    return summary
