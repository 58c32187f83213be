"""Reading order: top to bottom, left to right within a visual line."""

from __future__ import annotations

import random

from ocr.engine import OcrLine
from ocr.reading_order import group_lines, order_fragments


def frag(text: str, left: float, top: float, right: float, bottom: float) -> OcrLine:
    return OcrLine(text, ((left, top), (right, top), (right, bottom), (left, bottom)), 0.9)


def texts(rows: list[list[OcrLine]]) -> list[list[str]]:
    return [[f.text for f in row] for row in rows]


def test_empty_input() -> None:
    assert group_lines([]) == []
    assert order_fragments([]) == ([], [])


def test_single_fragment() -> None:
    only = frag("姓名", 10, 10, 60, 40)
    assert order_fragments([only]) == ([only], ["姓名"])


def test_same_line_with_slightly_different_tops_reads_left_to_right() -> None:
    # a form line: label, value and a second label, each detected with a slightly different box
    line = [
        frag("姓名", 100, 200, 180, 236),
        frag("黄姬", 200, 204, 280, 242),
        frag("性别", 320, 197, 400, 233),
        frag("女", 420, 206, 450, 240),
    ]
    shuffled = line[:]
    random.Random(3).shuffle(shuffled)
    ordered, text_lines = order_fragments(shuffled)
    assert ordered == line
    assert text_lines == ["姓名 黄姬 性别 女"]


def test_two_lines_top_to_bottom() -> None:
    first = [frag("单位名称", 100, 100, 260, 130), frag("淄博金桥", 300, 102, 460, 133)]
    second = [frag("单位地址", 100, 160, 260, 190), frag("解放路1570号", 300, 158, 520, 189)]
    ordered, text_lines = order_fragments([second[1], first[1], second[0], first[0]])
    assert ordered == first + second
    assert text_lines == ["单位名称 淄博金桥", "单位地址 解放路1570号"]
    assert texts(group_lines(second + first)) == [["单位名称", "淄博金桥"], ["单位地址", "解放路1570号"]]


def test_lines_on_a_slightly_skewed_scan() -> None:
    # each line drifts down 12 px over its width; lines are 60 px apart
    rows = [
        [frag(f"r{r}c{c}", 100 + 200 * c, 100 + 60 * r + 4 * c, 280 + 200 * c, 130 + 60 * r + 4 * c) for c in range(3)]
        for r in range(4)
    ]
    fragments = [f for row in rows for f in row]
    random.Random(5).shuffle(fragments)
    assert texts(group_lines(fragments)) == [[f.text for f in row] for row in rows]


def test_fragments_keep_identity_and_count() -> None:
    fragments = [frag(str(i), (i % 5) * 100, (i // 5) * 50, (i % 5) * 100 + 80, (i // 5) * 50 + 30) for i in range(25)]
    ordered, text_lines = order_fragments(list(reversed(fragments)))
    assert ordered == fragments
    assert text_lines == [" ".join(str(i) for i in range(r * 5, r * 5 + 5)) for r in range(5)]


def test_empty_text_fragments_do_not_make_blank_lines() -> None:
    ordered, text_lines = order_fragments([frag("", 10, 10, 50, 40), frag("第二行", 10, 100, 90, 130)])
    assert len(ordered) == 2
    assert text_lines == ["第二行"]


def test_tall_fragment_is_placed_once() -> None:
    """A tall fragment (a merged table cell) beside two short lines appears exactly once."""
    tall = frag("备注", 20, 95, 80, 175)
    line_a = [frag("A1", 200, 100, 300, 130), frag("A2", 400, 100, 500, 130)]
    line_b = [frag("B1", 200, 145, 300, 175), frag("B2", 400, 145, 500, 175)]
    ordered, _ = order_fragments(line_b + [tall] + line_a)
    assert sorted(ordered, key=id) == sorted([tall, *line_a, *line_b], key=id)
    assert ordered.index(line_a[0]) < ordered.index(line_a[1])
    assert ordered.index(line_b[0]) < ordered.index(line_b[1])


def test_tall_fragment_does_not_merge_the_lines_it_spans() -> None:
    tall = frag("备注", 20, 95, 80, 175)
    line_a = [frag("A1", 200, 100, 300, 130), frag("A2", 400, 100, 500, 130)]
    line_b = [frag("B1", 200, 145, 300, 175), frag("B2", 400, 145, 500, 175)]
    rows = texts(group_lines(line_b + [tall] + line_a))
    row_of = {text: i for i, row in enumerate(rows) for text in row}
    assert row_of["A1"] == row_of["A2"]
    assert row_of["B1"] == row_of["B2"]
    assert row_of["A1"] < row_of["B1"]
    ordered, text_lines = order_fragments(line_b + [tall] + line_a)
    assert [f.text for f in ordered if f is not tall] == ["A1", "A2", "B1", "B2"]
    assert any(t.endswith("A1 A2") for t in text_lines)
    assert any(t.endswith("B1 B2") for t in text_lines)
