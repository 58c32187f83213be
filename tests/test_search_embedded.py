"""Embedded (tantivy) backend specifics: edge queries against brute force, paging, pages_of, rebuild.

The backend-neutral behaviour is in ``tests/contract/test_search_contract.py``.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import search.embedded as embedded
from archive.errors import Invalid
from search import ALL, PageDoc, Scope, SearchQuery
from search.embedded import CURRENT_FILE, TantivyIndex
from search.fakecorpus import STATUSES, generate_pages
from search.grams import LearnPolicy
from search.text import normalize

EVERYTHING = Scope(offices=ALL, statuses=frozenset(STATUSES))
Key = tuple[str, int]

# Pages whose words and edges the generated corpus does not reach: a lone digit or letter, words
# split by one space, digits at the very start and end of a page, CJK around short numbers.
_EDGE_TEXTS = (
    "1",
    "x",
    "3x 12",
    "第12页 共3页 号12 12年 3x 1号",
    "abc 123 c1 1c x3x 33 333 3333",
    "2019年12月1日 金额1.5元 附件x2",
    "12345678901234567890 末尾1",
    "号 1 2 3 号123年",
    "某某单位\n12\n34 年",
    "𠮷野家 1号 𠮷",  # a character outside the BMP
)


@pytest.fixture(scope="module")
def edge_corpus() -> list[PageDoc]:
    docs = list(generate_pages(40, seed=23))
    base = docs[0]
    for n, text in enumerate(_EDGE_TEXTS):
        docs.append(dataclasses.replace(base, dossier_id=f"e{n:03d}", page=1, text=text))
    return docs


@pytest.fixture(scope="module", params=["every", "frequent"])
def edge_index(
    edge_corpus: list[PageDoc], tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[TantivyIndex]:
    """Added to a new index (a gram at every position), and rebuilt with the layout for varied text:
    bigrams, and the grams frequent in this corpus."""
    if request.param == "every":
        idx = TantivyIndex(tmp_path_factory.mktemp("edge"))
        idx.add(edge_corpus)
        idx.commit()
    else:
        idx_dir = tmp_path_factory.mktemp("edge")
        idx = TantivyIndex(idx_dir, grams=LearnPolicy(share=0.03, min_pages=2, max_variety=0.0))
        idx.rebuild(edge_corpus)
        assert idx.layout_sample() == len(edge_corpus)
        layout = json.loads(next(Path(idx_dir).glob("gen-*/grams.json")).read_text())
        assert not layout["every"] and len(layout["frequent"]) > 200
    yield idx
    idx.close()


def _every(idx: TantivyIndex, query: SearchQuery, scope: Scope = EVERYTHING) -> list[Key]:
    keys: list[Key] = []
    page = idx.search(query, scope)
    total = page.total
    while True:
        keys += [(h.dossier_id, h.page) for h in page.hits]
        assert page.total == total
        if page.next_cursor is None:
            break
        page = idx.search(dataclasses.replace(query, cursor=page.next_cursor), scope)
    assert len(keys) == len(set(keys)) == total
    return keys


def _brute(corpus: list[PageDoc], q: str) -> set[Key]:
    norm_q = normalize(q)
    return {(d.dossier_id, d.page) for d in corpus if norm_q in normalize(d.text)}


def _edge_queries(corpus: list[PageDoc]) -> list[str]:
    """Short digit/letter queries at word edges, alone and with the neighbouring character."""
    out: set[str] = {"1", "12", "x", "3x", "号12", "12年", "c 1", "3 3", "0", "9", "z"}
    for d in corpus:
        text = normalize(d.text)
        for w in re.finditer(r"[0-9a-z]+", text):
            for k in (1, 2, 3):
                if k > len(w.group()):
                    break
                out.add(text[w.start() : w.start() + k])
                out.add(text[w.end() - k : w.end()])
                if w.start() > 0:
                    out.add(text[w.start() - 1 : w.start() + k])
                if w.end() < len(text):
                    out.add(text[w.end() - k : w.end() + 1])
    return sorted(q for q in out if q.strip() == q)


def test_short_edge_queries_are_never_refused_and_match_brute_force(
    edge_index: TantivyIndex, edge_corpus: list[PageDoc]
) -> None:
    queries = _edge_queries(edge_corpus)
    assert len(queries) > 100
    for q in queries:
        text = f'"{q}"' if " " in q else q
        found = set(_every(edge_index, SearchQuery(text=text, fuzzy=False, limit=50, sort="date")))
        assert found == _brute(edge_corpus, q), q


def test_random_substrings_of_every_length_match_brute_force(
    edge_index: TantivyIndex, edge_corpus: list[PageDoc]
) -> None:
    rng = random.Random(4)
    for length in range(1, 12):
        for _ in range(12):
            norm = normalize(rng.choice(edge_corpus).text)
            start = rng.randrange(max(1, len(norm) - length + 1))
            q = norm[start : start + length]
            if q.strip() != q or not q or '"' in q:
                continue
            text = f'"{q}"' if " " in q else q
            found = set(_every(edge_index, SearchQuery(text=text, fuzzy=False, limit=37)))
            assert found == _brute(edge_corpus, q), q


def test_word_edges_by_example(edge_index: TantivyIndex) -> None:
    def keys(text: str) -> set[str]:
        found = {d for d, _ in _every(edge_index, SearchQuery(text=text, fuzzy=False, limit=50, sort="date"))}
        return {d for d in found if d.startswith("e")}

    assert normalize(_EDGE_TEXTS[3]) == "第12页共3页号12 12年3x 1号"
    assert keys("1") == {"e000", "e002", "e003", "e004", "e005", "e006", "e007", "e008", "e009"}
    assert keys("𠮷") == keys("𠮷野家") == keys("号𠮷") == {"e009"}
    assert keys('"c 1"') == {"e004"}  # the space between two words is part of the phrase
    assert keys("c1") == {"e004"} and keys("x 1") == keys("x") & keys("1")  # unquoted: two terms
    assert keys("号12") == {"e003", "e007"}  # "号 1 2 3 号123年" holds 号123
    assert keys("12年") == {"e003"} and keys("12月") == {"e005"}
    assert keys("3x") == {"e002", "e003", "e004"}
    assert keys("3333") == {"e004"}
    assert keys("34年") == {"e008"}  # "34 年": the OCR space before 年 is dropped
    assert keys("90末尾1") == {"e006"}
    assert keys('"2 3"') == {"e007", "e008"}  # a line break between two words becomes a space


def test_pages_of_returns_the_stored_pages_in_order(edge_index: TantivyIndex, edge_corpus: list[PageDoc]) -> None:
    dossier = edge_corpus[0].dossier_id
    expected = sorted((d for d in edge_corpus if d.dossier_id == dossier), key=lambda d: d.page)
    got = edge_index.pages_of(dossier)
    assert [p.page for p in got] == [d.page for d in expected]
    for page, doc in zip(got, expected, strict=True):
        assert page.text == normalize(doc.text)
        assert (page.dossier_id, page.archive_number, page.business_type, page.office, page.status) == (
            doc.dossier_id,
            doc.archive_number,
            doc.business_type,
            doc.office,
            doc.status,
        )
    assert edge_index.pages_of("no-such-dossier") == []


# -- paging ----------------------------------------------------------------------------------


def test_date_order_pages_through_ties_with_search_after(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages sharing a sort key straddle page boundaries; offset and search-after paging agree."""
    monkeypatch.setattr(embedded, "_sort_key", lambda day, key: max(day, 0) << embedded._TIE_BITS)
    monkeypatch.setattr(embedded, "DATE_OFFSET_PAGING", 5)
    docs = list(generate_pages(40, seed=3))
    idx = TantivyIndex(tmp_path)
    idx.add(docs)
    idx.commit()
    query = SearchQuery(text="", sort="date", limit=3)
    keys = _every(idx, query)
    assert set(keys) == {(d.dossier_id, d.page) for d in docs}
    by_key = {(d.dossier_id, d.page): d for d in docs}
    dates = [by_key[k].date_start for k in keys]
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]
    assert len(set(dates)) < len(dates)  # pages of a dossier share a date: ties were crossed
    # The same order as one big page.
    assert keys == [(h.dossier_id, h.page) for h in idx.search(dataclasses.replace(query, limit=200), EVERYTHING).hits]
    idx.close()


def test_relevance_paging_is_capped(edge_index: TantivyIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "MAX_RELEVANCE_DEPTH", 7)
    first = edge_index.search(SearchQuery(text="审核", limit=5), EVERYTHING)
    second = edge_index.search(SearchQuery(text="审核", limit=5, cursor=first.next_cursor), EVERYTHING)
    assert len(second.hits) == 2 and second.next_cursor is not None  # clipped at the cap
    with pytest.raises(Invalid) as err:
        edge_index.search(SearchQuery(text="审核", limit=5, cursor=second.next_cursor), EVERYTHING)
    assert err.value.code == "search_page_too_deep"
    # Date order has no cap.
    assert len(_every(edge_index, SearchQuery(text="审核", limit=5, sort="date"))) > 7


def test_cursors_are_bound_to_query_and_sort(edge_index: TantivyIndex) -> None:
    by_score = edge_index.search(SearchQuery(text="审核", limit=2), EVERYTHING).next_cursor
    by_date = edge_index.search(SearchQuery(text="审核", limit=2, sort="date"), EVERYTHING).next_cursor
    for query in (
        SearchQuery(text="审核", limit=2, sort="date", cursor=by_score),
        SearchQuery(text="审核", limit=2, cursor=by_date),
        SearchQuery(text="盖章", limit=2, cursor=by_score),
    ):
        with pytest.raises(Invalid) as err:
            edge_index.search(query, EVERYTHING)
        assert err.value.code == "search_bad_cursor"


# -- rebuild and generations -----------------------------------------------------------------


def _generations(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith("gen-"))


def _marked(docs: list[PageDoc], marker: str) -> list[PageDoc]:
    return [dataclasses.replace(d, text=f"{d.text}\n{marker}") for d in docs]


def test_rebuild_switches_atomically_and_removes_the_old_generation(tmp_path: Path) -> None:
    docs = list(generate_pages(12, seed=8))
    old_docs, new_docs = _marked(docs, "旧版标记"), _marked(docs[:20], "新版标记")
    idx = TantivyIndex(tmp_path)
    idx.add(old_docs)
    idx.commit()
    (old_generation,) = _generations(tmp_path)
    other = TantivyIndex(tmp_path)  # another reader of the same directory (another process)
    seen_mid_way: list[tuple[int, int, int]] = []

    def feed() -> Iterator[PageDoc]:
        for n, doc in enumerate(new_docs):
            if n == len(new_docs) // 2:
                # Half-way through, both objects still answer from the old generation.
                seen_mid_way.append(
                    (
                        idx.search(SearchQuery(text="旧版标记"), EVERYTHING).total,
                        idx.search(SearchQuery(text="新版标记"), EVERYTHING).total,
                        other.count(),
                    )
                )
            yield doc

    assert idx.rebuild(feed()) == len(new_docs)
    assert seen_mid_way == [(len(old_docs), 0, len(old_docs))]
    for reader in (idx, other, TantivyIndex(tmp_path)):
        assert reader.count() == len(new_docs)
        assert reader.search(SearchQuery(text="旧版标记"), EVERYTHING).total == 0
        assert reader.search(SearchQuery(text="新版标记"), EVERYTHING).total == len(new_docs)
        assert list(reader.dossier_ids()) == sorted({d.dossier_id for d in new_docs})
    (new_generation,) = _generations(tmp_path)
    assert new_generation != old_generation and not (tmp_path / old_generation).exists()
    assert json.loads((tmp_path / CURRENT_FILE).read_text())["generation"] == new_generation
    # Writes after the rebuild go to the new generation.
    idx.add(_marked(docs[20:21], "新版标记"))
    idx.commit()
    assert TantivyIndex(tmp_path).search(SearchQuery(text="新版标记"), EVERYTHING).total == len(new_docs) + 1
    idx.close()


def test_a_failed_rebuild_leaves_the_old_generation_live(tmp_path: Path) -> None:
    docs = list(generate_pages(5, seed=9))
    idx = TantivyIndex(tmp_path)
    idx.add(docs)
    idx.commit()
    before = _generations(tmp_path)

    def broken() -> Iterator[PageDoc]:
        yield docs[0]
        raise RuntimeError("records database went away")

    with pytest.raises(RuntimeError):
        idx.rebuild(broken())
    assert _generations(tmp_path) == before
    assert idx.count() == len(docs) == TantivyIndex(tmp_path).count()


def test_rebuild_keeps_the_last_of_duplicate_pages(tmp_path: Path) -> None:
    docs = list(generate_pages(3, seed=2))
    again = dataclasses.replace(docs[0], text="更正后的内容")
    idx = TantivyIndex(tmp_path)
    assert idx.rebuild([*docs, again]) == len(docs)
    assert idx.count() == len(docs)
    assert [p.text for p in idx.pages_of(docs[0].dossier_id) if p.page == docs[0].page] == ["更正后的内容"]


def test_an_old_layout_or_format_starts_an_empty_generation(tmp_path: Path) -> None:
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "meta.json").write_text("{}")  # an index of the previous layout, in the directory itself
    idx = TantivyIndex(legacy)
    assert idx.count() == 0 and (legacy / "meta.json").exists()
    idx.add(list(generate_pages(2, seed=1)))
    idx.commit()
    assert TantivyIndex(legacy).count() > 0

    current = json.loads((legacy / CURRENT_FILE).read_text())
    (legacy / CURRENT_FILE).write_text(json.dumps({**current, "format": current["format"] - 1}))
    assert TantivyIndex(legacy).count() == 0


def test_advice_asks_for_a_rebuild_once_the_index_outgrows_its_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "RELEARN_MIN_PAGES", 40)
    docs = list(generate_pages(30, seed=3))
    idx = TantivyIndex(tmp_path / "idx")
    idx.add(docs[:20])
    idx.commit()
    assert idx.advice() is None  # too few pages to matter
    idx.add(docs)
    idx.commit()
    assert len(docs) >= 40 and "archive search reindex" in (idx.advice() or "")
    idx.rebuild(docs)
    assert idx.layout_sample() == len(docs) and idx.advice() is None
    idx.close()
