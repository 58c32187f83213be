"""The effective resolution of a page image: from the PDF page, the file's metadata, or its size.

A PDF states how large the page is (points) and which image is drawn on it: pixels over inches is
the scan's resolution.  An image file may state its dpi; when it does not (or states a
placeholder such as 72 dpi that would make an A4 form half a metre wide), the resolution is
estimated from the pixel size, assuming A4 or the standard paper whose shape fits better.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MM_PER_INCH = 25.4

# Standard sheets (short side, long side) in mm.  A4 first: it is the assumption whenever the
# shape cannot tell (A3, A5, B5, 16开 all share A4's √2 shape).
PAPERS: tuple[tuple[str, float, float], ...] = (
    ("A4", 210.0, 297.0),
    ("Letter", 215.9, 279.4),
    ("Legal", 215.9, 355.6),
    ("大16开", 195.0, 270.0),
)
SHAPE_TOLERANCE = 0.015  # relative difference of aspect ratios that still counts as "this paper's shape"
PLACEHOLDER_DPI = (72.0, 96.0)  # what software writes when it does not know
MAX_PLAUSIBLE_MM = 650.0  # a stated dpi that makes the long side longer than this is not believed


@dataclass(frozen=True)
class Resolution:
    """``dpi`` is the lower of the two axes; ``source`` says where it came from:

    ``pdf`` (image pixels over its size on the PDF page), ``metadata`` (the file's own dpi),
    ``estimated`` (from the pixel size, assuming ``paper``), ``rendered`` (a PDF page without a
    scanned image, rendered at the configured dpi).
    """

    dpi: float
    source: str
    paper: str | None = None
    note: str = ""  # why metadata was not believed, for the problem detail

    def to_json(self) -> dict:
        out: dict = {"dpi": round(self.dpi, 1), "dpi_source": self.source}
        if self.paper:
            out["paper"] = self.paper
        if self.note:
            out["dpi_note"] = self.note
        return out


def estimate_from_size(width: int, height: int, note: str = "") -> Resolution:
    """The dpi that makes ``width × height`` pixels A4, or the standard paper whose shape fits better.

    A page whose shape matches no standard sheet is taken as A4 by area.
    """
    short, long = sorted((max(width, 1), max(height, 1)))
    aspect = long / short
    name, short_mm, long_mm = PAPERS[0]
    best = abs(aspect / (long_mm / short_mm) - 1.0)
    if best > SHAPE_TOLERANCE:
        for paper in PAPERS[1:]:
            miss = abs(aspect / (paper[2] / paper[1]) - 1.0)
            if miss <= SHAPE_TOLERANCE and miss < best:
                name, short_mm, long_mm, best = paper[0], paper[1], paper[2], miss
    area_in2 = (short_mm / MM_PER_INCH) * (long_mm / MM_PER_INCH)
    dpi = math.sqrt(short * long / area_in2)
    return Resolution(dpi=dpi, source="estimated", paper=name, note=note)


def from_metadata(value: object, width: int, height: int) -> Resolution:
    """The file's stated dpi (PIL's ``info["dpi"]``) when plausible, otherwise an estimate."""
    stated = _stated_dpi(value)
    if stated is None:
        return estimate_from_size(width, height)
    long_mm = max(width, height) / stated * MM_PER_INCH
    if stated < 50 or stated > 4800 or (long_mm > MAX_PLAUSIBLE_MM and _is_placeholder(stated)):
        note = f"文件记录的分辨率 {stated:g} dpi 不可信（折合长边 {long_mm / 10:.0f} 厘米）"
        return estimate_from_size(width, height, note=note)
    return Resolution(dpi=stated, source="metadata")


def from_pdf_image(pixels: tuple[int, int], drawn_pt: tuple[float, float]) -> float | None:
    """dpi of an image of ``pixels`` (w, h) drawn ``drawn_pt`` (w, h) points large: the lower axis."""
    values = [px * 72.0 / pt for px, pt in zip(pixels, drawn_pt, strict=True) if pt > 0.5]
    return min(values) if len(values) == 2 else None


def _stated_dpi(value: object) -> float | None:
    try:
        xs = [float(v) for v in value] if isinstance(value, tuple | list) else [float(value)]  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    xs = [x for x in xs if math.isfinite(x) and x > 0]
    return min(xs) if xs else None


def _is_placeholder(dpi: float) -> bool:
    return dpi < 100 or any(abs(dpi - p) < 0.5 for p in PLACEHOLDER_DPI)
