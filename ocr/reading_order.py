"""Put recognised fragments into reading order: top to bottom, left to right within a text line."""

from __future__ import annotations

from statistics import median

from ocr.engine import OcrLine


def _vertical_overlap(a_top: float, a_bottom: float, b_top: float, b_bottom: float) -> float:
    return max(0.0, min(a_bottom, b_bottom) - max(a_top, b_top))


def _band(members: list[OcrLine]) -> tuple[float, float]:
    """A line's vertical band: the median top and bottom of its fragments, so one tall
    fragment (a merged table cell) does not stretch the line over its neighbours."""
    return median(f.top for f in members), median(f.bottom for f in members)


def group_lines(fragments: list[OcrLine]) -> list[list[OcrLine]]:
    """Cluster fragments into text lines.

    A fragment joins the line whose band it overlaps most, when that overlap is at least half
    of the smaller height; lines are then ordered by their centre and fragments by x.
    """
    rows: list[list[OcrLine]] = []
    for frag in sorted(fragments, key=lambda f: (f.top + f.bottom) / 2):
        height = max(1.0, frag.bottom - frag.top)
        best, best_overlap = None, 0.0
        for members in rows:
            top, bottom = _band(members)
            overlap = _vertical_overlap(top, bottom, frag.top, frag.bottom)
            if overlap >= 0.5 * min(height, max(1.0, bottom - top)) and overlap > best_overlap:
                best, best_overlap = members, overlap
        if best is None:
            rows.append([frag])
        else:
            best.append(frag)
    rows.sort(key=lambda members: sum(_band(members)) / 2)
    return [sorted(members, key=lambda f: f.left) for members in rows]


def order_fragments(fragments: list[OcrLine]) -> tuple[list[OcrLine], list[str]]:
    """Fragments in reading order, and the page's text lines (fragments joined by a space)."""
    grouped = group_lines(fragments)
    ordered = [frag for row in grouped for frag in row]
    text_lines = [" ".join(f.text for f in row if f.text) for row in grouped]
    return ordered, [t for t in text_lines if t]
