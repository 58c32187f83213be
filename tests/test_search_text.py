"""Unit tests of search normalisation, tokenisation, query parsing and snippets."""

from __future__ import annotations

import pytest

from archive.errors import Invalid
from search.text import build_snippet, normalize, parse_query, units


def test_normalize_drops_ocr_spaces_but_keeps_word_breaks() -> None:
    assert normalize("社会 保险  登记表") == "社会保险登记表"
    assert normalize("ＡＢＣ　１２３") == "abc 123"  # NFKC full-width, lowercase
    assert normalize("张三 110101") == "张三110101"
    assert normalize("abc\n def") == "abc def"


def test_units_kinds() -> None:
    kinds = [(u.kind, u.text) for u in units(normalize("姓名:王五 id 12x"))]
    assert kinds == [("cjk", "姓"), ("cjk", "名"), ("other", ":"), ("cjk", "王"), ("cjk", "五"),
                     ("word", "id"), ("word", "12x")]  # fmt: skip


def test_parse_query_terms_phrases_and_codes() -> None:
    terms = parse_query('张三  "社会 保险" 11010119900307001X')
    assert [t.norm for t in terms] == ["张三", "社会保险", "11010119900307001x"]
    assert [t.phrase for t in terms] == [False, True, False]
    assert terms[0].name_like and terms[1].name_like  # 4 CJK characters may be a name
    assert terms[2].id_like and terms[2].code == "11010119900307001X"
    assert parse_query("“参保 登记”")[0].norm == "参保登记"
    assert parse_query("   ") == []


def test_uscc_like() -> None:
    (t,) = parse_query("91110105MA01ABCD2X")
    assert t.uscc_like and not t.id_like


@pytest.mark.parametrize("text", ['"unbalanced', "字" * 300, " ".join("词" * 20)])
def test_bad_queries(text: str) -> None:
    with pytest.raises(Invalid):
        parse_query(text)


def test_snippet_marks_matches_in_a_window() -> None:
    text = "前文" * 30 + "审核意见同意办理" + "后文" * 40
    snippet = build_snippet(text, ["审核意见"])
    assert "【审核意见】" in snippet and snippet.startswith("…") and snippet.endswith("…")
    assert len(snippet) < 80
    assert build_snippet("没有匹配", ["审核"]) == "没有匹配"
