"""Put recognised fragments into reading order: top to bottom, left to right within a text line."""

from __future__ import annotations

from ocr.engine import OcrLine


def _vertical_overlap(a_top: float, a_bottom: float, b_top: float, b_bottom: float) -> float:
    return max(0.0, min(a_bottom, b_bottom) - max(a_top, b_top))


def group_lines(fragments: list[OcrLine]) -> list[list[OcrLine]]:
    """Cluster fragments into text lines.

    A fragment joins a line when its vertical extent overlaps the line's by at least half
    of the smaller height; lines are then ordered by their centre and fragments by x.
    """
    rows: list[tuple[float, float, list[OcrLine]]] = []  # (top, bottom, members)
    for frag in sorted(fragments, key=lambda f: (f.top + f.bottom) / 2):
        height = max(1.0, frag.bottom - frag.top)
        for i, (top, bottom, members) in enumerate(rows):
            overlap = _vertical_overlap(top, bottom, frag.top, frag.bottom)
            if overlap >= 0.5 * min(height, max(1.0, bottom - top)):
                members.append(frag)
                rows[i] = (min(top, frag.top), max(bottom, frag.bottom), members)
                break
        else:
            rows.append((frag.top, frag.bottom, [frag]))
    rows.sort(key=lambda r: (r[0] + r[1]) / 2)
    return [sorted(members, key=lambda f: f.left) for _, _, members in rows]


def order_fragments(fragments: list[OcrLine]) -> tuple[list[OcrLine], list[str]]:
    """Fragments in reading order, and the page's text lines (fragments joined by a space)."""
    grouped = group_lines(fragments)
    ordered = [frag for row in grouped for frag in row]
    text_lines = [" ".join(f.text for f in row if f.text) for row in grouped]
    return ordered, [t for t in text_lines if t]
