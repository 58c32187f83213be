"""The state one source file carries through the ingest steps."""

from __future__ import annotations

import base64
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from archive.quality.page import PageQuality, QualityConfig
from archive.quality.resolution import Resolution
from ocr.engine import PageOcr
from ocr.pool import PageOutcome


@dataclass(frozen=True)
class Problem:
    code: str
    detail: str
    page: int | None = None  # page number within the dossier, when the problem is a page's

    def to_json(self) -> dict:
        out: dict = {"code": self.code, "detail": self.detail}
        if self.page is not None:
            out["page"] = self.page
        return out


class BatchStopped(RuntimeError):
    """The batch cannot go on (the broker is unreachable, a file's task failed for good, the workers
    run another engine).  Not a refusal of the file in hand: the batch stops and stays resumable."""


class Rejected(Exception):
    """A step refuses the file; the batch goes on with the next one."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.problem = Problem(code, detail)


@dataclass(frozen=True)
class RawPage:
    """A page as intake gave it, for a Celery worker that measures, straightens, stores and reads it."""

    data: bytes
    media_type: str
    resolution: Resolution | None
    config: QualityConfig

    def to_json(self) -> dict:
        return {
            "data": base64.b64encode(self.data).decode("ascii"),
            "media_type": self.media_type,
            "resolution": asdict(self.resolution) if self.resolution is not None else None,
            "config": asdict(self.config),
        }

    @classmethod
    def from_json(cls, data: dict) -> RawPage:
        resolution = data["resolution"]
        return cls(
            data=base64.b64decode(data["data"]),
            media_type=data["media_type"],
            resolution=Resolution(**resolution) if resolution is not None else None,
            config=QualityConfig(**data["config"]),
        )


@dataclass
class PageWork:
    index: int  # 0-based page of the source file
    image_key: str
    image_sha256: str
    media_type: str
    width: int
    height: int
    dpi: float  # for placing the image on a PDF page
    quality: PageQuality | None = None  # scan-quality measurements (None: the image could not be measured)
    future: Future[PageOutcome] | None = None
    ocr: PageOcr | None = None  # None with an ocr_key: read by a worker, loaded from the store when needed
    ocr_key: str = ""  # object key of the stored OCR result
    separator: str | None = None
    seconds: float = 0.0
    worker_pid: int | None = None
    worker_rss_mb: float | None = None
    raw: RawPage | None = None  # kept until a worker has prepared the page (to send it again if lost)

    def to_json(self) -> dict:
        """What another process needs to finish this page (the OCR itself travels by ``ocr_key``)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _NOT_SENT}
        out["quality"] = asdict(self.quality) if self.quality is not None else None  # full precision
        return out

    @classmethod
    def from_json(cls, data: dict) -> PageWork:
        quality = data.get("quality")
        return cls(**{**data, "quality": PageQuality(**quality) if quality is not None else None})


_NOT_SENT = {"future", "ocr", "raw"}


@dataclass
class DossierWork:
    seq: int  # 1.. within the source file
    archive_number: str | None
    pages: list[PageWork] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    pdf_key: str | None = None
    decision: Any = None  # archive.classify.model.Decision
    record: Any = None  # archive.extract.CaseRecord
    status: str = "needs_review"


@dataclass
class FileWork:
    position: int
    source: str
    record_id: str  # BatchFile.id
    started: float = 0.0
    sha256: str | None = None
    size: int | None = None
    media_type: str | None = None
    original_key: str | None = None
    duplicate_of: str | None = None  # Original.id of the archived copy
    copy_of: int | None = None  # position of an identical file earlier in this batch, not yet finished
    pages: list[PageWork] = field(default_factory=list)
    dossiers: list[DossierWork] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # file-level notes that do not reject it
    rejection: Problem | None = None

    def to_json(self) -> dict:
        """The file's state after OCR, for the task that finishes it on a worker."""
        assert self.rejection is None and not self.dossiers, "only a file still to be finished is sent"
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("pages", "dossiers", "problems")}
        out["pages"] = [p.to_json() for p in self.pages]
        out["problems"] = [asdict(p) for p in self.problems]
        return out

    @classmethod
    def from_json(cls, data: dict) -> FileWork:
        rest = {k: v for k, v in data.items() if k not in ("pages", "problems", "rejection")}
        return cls(
            **rest,
            pages=[PageWork.from_json(p) for p in data["pages"]],
            problems=[Problem(**p) for p in data["problems"]],
        )
