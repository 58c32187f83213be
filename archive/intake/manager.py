"""Choose the ingestor for a file by its content (never trust the name alone)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from archive.intake.base import IntakeError, SourceFile
from archive.intake.images import SingleImageIngestor, TiffIngestor
from archive.intake.pdf import PdfIngestor
from archive.settings import Settings

SUPPORTED_SUFFIXES = {".pdf", ".tif", ".tiff", ".jpg", ".jpeg", ".png"}


def sniff(head: bytes) -> str | None:
    """The media type from the first bytes: image signatures at offset 0 first, then a PDF header
    (which the PDF standard lets appear anywhere in the first 1024 bytes)."""
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if b"%PDF-" in head[:1024]:
        return "application/pdf"
    return None


def open_source(source: str, settings: Settings) -> SourceFile:
    """Inspect a file and pick its ingestor; raises ``IntakeError`` with the reason it cannot be read."""
    path = Path(source)
    if not path.is_file():
        raise IntakeError("file_not_found", f"找不到文件：{source}")
    size = path.stat().st_size
    if size == 0:
        raise IntakeError("file_empty", "文件为空（0 字节）")
    if size > settings.max_file_bytes:
        raise IntakeError("file_too_large", f"文件大小 {size} 字节超过上限 {settings.max_file_bytes} 字节")
    with path.open("rb") as fh:
        head = fh.read(1024)
    media_type = sniff(head)
    suffix = path.suffix.lower()
    if media_type is None:
        if suffix == ".pdf":
            raise IntakeError("not_a_pdf", "文件扩展名为 .pdf，但内容不是 PDF")
        raise IntakeError("unsupported_type", f"不支持的文件类型（{suffix or '无扩展名'}）；支持 PDF、TIFF、JPEG、PNG")
    if media_type == "application/pdf":
        ingestor = PdfIngestor(path, settings.render_dpi, settings.max_image_pixels)
    elif media_type == "image/tiff":
        ingestor = TiffIngestor(path, settings.max_image_pixels)
    else:
        ingestor = SingleImageIngestor(path, media_type, settings.max_image_pixels)
    return SourceFile(source=source, path=path, media_type=media_type, ingestor=ingestor)


def expand_paths(paths: Iterable[str]) -> list[str]:
    """Files as given, and the supported files under each folder (recursive, sorted, no hidden files)."""
    out: list[str] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES:
                    out.append(str(child))
        else:
            out.append(given)
    return out
