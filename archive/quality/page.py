"""Scan quality of one page image (DA/T 31-2017): resolution, colour, blankness, skew.

``assess_page`` measures a page image as intake produced it and, when the page is a text page
tilted by at least ``deskew_min_degrees``, returns a straightened copy in the same format and
colour mode: that copy becomes the stored page image and the one OCR reads.  The original file
is never touched (it is stored byte for byte before this runs).
"""

from __future__ import annotations

import io
import time
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, JpegImagePlugin

from archive.quality import measure
from archive.quality.resolution import Resolution, estimate_from_size
from archive.quality.skew import SkewEstimate, estimate_skew, straighten
from archive.settings import Settings
from ocr.images import to_standard_mode

PNG_LEVEL = 1  # straightened PNG pages: zlib's fastest level (~15 % larger than 6, half the time or less)


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds of the measurements (from the ``ARCHIVE_`` settings)."""

    deskew_min_degrees: float = 1.0
    deskew_max_degrees: float = 15.0
    blank_max_ink: float = 0.0002
    red_min_share: float = 0.0005

    @classmethod
    def from_settings(cls, settings: Settings) -> QualityConfig:
        return cls(
            deskew_min_degrees=settings.deskew_min_degrees,
            deskew_max_degrees=settings.deskew_max_degrees,
            blank_max_ink=settings.blank_max_ink,
            red_min_share=settings.red_min_share,
        )


@dataclass(frozen=True)
class PageQuality:
    """What was measured on one page; stored with the page (``pages.quality`` and its columns)."""

    dpi: float
    dpi_source: str  # pdf | metadata | estimated | rendered
    colour_mode: str  # colour | grey | bilevel: what the stored image can show
    red_share: float  # share of the page in saturated red blobs (seals, red headers)
    red_content: bool  # red_share above the threshold
    seal_without_colour: bool  # a grey/bilevel image showing a round seal's ring
    ink_share: float  # share of the page covered by ink, dust removed: the blank measure
    blank: bool  # ink_share below the threshold
    skew_degrees: float | None  # counter-clockwise tilt of the text lines; None: not a text page
    skew_corrected: bool  # the stored image was straightened by −skew_degrees
    paper: str | None = None  # the paper size a dpi estimate assumed
    dpi_note: str = ""
    source_sha256: str | None = None  # the page image before straightening, when it was
    seconds: float = 0.0  # time the measurements (and straightening) took

    def to_json(self) -> dict:
        out = asdict(self)
        out["dpi"] = round(self.dpi, 1)
        out["red_share"] = round(self.red_share, 6)
        out["ink_share"] = round(self.ink_share, 6)
        out["seconds"] = round(self.seconds, 4)
        return {k: v for k, v in out.items() if v not in (None, "")}


@dataclass(frozen=True)
class Assessment:
    quality: PageQuality
    straightened: bytes | None  # the page image to store and read instead, when straightened


@dataclass
class _Decoded:
    pixels: np.ndarray  # H×W (grey) or H×W×3 (RGB) uint8
    mode: str  # 1, L or RGB: what the page image holds (1: bilevel, decoded as 0/255 grey)
    dpi: float  # of ``pixels`` (lower than the page's when decoded reduced)
    resolution: Resolution  # of the page image
    reduced: bool
    jpeg_tables: dict | None  # the JPEG's quantisation tables, to re-encode at about its quality
    jpeg_sampling: int  # its chroma subsampling (−1: unknown)


def assess_page(data: bytes, media_type: str, resolution: Resolution | None, config: QualityConfig) -> Assessment:
    """Measure one page image and straighten it when it is a tilted text page."""
    started = time.perf_counter()
    decoded = _decode(data, resolution, for_analysis=True)
    resolution = decoded.resolution
    views = measure.build_views(decoded.pixels, decoded.dpi)
    mode = measure.colour_mode(views, decoded.mode)
    red = measure.red_share(views.colour, views.dpi) if views.colour is not None else 0.0
    seal = mode != "colour" and measure.find_seal_ring(views.grey, views.paper, views.dpi) is not None
    ink = measure.ink_share(views.grey, views.paper, views.dpi)
    blank = ink < config.blank_max_ink
    skew = None if blank else _skew(views, config)
    straightened = None
    if skew is not None and abs(skew.degrees) >= config.deskew_min_degrees:
        full = decoded if not decoded.reduced else _decode(data, resolution, for_analysis=False)
        straightened = _straightened(full, skew.degrees, media_type)
    quality = PageQuality(
        dpi=resolution.dpi,
        dpi_source=resolution.source,
        paper=resolution.paper,
        dpi_note=resolution.note,
        colour_mode=mode,
        red_share=red,
        red_content=red >= config.red_min_share,
        seal_without_colour=seal,
        ink_share=ink,
        blank=blank,
        skew_degrees=skew.degrees if skew is not None else None,
        skew_corrected=straightened is not None,
        seconds=time.perf_counter() - started,
    )
    return Assessment(quality=quality, straightened=straightened)


def _skew(views: measure.Views, config: QualityConfig) -> SkewEstimate | None:
    fine = measure.ink_mask(views.text, views.paper)
    coarse = measure.ink_mask(views.text_coarse, views.paper)
    estimate = estimate_skew(fine, coarse, config.deskew_max_degrees)
    if estimate is None or not estimate.reliable:
        return None
    return estimate


def _decode(data: bytes, resolution: Resolution | None, for_analysis: bool) -> _Decoded:
    """The page's pixels; for measuring only, a JPEG is decoded at a fraction of its size (DCT
    scaling, several times faster) as long as that stays near ``WORK_DPI``."""
    with Image.open(io.BytesIO(data)) as img:
        width = img.width
        resolution = resolution or estimate_from_size(img.width, img.height)
        if for_analysis and img.format == "JPEG":
            scale = 1
            while scale < 8 and resolution.dpi / (scale * 2) >= measure.WORK_DPI * 0.95:
                scale *= 2
            if scale > 1:
                img.draft(img.mode, (width // scale, img.height // scale))
        img.load()
        tables = dict(img.quantization) if img.format == "JPEG" and getattr(img, "quantization", None) else None
        sampling = JpegImagePlugin.get_sampling(img) if img.format == "JPEG" and img.mode == "RGB" else -1
        flat = to_standard_mode(img)  # 1, L or RGB (CMYK, palette, 16-bit, alpha: as intake stores TIFFs)
        mode = flat.mode
        pixels = np.asarray(flat.convert("L") if mode == "1" else flat)
        if img.mode != mode:
            tables = None  # e.g. CMYK: the tables do not fit the re-encoded image
    reduced = pixels.shape[1] < width
    dpi = resolution.dpi * pixels.shape[1] / max(1, width)
    return _Decoded(pixels, mode, dpi, resolution, reduced, tables, sampling)


def _straightened(decoded: _Decoded, degrees: float, media_type: str) -> bytes:
    """The page turned straight, encoded like the page (JPEG with its own tables, or PNG)."""
    pixels = decoded.pixels
    if pixels.ndim == 3:
        paper: float | tuple[float, ...] = tuple(float(np.percentile(pixels[::9, ::9, c], 90)) for c in range(3))
    else:
        paper = float(np.percentile(pixels[::9, ::9], 90))
    turned = straighten(pixels, degrees, paper)
    if decoded.mode == "1":
        out = Image.fromarray(np.where(turned >= 128, 255, 0).astype(np.uint8), "L").convert("1")
    else:
        out = Image.fromarray(turned, "RGB" if turned.ndim == 3 else "L")
    buf = io.BytesIO()
    dpi = round(decoded.resolution.dpi, 2)
    if media_type == "image/jpeg":
        out.save(buf, format="JPEG", dpi=(dpi, dpi), **_jpeg_options(decoded))
    else:
        out.save(buf, format="PNG", dpi=(dpi, dpi), compress_level=PNG_LEVEL)
    return buf.getvalue()


def _jpeg_options(decoded: _Decoded) -> dict:
    """Re-encode with the scan's own quantisation tables and chroma sampling (about its quality)."""
    if not decoded.jpeg_tables:
        return {"quality": 90}
    options: dict = {"qtables": [decoded.jpeg_tables[k] for k in sorted(decoded.jpeg_tables)]}
    if decoded.jpeg_sampling >= 0:
        options["subsampling"] = decoded.jpeg_sampling
    return options
