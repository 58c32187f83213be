"""Uploaded batches: files streamed to disk under the data home, then ingested one batch at a
time by a background thread, with live progress for the status endpoint.

Uploads wait in ``<home>/uploads/<token>/`` until their batch completes.  A batch left running by
a stopped server is queued again at start-up (the pipeline resumes it: nothing is lost or done twice).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from archive.errors import Invalid
from archive.identity.principal import Principal
from archive.intake.manager import sniff
from archive.pipeline.runner import engine_config, open_batch, run_batch
from archive.records.models import Batch, BatchFile
from archive.runtime import Runtime
from ocr.pool import OcrPool, engine_name

log = logging.getLogger("archive.api.batches")
ACCEPTED = {".pdf", ".tif", ".tiff", ".jpg", ".jpeg", ".png"}
_UNSAFE = re.compile(r"[^\w.\-\u4e00-\u9fff]+")


@dataclass
class Progress:
    state: str = "queued"  # queued|running|finished|failed
    files_total: int = 0
    files_done: int = 0
    pages_total: int = 0
    pages_done: int = 0
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def files(self, total: int) -> None:
        self.files_total = total

    def pages_found(self, count: int) -> None:
        with self.lock:
            self.pages_total += count

    def page_done(self) -> None:
        with self.lock:
            self.pages_done += 1

    def file_done(self, source: str, status: str) -> None:
        with self.lock:
            self.files_done += 1


def safe_name(filename: str | None, position: int) -> str:
    """A file name that cannot leave its folder: the last path part, odd characters replaced."""
    base = re.split(r"[\\/]", filename or "")[-1]
    base = _UNSAFE.sub("_", base).strip("._") or "file"
    return f"{position:04d}-{base[-100:]}"


def check_upload(name: str, head: bytes) -> None:
    """Refuse a file whose extension or first bytes are not a scan format we read."""
    suffix = Path(name).suffix.lower()
    if suffix not in ACCEPTED:
        raise Invalid(
            "unsupported_file_type", f"不支持的文件类型 {suffix or '（无扩展名）'}：只接受 PDF、TIFF、JPEG、PNG"
        )
    if sniff(head) is None:
        raise Invalid("unsupported_file_type", f"文件 {name} 的内容不是 PDF、TIFF、JPEG 或 PNG")


class BatchWorker:
    def __init__(self, rt: Runtime, pool_factory: Callable[[], OcrPool] | None = None) -> None:
        self.rt = rt
        self.pool_factory = pool_factory
        self.uploads = rt.settings.home / "uploads"
        self.progress: dict[str, Progress] = {}
        self._jobs: queue.Queue[tuple[str, list[str], str, str] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="batch-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._requeue_unfinished()

    def stop(self, timeout: float = 5.0) -> None:
        self._jobs.put(None)
        self._thread.join(timeout)

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
        while (job := self._jobs.get()) is not None:
            batch_id, sources, office, user = job
            progress = self.progress.setdefault(batch_id, Progress())
            progress.state = "running"
            try:
                run_batch(
                    self.rt,
                    sources,
                    office=office,
                    user=user,
                    emit=lambda line: None,
                    progress=progress,
                    pool_factory=self.pool_factory,
                    opened=(batch_id, True),
                )
                progress.state = "finished"
                self._clean(batch_id)
            except Exception as exc:  # the batch stays resumable; the status shows why it stopped
                log.exception("batch failed", extra={"batch_id": batch_id})
                progress.state, progress.error = "failed", "批次处理中断，已保留上传文件，重启服务后将继续"
                del exc
