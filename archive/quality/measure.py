"""Pixel measurements of one page at a reduced working resolution: paper, ink, red, seals.

Everything here works on a page image reduced to about ``WORK_DPI`` (area averaging), so a
measurement means the same at 150 or 600 dpi and costs a few milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

WORK_DPI = 100.0  # every measurement, the fine skew search included (±0.1° on text pages)
COARSE_DPI = 50.0  # the coarse skew search and the seal search
MARGIN = 0.03  # share of each side left out of the ink measure (scanner edges, shadows)
INK_DARKNESS = 0.6  # ink is darker than this share of the paper's brightness
SPECK_MM2 = 0.3  # ink blobs smaller than this are dust, not content
RED_MIN_EXCESS = 60  # red minus the larger of green and blue, 0–255
RED_MIN_LEVEL = 110  # and the red channel at least this bright
RED_BLOB_MM2 = 1.0  # red blobs smaller than this are colour fringes, not a seal or a header
GREY_CHROMA = 12  # largest channel difference of a pixel that is still grey
SEAL_DIAMETERS_MM = (30.0, 52.0)  # round official seals (公章, 业务专用章): 38–45 mm, some up to 50
SEAL_RING_COVERAGE = 0.85  # share of the circle that must be inked for a ring
SEAL_OUTSIDE_MAX = 0.8  # and just outside it less (a ring, not a dark patch or a photo)


@dataclass(frozen=True)
class Views:
    """One page at the scales the measurements need."""

    colour: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # R, G, B at WORK_DPI; None for grey images
    grey: np.ndarray  # darkest channel at WORK_DPI: any ink, red included, is dark here
    text: np.ndarray  # red channel (or grey) at WORK_DPI: red seals fade out, text stays
    text_coarse: np.ndarray  # the same at about COARSE_DPI
    dpi: float  # of colour, grey and text
    coarse_dpi: float
    paper: float  # brightness of the paper in ``grey``, 0–255


def reduce(pixels: np.ndarray, factor: float) -> np.ndarray:
    """``pixels`` shrunk by ``factor`` with area averaging (unchanged when ``factor`` ≤ 1.05)."""
    if factor <= 1.05:
        return pixels
    height, width = pixels.shape[:2]
    size = (max(1, round(width / factor)), max(1, round(height / factor)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def build_views(pixels: np.ndarray, dpi: float) -> Views:
    """``pixels`` (H×W grey or H×W×3 RGB uint8, at ``dpi``) brought to the working scales."""
    factor = dpi / WORK_DPI
    work = reduce(pixels, factor)
    work_dpi = dpi * work.shape[1] / pixels.shape[1]
    if work.ndim == 3:
        red, green, blue = cv2.split(work)  # channel-wise cv2 operations: numpy's axis-2 reductions are slow
        colour, grey, text = (red, green, blue), cv2.min(cv2.min(red, green), blue), red
    else:
        colour, grey, text = None, work, work
    coarse_factor = work_dpi / COARSE_DPI
    coarse = reduce(text, coarse_factor)
    return Views(
        colour=colour,
        grey=grey,
        text=text,
        text_coarse=coarse,
        dpi=work_dpi,
        coarse_dpi=work_dpi * coarse.shape[1] / text.shape[1],
        paper=paper_level(grey),
    )


def paper_level(grey: np.ndarray) -> float:
    """The paper's brightness: a high percentile of a sample (most of a page is paper)."""
    sample = grey[:: max(1, grey.shape[0] // 200), :: max(1, grey.shape[1] // 200)]
    return float(np.percentile(sample, 90))


def ink_mask(grey: np.ndarray, paper: float) -> np.ndarray:
    return grey < INK_DARKNESS * max(paper, 1.0)


def ink_share(grey: np.ndarray, paper: float, dpi: float) -> float:
    """Share of the page (margins left out) covered by ink, dust specks removed: the blank measure."""
    height, width = grey.shape
    my, mx = round(height * MARGIN), round(width * MARGIN)
    inner = grey[my : height - my, mx : width - mx]
    if inner.size == 0:
        return 0.0
    mask = ink_mask(inner, paper)
    return _blob_area(mask, _pixels_for_mm2(SPECK_MM2, dpi)) / inner.size


def colour_mode(views: Views, pil_mode: str) -> str:
    """``bilevel``, ``grey`` or ``colour``: what the stored image can show."""
    if pil_mode == "1":
        return "bilevel"
    if views.colour is None:
        return "grey"
    red, green, blue = views.colour
    chroma = cv2.subtract(cv2.max(cv2.max(red, green), blue), views.grey)  # grey is the darkest channel
    return "colour" if np.count_nonzero(chroma > GREY_CHROMA) > 0.0005 * chroma.size else "grey"


def red_share(colour: tuple[np.ndarray, np.ndarray, np.ndarray], dpi: float) -> float:
    """Share of the page covered by saturated red in blobs large enough to be a seal or a header."""
    red, green, blue = colour
    excess = cv2.subtract(red, cv2.max(green, blue))  # saturates at 0
    mask = (excess >= RED_MIN_EXCESS) & (red >= RED_MIN_LEVEL)
    if not mask.any():
        return 0.0
    return _blob_area(mask, _pixels_for_mm2(RED_BLOB_MM2, dpi)) / mask.size


def find_seal_ring(grey: np.ndarray, paper: float, dpi: float) -> tuple[float, float, float] | None:
    """(x, y, radius) in ``grey`` pixels of a round seal's ring, if the page shows one.

    For grey or bilevel scans, where a red seal can no longer be told by its colour: a circle of
    a seal's size whose outline is inked almost all round, with little ink just outside it.
    """
    small = reduce(grey, dpi / COARSE_DPI)
    scale = small.shape[1] / grey.shape[1]
    r_min = SEAL_DIAMETERS_MM[0] / 2 / 25.4 * dpi * scale
    r_max = SEAL_DIAMETERS_MM[1] / 2 / 25.4 * dpi * scale
    if min(small.shape) < 2 * r_min:
        return None
    circles = cv2.HoughCircles(
        cv2.GaussianBlur(small, (3, 3), 0),
        cv2.HOUGH_GRADIENT,
        dp=1,
        minDist=r_min,
        param1=100,
        param2=20,
        minRadius=int(r_min),
        maxRadius=int(math.ceil(r_max)),
    )
    if circles is None:
        return None
    ink = grey < 0.75 * max(paper, 1.0)  # seal red is mid-grey once the colour is gone
    for x, y, r in circles[0][:30] / scale:
        if _ring_coverage(ink, x, y, r, (-0.06, 0.06)) < SEAL_RING_COVERAGE:
            continue
        if _ring_coverage(ink, x, y, r, (0.12, 0.2)) > SEAL_OUTSIDE_MAX:
            continue
        return float(x), float(y), float(r)
    return None


def _ring_coverage(ink: np.ndarray, x: float, y: float, r: float, band: tuple[float, float]) -> float:
    """Share of 180 directions from (x, y) with ink somewhere in the band r·(1+band)."""
    angles = np.linspace(0.0, 2 * math.pi, 180, endpoint=False)
    radii = r * (1.0 + np.linspace(band[0], band[1], 5))
    xs = np.rint(x + np.outer(radii, np.cos(angles))).astype(int)
    ys = np.rint(y + np.outer(radii, np.sin(angles))).astype(int)
    inside = (xs >= 0) & (xs < ink.shape[1]) & (ys >= 0) & (ys < ink.shape[0])
    hits = np.zeros(xs.shape, dtype=bool)
    hits[inside] = ink[ys[inside], xs[inside]]
    return float(hits.any(axis=0).mean())


def _pixels_for_mm2(mm2: float, dpi: float) -> int:
    return max(1, round(mm2 * (dpi / 25.4) ** 2))


def _blob_area(mask: np.ndarray, min_area: int) -> int:
    """Pixels of ``mask`` in 8-connected blobs of at least ``min_area`` pixels."""
    if min_area <= 1:
        return int(np.count_nonzero(mask))
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    areas = stats[1:count, cv2.CC_STAT_AREA]
    return int(areas[areas >= min_area].sum())
