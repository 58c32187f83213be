"""Image intake: single JPEG/PNG files are kept as they are; multi-page TIFFs become PNG pages."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageSequence

from archive.intake.base import IntakeError, IntakePage
from archive.quality.resolution import Resolution, from_metadata
from ocr.images import ImageError, check_pixels, to_standard_mode


def _open(path: Path) -> Image.Image:
    try:
        img = Image.open(path)
        img.size  # noqa: B018 - parse the header now
        return img
    except Image.DecompressionBombError as exc:
        raise IntakeError("image_too_large", f"图像像素过多（疑似解压炸弹）：{exc}") from exc
    except Exception as exc:
        raise IntakeError("image_unreadable", f"无法读取图像文件：{exc}") from exc


def _checked(width: int, height: int, limit: int) -> None:
    try:
        check_pixels(width, height, limit)
    except ImageError as exc:
        raise IntakeError(exc.code, exc.detail) from exc


def _resolution(img: Image.Image) -> Resolution:
    """The scan's resolution from the file's metadata when plausible, else estimated from its size."""
    return from_metadata(img.info.get("dpi"), img.width, img.height)


class SingleImageIngestor:
    """A JPEG or PNG is one page, stored byte for byte."""

    def __init__(self, path: Path, media_type: str, pixel_limit: int) -> None:
        self.path = path
        self.media_type = media_type
        with _open(path) as img:
            _checked(img.width, img.height, pixel_limit)
            try:
                img.verify()
            except Exception as exc:
                raise IntakeError("image_unreadable", f"图像文件损坏：{exc}") from exc
            self._size = img.size
            self._resolution = _resolution(img)

    def page_count(self) -> int:
        return 1

    def pages(self) -> Iterator[IntakePage]:
        width, height = self._size
        res = self._resolution
        yield IntakePage(0, self.path.read_bytes(), self.media_type, width, height, res.dpi, res)


class TiffIngestor:
    """Every frame of a (multi-page) TIFF becomes a lossless PNG page."""

    media_type = "image/tiff"

    def __init__(self, path: Path, pixel_limit: int) -> None:
        self.path = path
        self.pixel_limit = pixel_limit
        with _open(path) as img:
            self._count = getattr(img, "n_frames", 1)
            for frame in ImageSequence.Iterator(img):
                _checked(frame.width, frame.height, pixel_limit)

    def page_count(self) -> int:
        return self._count

    def pages(self) -> Iterator[IntakePage]:
        with _open(self.path) as img:
            for index, frame in enumerate(ImageSequence.Iterator(img)):
                try:
                    frame.load()
                    buf = io.BytesIO()
                    to_standard_mode(frame).save(buf, format="PNG")
                except Exception as exc:
                    raise IntakeError("image_unreadable", f"TIFF 第 {index + 1} 页无法解码：{exc}") from exc
                res = _resolution(frame)
                yield IntakePage(index, buf.getvalue(), "image/png", frame.width, frame.height, res.dpi, res)
