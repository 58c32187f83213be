"""Uploaded batches: files streamed to disk under the data home, then ingested one batch at a
time by a background thread, with live progress for the status endpoint; and the reading of
batches (scope, history, what each produced) shared by the API and the pages.

Uploads wait in ``<home>/uploads/<token>/`` until their batch completes.  A batch left running by
a stopped server is queued again at start-up (the pipeline resumes it: nothing is lost or done twice).

Graceful shutdown (``stop``): the thread takes no further batch, finishes the file it is on for up
to ``ARCHIVE_SHUTDOWN_GRACE_SECONDS`` and then stops between two steps; after the grace period the
pages still awaited from OCR are given up (those read so far are kept by the pipeline's OCR cache).
Either way the batch stays ``running`` in the database and the next start resumes it.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, InvalidStateError
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from api.schemas import BatchDossierOut, BatchFileOut, BatchOut, BatchProblemOut, BatchProgress, BatchSummaryOut
from archive.errors import Invalid, NotFound
from archive.identifiers import mask_numbers
from archive.identity.principal import ALL_OFFICES, Principal
from archive.identity.roles import VISIBLE_STATUSES
from archive.intake.manager import sniff
from archive.pipeline.runner import engine_config, open_batch, run_batch
from archive.records.models import Batch, BatchFile, Dossier, Original
from archive.runtime import Runtime
from ocr.pool import OcrPool, PageOutcome, engine_name

log = logging.getLogger("archive.api.batches")
ACCEPTED = {".pdf", ".tif", ".tiff", ".jpg", ".jpeg", ".png"}
_UNSAFE = re.compile(r"[^\w.\-\u4e00-\u9fff]+")
ABORT_WAIT_S = 15.0  # after the grace period: how long the pages already in the OCR workers may take


class ShuttingDown(BaseException):
    """Raised inside the batch thread to stop a batch between two steps at shutdown.  Not an
    ``Exception``: the pipeline refuses a file on any ``Exception``, and this must leave the file
    pending (and the batch running) for the next start to resume."""


class BatchEvents:
    """What the batch thread reports as it works (``api.metrics.Metrics`` counts it); ignored by default."""

    def page_read(self, seconds: float) -> None:
        """One page came back from OCR, ``seconds`` of OCR time."""

    def batch_done(self, outcome: str, seconds: float) -> None:
        """A batch ended: ``finished``, ``failed`` or ``interrupted`` (by shutdown, resumed at the next start)."""


@dataclass
class Progress:
    state: str = "queued"  # queued|running|finished|failed
    files_total: int = 0
    files_done: int = 0
    pages_total: int = 0
    pages_done: int = 0
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Called by the pipeline's own thread where stopping is safe; raises ShuttingDown to stop there.
    checkpoint: Callable[[bool], None] | None = field(default=None, repr=False, compare=False)

    def files(self, total: int) -> None:
        self.files_total = total

    def pages_found(self, count: int) -> None:
        with self.lock:
            self.pages_total += count
        if self.checkpoint is not None:
            self.checkpoint(False)  # a file's pages are about to be read: stop here only when aborting

    def page_done(self) -> None:
        with self.lock:
            self.pages_done += 1

    def file_done(self, source: str, status: str) -> None:
        with self.lock:
            self.files_done += 1
        if self.checkpoint is not None:
            self.checkpoint(True)  # a file is committed: the place to stop at shutdown


class _StoppablePool:
    """The batch's OCR pool as the pipeline sees it: each page read is reported, and at a hard stop
    every page still awaited fails with ``ShuttingDown`` instead of being waited for."""

    def __init__(self, pool: OcrPool, aborting: threading.Event, events: BatchEvents) -> None:
        self._pool = pool
        self._aborting = aborting
        self._events = events
        self._lock = threading.Lock()
        self._awaited: set[Future[PageOutcome]] = set()
        self.capacity = pool.capacity

    def submit(self, data: bytes, image_key: str = "", raw: object = None) -> Future[PageOutcome]:
        with self._lock:
            if self._aborting.is_set():
                raise ShuttingDown()
            inner = self._pool.submit(data, image_key, raw)
            outer: Future[PageOutcome] = Future()
            self._awaited.add(outer)
        outer.add_done_callback(lambda f: inner.cancel() if f.cancelled() else None)
        inner.add_done_callback(lambda f: self._settle(outer, f))
        return outer

    def _settle(self, outer: Future[PageOutcome], inner: Future[PageOutcome]) -> None:
        with self._lock:
            self._awaited.discard(outer)
        try:
            if inner.cancelled():
                outer.set_exception(CancelledError())  # the pipeline reads it as a lost page
            elif (exc := inner.exception()) is not None:
                outer.set_exception(exc)
            else:
                outcome = inner.result()
                if outcome.error is None:
                    self._events.page_read(outcome.seconds)
                outer.set_result(outcome)
        except InvalidStateError:  # cancelled by the pipeline, or failed by abort(): nobody waits
            pass

    def abort(self) -> None:
        with self._lock:
            awaited, self._awaited = list(self._awaited), set()
        for future in awaited:
            with contextlib.suppress(InvalidStateError):
                future.set_exception(ShuttingDown())

    def close(self, cancel: bool = False) -> None:
        self._pool.close(cancel=cancel)


def safe_name(filename: str | None, position: int) -> str:
    """A file name that cannot leave its folder: the last path part, odd characters replaced."""
    base = re.split(r"[\\/]", filename or "")[-1]
    base = _UNSAFE.sub("_", base).strip("._") or "file"
    return f"{position:04d}-{base[-100:]}"


def check_upload(name: str, head: bytes) -> None:
    """Refuse a file whose extension or first bytes are not a scan format we read."""
    suffix = Path(name).suffix.lower()
    shown = re.split(r"[\\/]", name)[-1]  # messages name the file as the person chose it
    if suffix not in ACCEPTED:
        raise Invalid(
            "unsupported_file_type",
            f"文件 {shown} 的类型 {suffix or '（无扩展名）'} 不受支持：只接受 PDF、TIFF、JPEG、PNG",
        )
    if sniff(head) is None:
        raise Invalid("unsupported_file_type", f"文件 {shown} 的内容不是 PDF、TIFF、JPEG 或 PNG")


class BatchWorker:
    def __init__(
        self,
        rt: Runtime,
        pool_factory: Callable[[], OcrPool] | None = None,
        events: BatchEvents | None = None,
    ) -> None:
        self.rt = rt
        self.pool_factory = pool_factory
        self.events = events or BatchEvents()
        self.uploads = rt.settings.home / "uploads"
        self.progress: dict[str, Progress] = {}
        self._jobs: queue.Queue[tuple[str, list[str], str, str] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="batch-worker", daemon=True)
        self._stopping = threading.Event()  # take no further batch; stop once the current file is done
        self._aborting = threading.Event()  # the grace period is over: stop at the next step
        self._pool: _StoppablePool | None = None
        self._running: str | None = None

    def start(self) -> None:
        self._thread.start()
        self._requeue_unfinished()

    def stop(self, grace: float | None = None) -> bool:
        """Stop the thread: the file being processed may finish for ``grace`` seconds (default
        ``ARCHIVE_SHUTDOWN_GRACE_SECONDS``), then the batch stops where it is.  An unfinished batch
        stays ``running`` in the database and is resumed at the next start.  True when the thread ended."""
        self._stopping.set()
        self._jobs.put(None)  # wakes an idle thread
        if not self._thread.is_alive():
            return True
        grace = self.rt.settings.shutdown_grace_seconds if grace is None else grace
        busy = self._running
        if busy is not None:
            log.info("batch worker stopping", extra={"batch_id": busy, "grace_s": grace})
        self._thread.join(grace if busy is not None else max(grace, 1.0))  # idle: it wakes on the sentinel
        if self._thread.is_alive():
            log.warning("batch not at a file boundary after the grace period; stopping it", extra={"grace_s": grace})
            self._aborting.set()
            pool = self._pool
            if pool is not None:
                pool.abort()
            self._thread.join(ABORT_WAIT_S)
        if self._thread.is_alive():
            log.error("batch worker still running at shutdown; the batch resumes at the next start")
            return False
        return True

    def _checkpoint(self, between_files: bool) -> None:
        if self._aborting.is_set() or (between_files and self._stopping.is_set()):
            raise ShuttingDown()

    def _stoppable(self, pool: OcrPool) -> OcrPool:
        """The pipeline's view of each pool the batch makes (in-process or Celery): stoppable."""
        if self._aborting.is_set():
            pool.close(cancel=True)
            raise ShuttingDown()
        self._pool = _StoppablePool(pool, self._aborting, self.events)
        return self._pool  # type: ignore[return-value]  # the same submit/close/capacity

    @property
    def alive(self) -> bool:
        """Whether the one thread that processes uploaded batches is running."""
        return self._thread.is_alive()

    @property
    def queue_depth(self) -> int:
        """Batches uploaded and waiting for the thread (the one being processed not counted)."""
        with self._jobs.mutex:  # stop()'s wake-up (None) is no batch
            return sum(1 for job in self._jobs.queue if job is not None)

    @property
    def current(self) -> str | None:
        """The batch being processed now, if any."""
        return self._running

    def new_folder(self) -> Path:
        folder = self.uploads / secrets.token_hex(16)
        folder.mkdir(parents=True)
        return folder

    def submit(self, principal: Principal, folder: Path, sources: list[str]) -> str:
        """Register the batch (so its id can be answered at once) and queue it."""
        engine = engine_name(engine_config(self.rt))
        batch_id, _ = open_batch(self.rt, sources, principal.office, principal.name, engine)
        self.progress[batch_id] = Progress(files_total=len(sources))
        self._jobs.put((batch_id, sources, principal.office, principal.name))
        return batch_id

    def _requeue_unfinished(self) -> None:
        with self.rt.sessions() as session:
            batches = session.scalars(select(Batch).where(Batch.status.in_(("running", "interrupted")))).all()
            for batch in batches:
                sources = list(
                    session.scalars(
                        select(BatchFile.source).where(BatchFile.batch_id == batch.id).order_by(BatchFile.position)
                    )
                )
                if sources and all(Path(s).is_relative_to(self.uploads) and Path(s).exists() for s in sources):
                    self.progress[batch.id] = Progress(files_total=len(sources))
                    self._jobs.put((batch.id, sources, batch.office, batch.created_by))

    def _clean(self, batch_id: str) -> None:
        """Delete the uploads now kept in the store; a refused file stays for the archivist."""
        with self.rt.sessions() as session:
            done = session.scalars(
                select(BatchFile.source).where(
                    BatchFile.batch_id == batch_id, BatchFile.status.in_(("ingested", "duplicate"))
                )
            ).all()
        for source in done:
            path = Path(source)
            if path.is_relative_to(self.uploads):
                path.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    path.parent.rmdir()  # only when empty

    def _run(self) -> None:
        while not self._stopping.is_set() and (job := self._jobs.get()) is not None:
            if self._stopping.is_set():  # taken while stopping: stays running in the database
                break
            batch_id, sources, office, user = job
            progress = self.progress.setdefault(batch_id, Progress())
            progress.checkpoint = self._checkpoint
            progress.state = "running"
            self._running, started = batch_id, time.perf_counter()
            outcome = "failed"
            try:
                run_batch(
                    self.rt,
                    sources,
                    office=office,
                    user=user,
                    emit=lambda line: None,
                    progress=progress,
                    pool_factory=self.pool_factory,
                    wrap_pool=self._stoppable,
                    opened=(batch_id, True),
                )
                progress.state, outcome = "finished", "finished"
                self._clean(batch_id)
            except ShuttingDown:
                log.info("batch interrupted by shutdown; resumes at the next start", extra={"batch_id": batch_id})
                progress.state, outcome = "queued", "interrupted"
                break
            except Exception as exc:  # the batch stays resumable; the status shows why it stopped
                log.exception("batch failed", extra={"batch_id": batch_id})
                progress.state, progress.error = "failed", "批次处理中断，已保留上传文件，重启服务后将继续"
                del exc
            finally:
                self._running, self._pool = None, None
                self.events.batch_done(outcome, time.perf_counter() - started)


# -- reading batches: the API routes and the pages call these ------------------------------------

LISTED = 200  # most problems / dossiers listed for one batch (the counts are always complete)
DEFAULT_VISIBLE = frozenset({"needs_review", "rejected"})


def scoped(principal: Principal) -> Select[tuple[Batch]]:
    """Batches the principal may see: their office's, or every office's for an all-office account."""
    query = select(Batch).options(selectinload(Batch.files))
    if principal.office != ALL_OFFICES:
        query = query.where(Batch.office == principal.office)
    return query


def find_batch(session: Session, principal: Principal, batch_id: str) -> Batch:
    batch = session.scalar(scoped(principal).where(Batch.id == batch_id))
    if batch is None:
        raise NotFound("batch_not_found", "批次不存在或不在您的查阅范围内")
    return batch


def recent_batches(session: Session, principal: Principal, limit: int, before: str | None = None) -> list[Batch]:
    """Newest first (ids are time-ordered UUIDv7); ``before`` continues after an earlier page."""
    query = scoped(principal)
    if before:
        query = query.where(Batch.id < before)
    return list(session.scalars(query.order_by(Batch.id.desc()).limit(limit)).all())


def _progress_of(batch: Batch, progress: Progress | None) -> BatchProgress:
    if progress is None:  # a batch of another server process, or from before a restart
        state = {"completed": "finished", "running": "running"}.get(batch.status, "unknown")
        done = Counter(f.status for f in batch.files)
        progress = Progress(state=state, files_total=len(batch.files), files_done=len(batch.files) - done["pending"])
    return BatchProgress(
        state=progress.state,
        files_total=progress.files_total,
        files_done=progress.files_done,
        pages_total=progress.pages_total,
        pages_done=progress.pages_done,
        error=progress.error,
    )


def _file_of(batch: Batch, sha_by_original: dict[str, str]) -> Callable[[str], BatchFile | None]:
    """The uploaded file a dossier came from (by the content digest of its original)."""
    by_sha: dict[str, BatchFile] = {}
    for record in sorted(batch.files, key=lambda f: (f.status != "ingested", f.position)):
        if record.sha256:
            by_sha.setdefault(record.sha256, record)
    return lambda original_id: by_sha.get(sha_by_original.get(original_id, ""))


def describe(
    session: Session, batches: list[Batch], progress: dict[str, Progress], role: str, detailed: bool = False
) -> list[BatchOut]:
    """Each batch with its files, progress and what it produced; ``detailed`` adds the open
    problems and the dossiers awaiting review, limited to the statuses ``role`` may see."""
    if not batches:
        return []
    visible = VISIBLE_STATUSES.get(role, DEFAULT_VISIBLE)  # type: ignore[call-overload]  # a Role is a str
    rows = session.execute(
        select(
            Dossier.id,
            Dossier.batch_id,
            Dossier.original_id,
            Dossier.archive_number,
            Dossier.business_type,
            Dossier.status,
            Dossier.page_count,
            Dossier.problems,
        )
        .where(Dossier.batch_id.in_([b.id for b in batches]))
        .order_by(Dossier.original_id, Dossier.seq_in_source)
    ).all()
    by_batch: dict[str, list] = {}
    for row in rows:
        by_batch.setdefault(row.batch_id, []).append(row)
    sha_by_original: dict[str, str] = {}
    if detailed and rows:
        originals = {row.original_id for row in rows}
        found = session.execute(select(Original.id, Original.sha256).where(Original.id.in_(originals))).tuples()
        sha_by_original = dict(found.all())
    return [_one(b, by_batch.get(b.id, []), progress.get(b.id), visible, detailed, sha_by_original) for b in batches]


def _one(
    batch: Batch,
    rows: list,
    progress: Progress | None,
    visible: frozenset[str],
    detailed: bool,
    sha_by_original: dict[str, str],
) -> BatchOut:
    file_problems = [f for f in batch.files if f.problem_code]
    open_rows = [r for r in rows if r.status in visible]
    files = Counter(f.status for f in batch.files)
    summary = BatchSummaryOut(
        files_rejected=files["rejected"],
        files_duplicate=files["duplicate"],
        dossiers_total=len(rows),
        dossiers_classified=sum(1 for r in rows if r.business_type),
        pages_stored=sum(r.page_count or 0 for r in rows),
        problems_total=len(file_problems) + sum(len(r.problems or []) for r in open_rows),
    )
    out = BatchOut(
        id=batch.id,
        status=batch.status,
        office=batch.office,
        created_by=batch.created_by,
        created_at=batch.created_at,
        finished_at=batch.finished_at,
        files=[
            BatchFileOut(
                position=f.position,
                name=Path(f.source).name,
                status=f.status,
                problem_code=f.problem_code,
                problem_detail=f.problem_detail,
            )
            for f in batch.files
        ],
        dossiers=dict(Counter(r.status for r in rows)),
        progress=_progress_of(batch, progress),
        summary=summary,
    )
    if detailed:
        out.problems, out.review = _details(batch, file_problems, open_rows, _file_of(batch, sha_by_original))
    return out


def _details(
    batch: Batch, file_problems: list[BatchFile], open_rows: list, file_of: Callable[[str], BatchFile | None]
) -> tuple[list[BatchProblemOut], list[BatchDossierOut]]:
    problems = [
        (
            f.position,
            BatchProblemOut(
                file_position=f.position,
                file_name=Path(f.source).name,
                dossier=None,
                archive_number=None,
                code=f.problem_code or "",
                detail=f.problem_detail or "",
            ),
        )
        for f in file_problems
    ]
    review: list[tuple[int, BatchDossierOut]] = []
    for row in open_rows:
        source = file_of(row.original_id)
        position = source.position if source else len(batch.files)
        name = Path(source.source).name if source else None
        for problem in row.problems or []:
            problems.append(
                (
                    position,
                    BatchProblemOut(
                        file_position=source.position if source else None,
                        file_name=name,
                        dossier=row.id,
                        archive_number=row.archive_number,
                        code=str(problem.get("code", "")),
                        detail=mask_numbers(str(problem.get("detail", ""))),  # as the review queue shows it
                        page=problem.get("page") if isinstance(problem.get("page"), int) else None,
                    ),
                )
            )
        if row.status == "needs_review":
            entry = BatchDossierOut(
                id=row.id,
                archive_number=row.archive_number,
                business_type=row.business_type,
                status=row.status,
                file_name=name,
                problems=len(row.problems or []),
            )
            review.append((position, entry))
    problems.sort(key=lambda item: (item[0], item[1].dossier is not None))
    review.sort(key=lambda item: item[0])
    return [p for _, p in problems[:LISTED]], [d for _, d in review[:LISTED]]


def listed_dossiers(batch: BatchOut) -> list[str]:
    """The dossiers a detailed answer names (they go into the access log entry)."""
    seen: dict[str, None] = {}
    for problem in batch.problems or []:
        if problem.dossier:
            seen[problem.dossier] = None
    for dossier in batch.review or []:
        seen[dossier.id] = None
    return list(seen)
