"""OCR work in N worker processes, each with its own engine and fixed thread count.

Workers are replaced after about ``recycle`` pages each, which bounds memory (PaddleOCR's grows
with page sizes).  Replacement rotates the whole executor: after ``recycle × workers`` pages a new
executor takes the next pages while the old one finishes its own and exits.  (The executor's own
``max_tasks_per_child`` is not used: on Python 3.11 it can deadlock, CPython gh-115634.)  With
``workers=0`` the engine runs in the calling process (tests, debugging).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from ocr.engine import OcrEngine, PageOcr
from ocr.images import ImageError
from ocr.page import read_page
from ocr.registry import EngineConfig, create_engine

log = logging.getLogger(__name__)

_engine: OcrEngine | None = None
_pixel_limit: int = 0


@dataclass
class PageOutcome:
    separator: str | None
    ocr: dict | None  # PageOcr.to_json()
    error: tuple[str, str] | None  # (code, detail)
    seconds: float
    pid: int | None  # None: the OCR was already kept (no process read it this time)
    max_rss_mb: float
    ocr_key: str | None = None  # where a Celery worker kept ``ocr`` (then not sent back)
    prepared: dict | None = None  # a Celery worker that prepared the page: image_key, image_sha256, quality

    def page_ocr(self) -> PageOcr | None:
        return PageOcr.from_json(self.ocr) if self.ocr is not None else None


def _limit_threads(threads: int) -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "FLAGS_cpu_math_library_num_threads"):
        os.environ[var] = str(threads)
    import cv2  # already loaded with the worker: its thread pool ignores the variables above

    cv2.setNumThreads(threads)


def init_worker(cfg: EngineConfig, pixel_limit: int) -> None:
    """Build this process's engine with a fixed thread count (the pool's initializer)."""
    global _engine, _pixel_limit
    _limit_threads(cfg.threads)
    root = logging.getLogger()
    level = root.level
    _engine = create_engine(cfg)
    root.setLevel(level)  # loading PaddleOCR raises the root level to WARNING: this process's info logs stay
    _pixel_limit = pixel_limit


def worker_engine() -> OcrEngine:
    """The engine ``init_worker`` built in this process."""
    assert _engine is not None, "worker not initialised"
    return _engine


def peak_rss_mb() -> float:
    """This process's peak resident memory so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_one(data: bytes) -> PageOutcome:
    """OCR of one page image with the engine `init_worker` built in this process."""
    assert _engine is not None, "worker not initialised"
    start = time.perf_counter()
    try:
        reading = read_page(_engine, data, _pixel_limit)
        sep, ocr, err = reading.separator, (reading.ocr.to_json() if reading.ocr else None), None
    except ImageError as exc:
        sep, ocr, err = None, None, (exc.code, exc.detail)
    return PageOutcome(sep, ocr, err, time.perf_counter() - start, os.getpid(), peak_rss_mb())


class PageLost(Exception):
    """A page's OCR was not done (its task failed for good); the pipeline reads the page again."""


class OcrPool:
    def __init__(self, cfg: EngineConfig, workers: int, recycle: int, pixel_limit: int) -> None:
        self.cfg = cfg
        self.workers = workers
        self.pixel_limit = pixel_limit
        self.rotate_after = max(1, recycle * max(1, workers))
        self._submitted = 0
        self._retired: list[ProcessPoolExecutor] = []
        self._executor: ProcessPoolExecutor | None = None
        if workers > 0:
            self._executor = self._new_executor()
        else:
            init_worker(cfg, pixel_limit)

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
            initargs=(self.cfg, self.pixel_limit),
        )

    def _rotate(self) -> None:
        """A fresh executor for the next pages; the old one finishes what it has, then its workers exit."""
        assert self._executor is not None
        old, self._executor = self._executor, self._new_executor()
        old.shutdown(wait=False, cancel_futures=False)
        self._retired.append(old)
        self._submitted = 0
        log.info("ocr workers rotated", extra={"after_pages": self.rotate_after})

    @property
    def capacity(self) -> int:
        """How many pages to keep in flight so no worker waits."""
        return max(1, self.workers * 2)

    def submit(self, data: bytes, image_key: str = "", raw: object = None) -> Future[PageOutcome]:
        """OCR of one page image (``image_key``: where it is stored; ``raw``: a page still to be
        prepared, which only a Celery pool takes; this pool reads ``data`` as it is)."""
        if self._executor is not None:
            if self._submitted >= self.rotate_after:
                self._rotate()
            self._submitted += 1
            return self._executor.submit(read_one, data)
        fut: Future[PageOutcome] = Future()
        fut.set_result(read_one(data))
        return fut

    def close(self, cancel: bool = False) -> None:
        for old in self._retired:
            old.shutdown(wait=True, cancel_futures=cancel)
        self._retired.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=cancel)
            self._executor = None

    def __enter__(self) -> OcrPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close(cancel=exc[0] is not None)


def engine_name(cfg: EngineConfig) -> str:
    """The engine's identity (recorded with every OCR result) without loading a model."""
    from ocr.paddle_engine import PaddleEngine, configured_name
    from ocr.rapid_engine import RapidEngine

    if cfg.name == "paddle":
        return PaddleEngine.name if cfg.model_dir is None else configured_name(cfg.model_dir)
    if cfg.name == "rapid":
        return RapidEngine.name
    raise ValueError(f"unknown OCR engine {cfg.name!r}")
