"""Charts drawn on the server as inline SVG: pure functions from data to markup.

Every chart is ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` (named by
``aria-labelledby``), scales with its container through its ``viewBox`` (no width or height),
and colours its marks with SVG presentation attributes only (no ``style``), from the
Okabe–Ito palette, which stays distinguishable with the common colour-vision deficiencies.
Each bar carries ``data-value`` and a ``<title>`` (its tooltip); a chart with nothing to show
says so (暂无数据) instead of drawing empty axes.  Text is escaped, so the markup is valid XML.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

# Okabe & Ito (2008), "Color Universal Design": safe for protanopia, deuteranopia and tritanopia.
BLUE = "#0072B2"
ORANGE = "#E69F00"
GREEN = "#009E73"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
SKY = "#56B4E9"
GREY = "#7A7A7A"
INK = "#1b2430"
MUTED = "#52606d"
GRID = "#cfd6de"

WIDTH = 720
FONT = 13
LABEL_CHARS = 9  # longer category labels are shortened (the full text stays in their <title>)


@dataclass(frozen=True)
class Series:
    """One stacked part of every bar: its key in the data, its legend label and its colour."""

    key: str
    label: str
    colour: str


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _n(value: float) -> str:
    """A coordinate, short: two decimals at most, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _count(value: int) -> str:
    return f"{value:,}"


def nice_scale(top: float, ticks: int = 4) -> tuple[int, int]:
    """An axis for counts up to ``top``: (its end, the step between ticks), both whole numbers
    from the 1–2–5 series, the end at least ``top``."""
    if top <= 0:
        return 1, 1
    raw = top / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, int(round(step)))
    return int(math.ceil(top / step) * step), step


def short_label(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _open(chart_id: str, title: str, desc: str, height: float, width: int = WIDTH) -> list[str]:
    return [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {_n(height)}" '
        f'aria-labelledby="{_e(chart_id)}-title {_e(chart_id)}-desc" id="{_e(chart_id)}" '
        f'font-size="{FONT}" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{_e(chart_id)}-title">{_e(title)}</title>',
        f'<desc id="{_e(chart_id)}-desc">{_e(desc)}</desc>',
    ]


def empty_chart(chart_id: str, title: str, desc: str, message: str = "暂无数据", *, width: int = WIDTH) -> Markup:
    """A chart with nothing to draw: its title and description, and the message in the middle."""
    height = 120
    parts = _open(chart_id, title, desc, height, width)
    parts.append(
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" fill="#ffffff" stroke="{GRID}" rx="4"/>'
    )
    parts.append(
        f'<text class="empty" x="{width / 2:g}" y="{height / 2 + 5:g}" text-anchor="middle" fill="{MUTED}">'
        f"{_e(message)}</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def _legend(series: Sequence[Series], x: float, y: float) -> list[str]:
    out = ['<g class="legend">']
    for item in series:
        out.append(
            f'<rect x="{_n(x)}" y="{_n(y - 11)}" width="12" height="12" fill="{_e(item.colour)}" '
            f'stroke="{INK}" stroke-width="0.5"/>'
        )
        out.append(f'<text x="{_n(x + 17)}" y="{_n(y)}" fill="{INK}">{_e(item.label)}</text>')
        x += 17 + FONT * (len(item.label) + 0.5) + 18
    out.append("</g>")
    return out


def stacked_bars(
    chart_id: str,
    title: str,
    desc: str,
    rows: Sequence[tuple[str, Sequence[int]]],
    series: Sequence[Series],
    *,
    width: int = WIDTH,
) -> Markup:
    """Horizontal bars, one per row label, each stacked from ``series`` (the values of a row are
    in ``series`` order), the row's total written after it; a legend above, a count axis below.
    ``width`` is the drawing's width in user units: wider for a chart that spans the page, so its
    text stays the size of the page's."""
    if not rows or all(sum(values) == 0 for _, values in rows):
        return empty_chart(chart_id, title, desc, width=width)
    left, right, top, row_h, bar_h, axis_h = 150, 64, 34, 30, 20, 30
    plot_w = width - left - right
    end, step = nice_scale(max(sum(values) for _, values in rows))
    height = top + row_h * len(rows) + axis_h
    parts = _open(chart_id, title, desc, height, width)
    parts += _legend(series, left, 18)
    bottom = top + row_h * len(rows)
    parts.append('<g class="axis">')
    for tick in range(0, end + 1, step):
        x = left + plot_w * tick / end
        parts.append(f'<line x1="{_n(x)}" y1="{top - 4}" x2="{_n(x)}" y2="{bottom}" stroke="{GRID}"/>')
        parts.append(f'<text x="{_n(x)}" y="{bottom + 18}" text-anchor="middle" fill="{MUTED}">{_count(tick)}</text>')
    parts.append("</g>")
    for index, (label, values) in enumerate(rows):
        y = top + row_h * index + (row_h - bar_h) / 2
        parts.append('<g class="row">')
        parts.append(
            f'<text x="{left - 8}" y="{_n(y + bar_h / 2 + 4.5)}" text-anchor="end" fill="{INK}">'
            f"<title>{_e(label)}</title>{_e(short_label(label))}</text>"
        )
        x = float(left)
        for item, value in zip(series, values, strict=True):
            width = plot_w * value / end
            parts.append(
                f'<rect class="bar" x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" height="{bar_h}" '
                f'fill="{_e(item.colour)}" stroke="#ffffff" stroke-width="1" '
                f'data-series="{_e(item.key)}" data-value="{value}">'
                f"<title>{_e(label)} · {_e(item.label)}：{_count(value)}</title></rect>"
            )
            x += width
        parts.append(
            f'<text class="total" x="{_n(x + 6)}" y="{_n(y + bar_h / 2 + 4.5)}" fill="{INK}">'
            f"{_count(sum(values))}</text>"
        )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(
    chart_id: str,
    title: str,
    desc: str,
    points: Sequence[tuple[str, int]],
    *,
    colour: str = BLUE,
    label_every: int = 1,
    unit: str = "",
    width: int = WIDTH,
) -> Markup:
    """Vertical bars, one per (label, value), on a count axis; every ``label_every``-th label
    counted back from the last one is written under its bar (all stay in the bars' tooltips)."""
    if not points or all(value == 0 for _, value in points):
        return empty_chart(chart_id, title, desc, width=width)
    left, right, top, bottom_h, height = 48, 12, 14, 40, 300
    plot_w, plot_h = width - left - right, height - top - bottom_h
    end, step = nice_scale(max(value for _, value in points))
    bottom = top + plot_h
    band = plot_w / len(points)
    bar_w = max(1.0, band * 0.72)
    parts = _open(chart_id, title, desc, height, width)
    parts.append('<g class="axis">')
    for tick in range(0, end + 1, step):
        y = bottom - plot_h * tick / end
        parts.append(f'<line x1="{left}" y1="{_n(y)}" x2="{width - right}" y2="{_n(y)}" stroke="{GRID}"/>')
        parts.append(f'<text x="{left - 6}" y="{_n(y + 4.5)}" text-anchor="end" fill="{MUTED}">{_count(tick)}</text>')
    parts.append(f'<line x1="{left}" y1="{bottom}" x2="{width - right}" y2="{bottom}" stroke="{INK}"/>')
    parts.append("</g>")
    parts.append('<g class="bars">')
    for index, (label, value) in enumerate(points):
        bar_h = plot_h * value / end
        x = left + band * index + (band - bar_w) / 2
        parts.append(
            f'<rect class="bar" x="{_n(x)}" y="{_n(bottom - bar_h)}" width="{_n(bar_w)}" height="{_n(bar_h)}" '
            f'fill="{_e(colour)}" data-value="{value}"><title>{_e(label)}：{_count(value)}{_e(unit)}</title></rect>'
        )
    parts.append("</g>")
    parts.append('<g class="labels">')
    for index, (label, _) in enumerate(points):
        if (len(points) - 1 - index) % max(1, label_every) == 0:  # the last bar (today) always
            x = left + band * index + band / 2
            parts.append(
                f'<text x="{_n(x)}" y="{bottom + 18}" text-anchor="middle" fill="{INK}">{_e(short_label(label))}</text>'
            )
    parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))
