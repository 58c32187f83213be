"""The dashboard's SVG charts (api.web.charts): valid XML, accessible, marks proportional to the
data, text escaped, nothing drawn for no data, colours as presentation attributes only."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from api.web import charts
from api.web.charts import Series, columns, empty_chart, nice_scale, stacked_bars

SERIES = [Series("archived", "已归档", charts.BLUE), Series("needs_review", "待审核", charts.ORANGE)]


def parse(markup: str) -> ET.Element:
    root = ET.fromstring(str(markup))  # raises on anything that is not well-formed XML
    assert root.tag == "svg"
    return root


def bars(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter("rect") if e.get("class") == "bar"]


def assert_accessible(root: ET.Element, chart_id: str, title: str) -> None:
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == f"{chart_id}-title {chart_id}-desc"
    assert root.find("title").get("id") == f"{chart_id}-title" and root.find("title").text == title
    assert root.find("desc").get("id") == f"{chart_id}-desc" and root.find("desc").text
    assert root.get("viewBox", "").startswith("0 0 ") and root.get("width") is None and root.get("height") is None
    assert all(e.get("style") is None for e in root.iter()), "colours go in presentation attributes"


def test_stacked_bars_are_proportional_and_accessible() -> None:
    rows = [("参保登记", [30, 10]), ("工伤认定", [5, 0]), ("失业保险待遇核定", [12, 8])]
    root = parse(stacked_bars("c1", "案卷", "按类型", rows, SERIES))
    assert_accessible(root, "c1", "案卷")
    found = bars(root)
    assert len(found) == len(rows) * len(SERIES)
    values = [int(b.get("data-value")) for b in found]
    assert values == [30, 10, 5, 0, 12, 8]
    widths = [float(b.get("width")) for b in found]
    per_unit = widths[0] / 30
    for value, width in zip(values, widths, strict=True):
        assert width == pytest.approx(value * per_unit, abs=0.02)
    # the segments of a row follow one another, and each carries its series' colour
    assert float(found[1].get("x")) == pytest.approx(float(found[0].get("x")) + widths[0], abs=0.02)
    assert [b.get("fill") for b in found[:2]] == [charts.BLUE, charts.ORANGE]
    totals = [t.text for t in root.iter("text") if t.get("class") == "total"]
    assert totals == ["40", "5", "20"]
    assert [b.find("title").text for b in found[:2]] == ["参保登记 · 已归档：30", "参保登记 · 待审核：10"]
    legend = [t.text for t in root.find("g[@class='legend']").iter("text")]
    assert legend == ["已归档", "待审核"]


def test_long_labels_are_shortened_but_kept_whole_in_their_title() -> None:
    label = "城乡居民基本养老保险待遇核定"
    root = parse(stacked_bars("c", "t", "d", [(label, [1, 2])], SERIES))
    row_label = next(t for t in root.iter("text") if t.get("text-anchor") == "end")
    assert row_label.find("title").text == label
    assert "".join(row_label.itertext()).endswith("…") and len(row_label.find("title").tail) == charts.LABEL_CHARS


def test_labels_and_titles_are_escaped() -> None:
    evil = "<script>alert(\"x\")</script> & 'q'"
    markup = stacked_bars("c&<", evil, evil, [(evil, [3, 1])], [Series('k"', evil, charts.BLUE), SERIES[1]])
    assert "<script>" not in markup
    root = parse(markup)
    assert root.find("title").text == evil and root.find("desc").text == evil
    root = parse(columns("c", "t", "d", [(evil, 4)], unit=evil))
    assert bars(root)[0].find("title").text == f"{evil}：4{evil}"


def test_columns_heights_are_proportional_and_share_a_baseline() -> None:
    points = [("03-01", 0), ("03-02", 7), ("03-03", 14), ("03-04", 3)]
    root = parse(columns("days", "每日页数", "desc", points, label_every=2, unit=" 页"))
    assert_accessible(root, "days", "每日页数")
    found = bars(root)
    assert len(found) == len(points)
    heights = [float(b.get("height")) for b in found]
    assert heights[0] == 0 and heights[2] == pytest.approx(2 * heights[1], abs=0.02)
    assert heights[3] == pytest.approx(heights[1] * 3 / 7, abs=0.02)
    baselines = {round(float(b.get("y")) + float(b.get("height")), 1) for b in found}
    assert len(baselines) == 1
    xs = [float(b.get("x")) for b in found]
    assert xs == sorted(xs)
    axis_labels = [t.text for t in root.find("g[@class='labels']").iter("text")]
    assert axis_labels == ["03-02", "03-04"]  # every second label back from the last; all in the tooltips
    assert found[1].find("title").text == "03-02：7 页"


def test_width_sets_the_drawing_and_the_axis_reaches_it() -> None:
    root = parse(columns("w", "t", "d", [("a", 1), ("b", 2)], width=600))
    assert root.get("viewBox").split()[:3] == ["0", "0", "600"]
    assert max(float(b.get("x")) + float(b.get("width")) for b in bars(root)) <= 600
    wide = parse(stacked_bars("w", "t", "d", [("a", [2, 2])], SERIES, width=1040))
    assert wide.get("viewBox").split()[2] == "1040"
    segments = bars(wide)
    assert float(segments[-1].get("x")) + float(segments[-1].get("width")) <= 1040


def test_empty_data_draws_a_message_not_bars() -> None:
    for markup in (
        stacked_bars("e", "空", "无数据", [], SERIES),
        stacked_bars("e", "空", "无数据", [("参保登记", [0, 0])], SERIES),
        columns("e", "空", "无数据", []),
        columns("e", "空", "无数据", [("03-01", 0), ("03-02", 0)]),
        empty_chart("e", "空", "无数据"),
    ):
        root = parse(markup)
        assert_accessible(root, "e", "空")
        assert bars(root) == []
        assert [t.text for t in root.iter("text")] == ["暂无数据"]


@pytest.mark.parametrize(
    ("top", "end", "step"),
    [(0, 1, 1), (1, 1, 1), (3, 3, 1), (7, 8, 2), (14, 15, 5), (40, 40, 10), (99, 100, 50), (1234, 1500, 500)],
)
def test_axis_ends_on_a_round_number_at_least_the_largest_value(top: int, end: int, step: int) -> None:
    assert nice_scale(top) == (end, step)
    assert end >= top and end % step == 0
