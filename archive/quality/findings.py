"""Scan-quality measurements (and the OCR that followed) as problems on a dossier.

Codes: ``low_resolution`` (below ``min_dpi``), ``resolution_below_advised`` (small print below
``advised_dpi``), ``colour_lost`` (a grey or bilevel image showing a round seal), ``blank_page``
(no ink; the page stays in the dossier), ``no_text`` (ink but nothing read: a photo, a seal, a
drawing), ``skew_corrected`` (straightened by at least ``skew_review_degrees``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from archive.pipeline.work import Problem
from archive.quality.page import PageQuality
from archive.settings import Settings
from ocr.engine import OcrLine, PageOcr

MIN_TEXT_CHARS = 5  # an image-blank page whose OCR read at least this much is not blank after all
SMALL_PRINT_MIN_UNITS = 10.0  # characters (em units) of small print that make a page "small print"
LINE_MIN_UNITS = 4.0  # shorter lines say too little about their character size


@dataclass(frozen=True)
class PageFacts:
    """What the checks need of one page of a dossier (numbered from 1)."""

    number: int
    quality: PageQuality | None
    ocr: PageOcr


def content_problems(page: PageFacts) -> list[Problem]:
    """``blank_page`` for a page without ink, ``no_text`` for one with ink but no text read.

    Without measurements (the image could not be measured), a page without text is blank as before.
    """
    chars = sum(len(line.text.strip()) for line in page.ocr.lines)
    q = page.quality
    if q is None:
        if chars == 0:
            return [Problem("blank_page", "页面未识别到文字（空白页或无法识别），已保留在案卷中", page.number)]
        return []
    if q.blank and chars < MIN_TEXT_CHARS:
        detail = f"空白页（墨迹仅占页面 {q.ink_share:.3%}），已保留在案卷中，请确认该页确为空白、未漏扫内容"
        return [Problem("blank_page", detail, page.number)]
    if chars == 0:
        detail = f"页面有内容（墨迹占页面 {q.ink_share:.2%}）但未识别到文字，可能是照片、印章、手写或图表，请人工核对"
        return [Problem("no_text", detail, page.number)]
    return []


def scan_problems(pages: Sequence[PageFacts], settings: Settings) -> list[Problem]:
    """Resolution, colour and skew findings of a dossier's pages."""
    problems = _resolution_problems(pages, settings)
    for page in pages:
        q = page.quality
        if q is None:
            continue
        if q.seal_without_colour:
            detail = (
                f"{_mode_name(q.colour_mode)}图像上有疑似印章（圆形印迹），红色已无法辨认；"
                "带红色印章或红头的页面应彩色扫描（DA/T 31-2017），请以彩色模式重新扫描"
            )
            problems.append(Problem("colour_lost", detail, page.number))
        if q.skew_corrected and q.skew_degrees is not None and abs(q.skew_degrees) >= settings.skew_review_degrees:
            detail = f"页面倾斜 {abs(q.skew_degrees):.1f}°，已在页面图像上纠偏（原件未改动），请核对纠偏后页面是否完整"
            problems.append(Problem("skew_corrected", detail, page.number))
    return problems


def small_print_mm(lines: Sequence[OcrLine], dpi: float) -> float | None:
    """The character size (mm) of the smallest real print on the page, from the OCR lines.

    A line's character size is its width over its length in em units (CJK and other full-width
    characters 1, the rest ½); box heights are not used (the detector pads them).  The size is
    the largest at which at least ``SMALL_PRINT_MIN_UNITS`` characters are that small or smaller.
    """
    sizes: list[tuple[float, float]] = []
    for line in lines:
        width, height = line.right - line.left, line.bottom - line.top
        units = _em_units(line.text)
        if units < LINE_MIN_UNITS or width < height:
            continue
        sizes.append((width / units / dpi * 25.4, units))
    sizes.sort()
    total = 0.0
    for size, units in sizes:
        total += units
        if total >= SMALL_PRINT_MIN_UNITS:
            return size
    return None


def _resolution_problems(pages: Sequence[PageFacts], settings: Settings) -> list[Problem]:
    low = [p for p in pages if p.quality is not None and p.quality.dpi < settings.min_dpi * 0.98]
    problems = _grouped(
        low,
        len(pages),
        "low_resolution",
        lambda q: f"扫描分辨率{_dpi_text(q)}，低于 DA/T 31-2017 要求的 {settings.min_dpi:g} dpi，请重新扫描",
    )
    flagged = {p.number for p in low}
    for page in pages:
        q = page.quality
        if q is None or page.number in flagged or q.dpi >= settings.advised_dpi * 0.98:
            continue
        size = small_print_mm(page.ocr.lines, q.dpi)
        if size is not None and size < settings.small_print_mm:
            detail = (
                f"页面有小字号文字（字宽约 {size:.1f} 毫米），扫描分辨率{_dpi_text(q)}低于小字号建议的 "
                f"{settings.advised_dpi:g} dpi，请核对清晰度，必要时重新扫描"
            )
            problems.append(Problem("resolution_below_advised", detail, page.number))
    return problems


def _grouped(pages: list[PageFacts], total: int, code: str, describe) -> list[Problem]:
    """One problem for the whole dossier when every page has it (with the same resolution), else one per page."""
    if not pages:
        return []
    qualities = [p.quality for p in pages]
    if len(pages) == total > 1 and len({(q.dpi, q.dpi_source, q.paper) for q in qualities}) == 1:  # type: ignore[union-attr]
        return [Problem(code, f"全部 {total} 页{describe(qualities[0])}", None)]
    return [Problem(code, describe(p.quality), p.number) for p in pages]


def _dpi_text(q: PageQuality) -> str:
    if q.dpi_source == "estimated":
        reason = q.dpi_note or "文件未记录分辨率"
        return f"约 {q.dpi:.0f} dpi（{reason}，按 {q.paper or 'A4'} 纸估算）"
    return f" {q.dpi:.0f} dpi"


def _mode_name(mode: str) -> str:
    return {"bilevel": "黑白二值", "grey": "灰度"}.get(mode, mode)


def _em_units(text: str) -> float:
    units = 0.0
    for ch in text.strip():
        if ch.isspace():
            units += 0.5
        elif unicodedata.east_asian_width(ch) in ("W", "F"):
            units += 1.0
        else:
            units += 0.5
    return units
