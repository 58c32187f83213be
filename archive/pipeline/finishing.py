"""Finishing one file once its pages are read: the same steps in this process or on a Celery worker.

load_ocr → split_dossiers → check_dossiers → classify_dossiers → write_pdfs → commit (or reject)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from archive.pipeline import steps
from archive.pipeline.work import BatchStopped, FileWork, Rejected

log = logging.getLogger(__name__)


@contextmanager
def refusals(work: FileWork, faults: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """A step's refusal, or any other failure (a bug, an I/O fault), refuses this file only.  A
    stopped batch, and the ``faults`` a Celery task retries (database, store), are not refusals."""
    try:
        yield
    except Rejected as exc:
        work.rejection = exc.problem
    except (BatchStopped, *faults):
        raise
    except Exception as exc:
        log.exception("ingest step failed", extra={"source": work.source})
        work.rejection = steps.Problem("internal_error", f"处理文件时发生内部错误：{exc}")


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = round(time.perf_counter() - started, 4)


def finish_file(ctx: steps.IngestContext, work: FileWork, faults: tuple[type[BaseException], ...] = ()) -> str:
    """Classify, validate and store the file's dossiers and record the outcome in one transaction;
    returns the file's status (ingested, duplicate or rejected).  Run twice for the same file (a
    task handed out again), the second run records nothing and returns what the first recorded.
    ``faults`` propagate instead of refusing the file (a worker's task is retried on them)."""
    timings: dict[str, float] = {}
    if work.rejection is None and work.duplicate_of is None:
        with refusals(work, faults):
            with _timed(timings, "load_ocr"):
                steps.load_ocr(ctx, work)
            with _timed(timings, "check"):
                steps.split_dossiers(work)
                steps.check_dossiers(ctx, work)
            with _timed(timings, "classify"):
                steps.classify_dossiers(ctx, work)
            with _timed(timings, "pdf"):
                steps.write_pdfs(ctx, work)
    seconds = round(time.time() - work.started, 3)
    try:
        if work.rejection is None:
            try:
                with _timed(timings, "commit"):
                    steps.commit(ctx, work, seconds)
                log.info("file recorded", extra={"source": work.source, "pages": len(work.pages), "steps": timings})
                return "duplicate" if work.duplicate_of is not None else "ingested"
            except (steps.AlreadyFinished, *faults):
                raise
            except Exception as exc:  # e.g. a value the database refuses: this file fails, not the batch
                log.exception("commit failed", extra={"source": work.source})
                work.rejection = steps.Problem("internal_error", f"记录入库失败，文件未入库：{exc}")
        steps.reject(ctx, work, seconds)
        return "rejected"
    except steps.AlreadyFinished as done:
        log.info("file already finished by another run", extra={"source": work.source, "status": done.status})
        return done.status
