"""The dashboard (概览): headline figures and three charts drawn on the server as SVG.

Every signed-in role sees it; a user of one office sees that office's figures, a user of every
office (``*``) all of them.  Only counts appear: no names, no ID numbers.  The view is logged
(``dashboard_view``, with the office it covered).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from markupsafe import Markup
from starlette.responses import Response

from api.deps import AppState
from api.web import charts
from api.web.charts import Series
from api.web.render import STATUS_ZH, page
from api.web.session import page_user
from archive.identity.principal import Principal
from archive.reading.statistics import STATUS_ORDER, ConfidenceBin, Overview, overview

router = APIRouter(include_in_schema=False)

UNCLASSIFIED = "未分类"
STATUS_COLOURS = {
    "archived": charts.BLUE,
    "needs_review": charts.ORANGE,
    "rejected": charts.VERMILLION,
    "destroyed": charts.GREY,
}
SHOWN_ALWAYS = ("archived", "needs_review", "rejected")
# Drawing widths (user units) for a chart across the page and for one of two side by side, so
# that at 1366 px their text comes out near the page's own size.
WIDE, HALF = 1040, 600


@dataclass(frozen=True)
class TypeRow:
    label: str
    counts: list[int]  # in the order of the chart's series

    @property
    def total(self) -> int:
        return sum(self.counts)


def status_series(figures: Overview) -> list[Series]:
    """The stacked parts: the three working statuses always, any other status that has dossiers."""
    present = {row.status for row in figures.by_type_status if row.count}
    keys = [s for s in STATUS_ORDER if s in SHOWN_ALWAYS or s in present]
    keys += sorted(present - set(keys))
    return [Series(k, STATUS_ZH.get(k, k), STATUS_COLOURS.get(k, charts.SKY)) for k in keys]


def type_rows(figures: Overview, series: list[Series]) -> list[TypeRow]:
    """One row per business type (most dossiers first), its counts in ``series`` order."""
    table: dict[str, dict[str, int]] = {}
    for row in figures.by_type_status:
        label = row.business_type or UNCLASSIFIED
        cell = table.setdefault(label, {})
        cell[row.status] = cell.get(row.status, 0) + row.count
    rows = [TypeRow(label, [counts.get(s.key, 0) for s in series]) for label, counts in table.items()]
    return sorted(rows, key=lambda r: (-r.total, r.label))


def bin_label(item: ConfidenceBin) -> str:
    def edge(value: float) -> str:
        return "0" if value == 0 else ("1.0" if value == 1 else f"{value:g}")

    return f"{edge(item.low)}–{edge(item.high)}"


def scope_text(figures: Overview) -> str:
    return "全部机构" if figures.office is None else f"经办机构 {figures.office}"


def draw(figures: Overview, series: list[Series], rows: list[TypeRow]) -> dict[str, Markup]:
    scope = scope_text(figures)
    days = figures.pages_per_day
    span = f"{days[0][0]:%Y-%m-%d} 至 {days[-1][0]:%Y-%m-%d}" if days else ""
    return {
        "types": charts.stacked_bars(
            "chart-types",
            "按业务类型和状态统计的案卷数",
            f"{scope}：{len(rows)} 个业务类型的案卷数，按状态（{'、'.join(s.label for s in series)}）分段；"
            "详细数字见图下的数据表。",
            [(r.label, r.counts) for r in rows],
            series,
            width=WIDE,
        ),
        "days": charts.columns(
            "chart-days",
            f"最近 {len(days)} 天每日入库页数",
            f"{scope}：{span} 每天入库的页数（北京时间，按案卷入库日计），合计 {sum(n for _, n in days):,} 页。",
            [(f"{d:%m-%d}", n) for d, n in days],
            colour=charts.BLUE,
            label_every=5,
            unit=" 页",
            width=HALF,
        ),
        "confidence": charts.columns(
            "chart-confidence",
            "OCR 识别置信度分布",
            f"{scope}：按页面平均识别置信度分组的页数，共 {sum(b.count for b in figures.confidence):,} 页"
            f"（另有 {figures.unmeasured_pages:,} 页无置信度）。",
            [(bin_label(b), b.count) for b in figures.confidence],
            colour=charts.GREEN,
            unit=" 页",
            width=HALF,
        ),
    }


@router.get("/dashboard")
def dashboard(request: Request, principal: Annotated[Principal, Depends(page_user(None))]) -> Response:
    state: AppState = request.app.state.archive
    office = principal.office
    with state.trail.attempt(principal, "dashboard_view", (), detail={"office": office}), state.rt.sessions() as s:
        figures = overview(s, principal)
    series = status_series(figures)
    rows = type_rows(figures, series)
    return page(
        request,
        "dashboard.html",
        principal,
        figures=figures,
        scope=scope_text(figures),
        series=series,
        rows=rows,
        totals=figures.status_totals,
        days=figures.pages_per_day,
        bins=[(bin_label(b), b.count) for b in figures.confidence],
        charts=draw(figures, series, rows),
    )
