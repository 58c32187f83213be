"""PDF intake: a page that is exactly one embedded JPEG is taken byte for byte; others are rendered."""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Iterator
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PdfReadError
from pypdf.generic import ContentStream

from archive.intake.base import IntakeError, IntakePage
from archive.quality.resolution import Resolution, from_pdf_image
from ocr.images import ImageError, check_pixels, image_size

log = logging.getLogger(__name__)
_DRAWING_ONLY = {b"q", b"Q", b"cm", b"Do"}
_SCAN_COVERS = 0.5  # an image drawn over at least this share of the page is the page's scan


class PdfIngestor:
    media_type = "application/pdf"

    def __init__(self, path: Path, dpi: int, pixel_limit: int) -> None:
        self.path = path
        self.dpi = dpi
        self.pixel_limit = pixel_limit
        logging.getLogger("pypdf").setLevel(logging.ERROR)
        try:
            self._reader = PdfReader(str(path), strict=False)
            encrypted = self._reader.is_encrypted
        except (PdfReadError, ValueError, OSError, KeyError, TypeError) as exc:
            raise IntakeError("pdf_unreadable", f"PDF 文件损坏或不完整，无法读取：{exc}") from exc
        if encrypted:
            raise IntakeError("pdf_encrypted", "PDF 已加密，请提供未加密的扫描件")
        try:
            self._count = len(self._reader.pages)
        except Exception as exc:  # broken page tree
            raise IntakeError("pdf_unreadable", f"PDF 页面结构损坏：{exc}") from exc
        if self._count == 0:
            raise IntakeError("pdf_no_pages", "PDF 不含任何页面")

    def page_count(self) -> int:
        return self._count

    def pages(self) -> Iterator[IntakePage]:
        pdfium_doc = None
        try:
            for index in range(self._count):
                try:
                    page = self._embedded_jpeg(index)
                except IntakeError:
                    raise
                except Exception as exc:  # an odd page object: rendering decides
                    log.debug("fast path failed", extra={"page": index, "error": str(exc)})
                    page = None
                if page is None:
                    if pdfium_doc is None:
                        pdfium_doc = self._open_pdfium()
                    page = self._render(pdfium_doc, index)
                yield page
        finally:
            if pdfium_doc is not None:
                pdfium_doc.close()

    # -- fast path ---------------------------------------------------------------------------
    def _embedded_jpeg(self, index: int) -> IntakePage | None:
        """The page's JPEG, unchanged, when the page only draws one baseline RGB/grey JPEG."""
        page = self._reader.pages[index]
        if int(page.get("/Rotate", 0) or 0) % 360:
            return None
        resources = page.get("/Resources")
        xobjects = resources.get_object().get("/XObject") if resources else None
        if not xobjects or len(xobjects) != 1:
            return None
        image = next(iter(xobjects.values())).get_object()
        if image.get("/Subtype") != "/Image" or image.get("/Filter") != "/DCTDecode":
            return None
        if image.get("/ColorSpace") not in ("/DeviceRGB", "/DeviceGray") or "/Decode" in image or "/SMask" in image:
            return None
        contents = page.get_contents()
        if contents is None:
            return None
        ops = {op for _, op in ContentStream(contents, self._reader).operations}
        if not ops <= _DRAWING_ONLY:
            return None
        data = bytes(image._data)  # the stored JPEG bytes, not pypdf's re-encoding
        try:
            width, height = image_size(data)
        except ImageError:
            return None
        self._check(width, height)
        box_width_pt = float(page.mediabox.width) or 595.0
        dpi = width * 72.0 / box_width_pt
        scan_dpi = self._scan_dpi(index)
        resolution = Resolution(scan_dpi if scan_dpi is not None else dpi, "pdf")
        return IntakePage(
            index=index,
            data=data,
            media_type="image/jpeg",
            width=width,
            height=height,
            dpi=dpi,
            resolution=resolution,
        )

    # -- the scan's resolution ---------------------------------------------------------------
    def _scan_dpi(self, index: int) -> float | None:
        """dpi of the largest image drawn on the page, when it covers most of the page (a scan)."""
        try:
            page = self._reader.pages[index]
            images = _drawn_images(page, self._reader)
            box = page.mediabox
            page_area = abs(float(box.width) * float(box.height)) or 1.0
        except Exception as exc:  # an odd content stream: the caller falls back
            log.debug("scan resolution unknown", extra={"page": index, "error": str(exc)})
            return None
        if not images:
            return None
        pixels, drawn = max(images, key=lambda item: item[1][0] * item[1][1])
        if drawn[0] * drawn[1] < _SCAN_COVERS * page_area:
            return None
        return from_pdf_image(pixels, drawn)

    # -- slow path ---------------------------------------------------------------------------
    def _open_pdfium(self):
        import pypdfium2 as pdfium

        try:
            return pdfium.PdfDocument(str(self.path))
        except pdfium.PdfiumError as exc:
            raise IntakeError("pdf_unreadable", f"PDF 无法渲染：{exc}") from exc

    def _render(self, doc, index: int) -> IntakePage:
        page = doc[index]
        try:
            width_pt, height_pt = page.get_size()
            scale = self.dpi / 72.0
            self._check(round(width_pt * scale), round(height_pt * scale))
            bitmap = page.render(scale=scale, grayscale=False)
            image = bitmap.to_pil()
        finally:
            page.close()
        buf = io.BytesIO()
        image.convert("RGB").save(buf, format="PNG", optimize=False, compress_level=6)
        scan_dpi = self._scan_dpi(index)
        if scan_dpi is None:  # drawn, not scanned: as sharp as it was rendered
            resolution = Resolution(float(self.dpi), "rendered")
        else:  # rendering cannot add detail the scan does not have
            resolution = Resolution(min(scan_dpi, float(self.dpi)), "pdf")
        return IntakePage(
            index=index,
            data=buf.getvalue(),
            media_type="image/png",
            width=image.width,
            height=image.height,
            dpi=float(self.dpi),
            resolution=resolution,
        )

    def _check(self, width: int, height: int) -> None:
        try:
            check_pixels(width, height, self.pixel_limit)
        except ImageError as exc:
            raise IntakeError(exc.code, exc.detail) from exc


def _drawn_images(page, reader) -> list[tuple[tuple[int, int], tuple[float, float]]]:
    """(pixel size, drawn size in points) of every image the page's own content stream draws."""
    resources = page.get("/Resources")
    xobjects = resources.get_object().get("/XObject") if resources else None
    contents = page.get_contents()
    if not xobjects or contents is None:
        return []
    xobjects = xobjects.get_object()
    ctm = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    stack: list[tuple[float, ...]] = []
    found: list[tuple[tuple[int, int], tuple[float, float]]] = []
    for operands, op in ContentStream(contents, reader).operations:
        if op == b"q":
            stack.append(ctm)
        elif op == b"Q":
            ctm = stack.pop() if stack else ctm
        elif op == b"cm" and len(operands) == 6:
            ctm = _concat(tuple(float(v) for v in operands), ctm)
        elif op == b"Do" and operands:
            xobject = xobjects.get(operands[0])
            image = xobject.get_object() if xobject is not None else None
            if image is not None and image.get("/Subtype") == "/Image":
                a, b, c, d, _, _ = ctm
                pixels = (int(image.get("/Width", 0)), int(image.get("/Height", 0)))
                found.append((pixels, (math.hypot(a, b), math.hypot(c, d))))
    return found


def _concat(m: tuple[float, ...], ctm: tuple[float, ...]) -> tuple[float, float, float, float, float, float]:
    """``m × ctm``: the matrix a ``cm`` operator makes current."""
    a, b, c, d, e, f = m
    A, B, C, D, E, F = ctm  # noqa: N806 - the PDF specification's names
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)
