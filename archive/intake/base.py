"""What every ingestor produces, and how it fails."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from archive.quality.resolution import Resolution


class IntakeError(Exception):
    """A source file that cannot be ingested.  ``code`` is stable; ``detail`` is for people (Chinese)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class IntakePage:
    """One scanned page as image bytes ready for storage and OCR."""

    index: int  # 0-based position in the source file
    data: bytes
    media_type: str  # image/jpeg | image/png
    width: int
    height: int
    dpi: float = 200.0  # pixels per inch for placing the image on a PDF page
    resolution: Resolution | None = None  # the scan's effective resolution and where it came from


class Ingestor(Protocol):
    media_type: str

    def page_count(self) -> int: ...

    def pages(self) -> Iterator[IntakePage]: ...


@dataclass(frozen=True)
class SourceFile:
    """A file as the user gave it, with the ingestor chosen for its content."""

    source: str  # path as given
    path: Path
    media_type: str
    ingestor: Ingestor
