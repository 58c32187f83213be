"""The search contract, run against every backend.

``BACKENDS`` holds a factory per backend: the embedded tantivy index and Elasticsearch (an osmem
server started for the session, or the cluster at ``ARCHIVE_ES_URL``: see ``conftest.py``).  Every
expectation is computed by brute force over the same generated corpus, so a wrong engine fails
rather than matches a constant.
"""

from __future__ import annotations

import dataclasses
import datetime
import random
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from archive.errors import Invalid
from search import ALL, FACET_FIELDS, PageDoc, Scope, SearchIndex, SearchQuery, SearchResult
from search.embedded import TantivyIndex
from search.fakecorpus import OFFICES, STATUSES, generate_pages
from search.grams import LearnPolicy
from search.text import MARK_CLOSE, MARK_OPEN, normalize, normalize_code, parse_query


def _tantivy(request: pytest.FixtureRequest, path: Path) -> SearchIndex:
    """A new index: the starting layout, a 4-character gram at every position."""
    return TantivyIndex(path / "tantivy")


def _tantivy_varied(request: pytest.FixtureRequest, path: Path) -> SearchIndex:
    """The layout for varied text (bigrams and frequent grams), learnt from other generated pages with
    thresholds low enough that hundreds of grams are frequent; the tests' pages are added after."""
    idx = TantivyIndex(path / "tantivy", grams=LearnPolicy(share=0.02, min_pages=3, max_variety=0.0))
    idx.rebuild(generate_pages(120, seed=99))
    for dossier_id in list(idx.dossier_ids()):
        idx.delete_dossier(dossier_id)
    idx.commit()
    assert idx.count() == 0 and idx.layout_sample() > 0
    return idx


def _elastic(request: pytest.FixtureRequest, path: Path) -> SearchIndex:
    """Under a fresh alias on the session's server (osmem, or the cluster at ARCHIVE_ES_URL)."""
    return request.getfixturevalue("elastic_factory")()


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], SearchIndex]] = {
    "tantivy": _tantivy,
    "tantivy-varied": _tantivy_varied,
    "elastic": _elastic,
}

EVERYTHING = Scope(offices=ALL, statuses=frozenset(STATUSES))
Key = tuple[str, int]


@pytest.fixture(scope="module")
def corpus() -> list[PageDoc]:
    return list(generate_pages(150, seed=11))


@pytest.fixture(scope="module", params=sorted(BACKENDS))
def index(request, corpus: list[PageDoc], tmp_path_factory) -> Iterator[SearchIndex]:
    idx = BACKENDS[request.param](request, tmp_path_factory.mktemp(request.param))
    idx.add(corpus)
    idx.commit()
    yield idx
    idx.close()


@pytest.fixture(params=sorted(BACKENDS))
def fresh(request, tmp_path: Path, corpus: list[PageDoc]) -> Iterator[SearchIndex]:
    """A private index for tests that write."""
    idx = BACKENDS[request.param](request, tmp_path)
    idx.add(corpus[:60])
    idx.commit()
    yield idx
    idx.close()


# -- helpers ---------------------------------------------------------------------------------


def _codes(doc: PageDoc) -> set[str]:
    values = (doc.archive_number, doc.business_number, doc.person_id_number, doc.unit_uscc)
    return {normalize_code(v) for v in values if v}


def _in_scope(doc: PageDoc, scope: Scope) -> bool:
    return (scope.offices is ALL or doc.office in scope.offices) and doc.status in scope.statuses


def _brute(corpus: list[PageDoc], text: str, scope: Scope = EVERYTHING, **filters: object) -> set[Key]:
    """Pages whose text contains every term (or whose codes equal it), in scope, passing filters."""
    terms = parse_query(text)
    out: set[Key] = set()
    for d in corpus:
        norm = normalize(d.text)
        if not all(t.norm in norm or t.code in _codes(d) for t in terms) or not _in_scope(d, scope):
            continue
        if any(getattr(d, f) not in v for f, v in filters.items()):
            continue
        out.add((d.dossier_id, d.page))
    return out


def _text_hits(corpus: list[PageDoc], text: str) -> set[Key]:
    norm_q = normalize(text)
    return {(d.dossier_id, d.page) for d in corpus if norm_q in normalize(d.text)}


def _all(index: SearchIndex, query: SearchQuery, scope: Scope = EVERYTHING) -> tuple[list[Key], SearchResult]:
    """Every hit, paging with the cursor; asserts the total stays put."""
    keys: list[Key] = []
    first = page = index.search(dataclasses.replace(query, limit=37), scope)
    while True:
        keys += [(h.dossier_id, h.page) for h in page.hits]
        assert page.total == first.total
        if page.next_cursor is None:
            break
        page = index.search(dataclasses.replace(query, limit=37, cursor=page.next_cursor), scope)
    return keys, first


def _exact(index: SearchIndex, text: str, scope: Scope = EVERYTHING, **kw: object) -> set[Key]:
    keys, _ = _all(index, SearchQuery(text=text, fuzzy=False, **kw), scope)  # type: ignore[arg-type]
    assert len(keys) == len(set(keys)), "paging returned a page twice"
    return set(keys)


# -- contract ----------------------------------------------------------------------------------


def test_count_and_dossier_ids(index: SearchIndex, corpus: list[PageDoc]) -> None:
    assert index.count() == len(corpus)
    assert sorted(index.dossier_ids()) == sorted({d.dossier_id for d in corpus})


@pytest.mark.parametrize("length", [1, 2, 3, 5, 8])
def test_substring_queries_match_brute_force(index: SearchIndex, corpus: list[PageDoc], length: int) -> None:
    rng = random.Random(length)
    for _ in range(25):
        norm = normalize(rng.choice(corpus).text)
        start = rng.randrange(0, max(1, len(norm) - length))
        q = norm[start : start + length].strip()
        if not q or " " in q or '"' in q:
            continue
        found = _exact(index, q)
        assert _text_hits(corpus, q) <= found, f"recall < 1 for {q!r}"
        assert found == _brute(corpus, q), f"wrong set for {q!r}"


def test_query_ending_in_a_lone_character(index: SearchIndex, corpus: list[PageDoc]) -> None:
    person = corpus[0].person_name
    q = f"姓名:{person}"  # odd number of CJK characters after the colon for a 2- or 3-char name
    found = _exact(index, q)
    assert found and found == _brute(corpus, q)
    assert (corpus[0].dossier_id, 1) in found


def test_terms_are_anded(index: SearchIndex, corpus: list[PageDoc]) -> None:
    for q in ("审核意见 盖章", "工资 公司 申请人", f"{corpus[3].person_name} 签字"):
        found = _exact(index, q)
        assert found == _brute(corpus, q)
        for single in q.split():
            assert found <= _brute(corpus, single)


def test_quoted_phrase_is_one_term(index: SearchIndex, corpus: list[PageDoc]) -> None:
    found = _exact(index, '"审核意见同意"')
    assert found == _text_hits(corpus, "审核意见同意") and found
    loose = _exact(index, "审核 同意")
    assert found <= loose


@pytest.mark.parametrize("field", ["person_id_number", "unit_uscc", "archive_number", "business_number"])
def test_exact_codes_find_every_page_of_the_dossier(index: SearchIndex, corpus: list[PageDoc], field: str) -> None:
    doc = corpus[5]
    value = getattr(doc, field)
    found = _exact(index, value)
    assert found == _brute(corpus, value)
    assert {(d.dossier_id, d.page) for d in corpus if getattr(d, field) == value} <= found


def _one_wrong(value: str, alphabet: str, rng: random.Random) -> str:
    i = rng.randrange(len(value) - 1)
    return value[:i] + rng.choice([c for c in alphabet if c != value[i]]) + value[i + 1 :]


def test_one_wrong_digit_in_an_id_ranks_after_exact(index: SearchIndex, corpus: list[PageDoc]) -> None:
    rng = random.Random(3)
    target = corpus[7]
    wrong = _one_wrong(target.person_id_number, "0123456789", rng)
    result = index.search(SearchQuery(text=wrong, limit=200), EVERYTHING)
    keys = [(h.dossier_id, h.page) for h in result.hits]
    assert (target.dossier_id, 1) in keys
    exact_keys = _brute(corpus, wrong)
    flags = [h.fuzzy for h in result.hits]
    assert flags == sorted(flags), "a fuzzy hit ranks above an exact one"
    assert {k for k, h in zip(keys, result.hits, strict=True) if not h.fuzzy} == exact_keys
    # The correct ID plus the wrong one: exact pages come first.
    both = index.search(SearchQuery(text=target.person_id_number, limit=200), EVERYTHING)
    assert not any(h.fuzzy for h in both.hits)


def test_one_wrong_character_in_a_name(index: SearchIndex, corpus: list[PageDoc]) -> None:
    target = next(d for d in corpus if len(d.person_name) == 3)
    swap = "鑫" if target.person_name[1] != "鑫" else "淼"
    wrong = target.person_name[0] + swap + target.person_name[2]
    result = index.search(SearchQuery(text=wrong, limit=200), EVERYTHING)
    hit = [h for h in result.hits if h.dossier_id == target.dossier_id]
    assert hit and all(h.fuzzy for h in hit)
    mixed = index.search(SearchQuery(text=target.person_name, limit=200), EVERYTHING)
    flags = [h.fuzzy for h in mixed.hits]
    assert flags == sorted(flags)
    assert {(h.dossier_id, h.page) for h in mixed.hits if not h.fuzzy} == _brute(corpus, target.person_name)


def test_filters(index: SearchIndex, corpus: list[PageDoc]) -> None:
    bt = corpus[0].business_type
    found = _exact(index, "盖章", business_types=frozenset({bt}), offices=frozenset({"OF01", "OF02"}))
    assert found == _brute(corpus, "盖章", business_type={bt}, office={"OF01", "OF02"})
    cat = corpus[1].category
    found = _exact(index, "", categories=frozenset({cat}), retentions=frozenset({corpus[1].retention}))
    assert found == _brute(corpus, "", category={cat}, retention={corpus[1].retention})


def test_date_range_overlaps_the_dossier_period(index: SearchIndex, corpus: list[PageDoc]) -> None:
    lo, hi = datetime.date(2010, 1, 1), datetime.date(2012, 6, 30)
    found = _exact(index, "", date_from=lo, date_to=hi)
    expected = {
        (d.dossier_id, d.page)
        for d in corpus
        if d.date_start and d.date_end and d.date_start <= hi and d.date_end >= lo
    }
    assert found == expected and found


def test_sort_by_date(index: SearchIndex, corpus: list[PageDoc]) -> None:
    keys, first = _all(index, SearchQuery(text="审核", sort="date"))
    assert set(keys) == _brute(corpus, "审核") and len(keys) == len(set(keys))
    by_key = {(d.dossier_id, d.page): d for d in corpus}
    dates = [by_key[k].date_start for k in keys]
    assert dates == sorted(dates, reverse=True)


def test_facets_equal_brute_force_over_all_matches(index: SearchIndex, corpus: list[PageDoc]) -> None:
    scope = Scope(offices=frozenset({"OF01", "OF03"}), statuses=frozenset({"archived", "pending_review"}))
    result = index.search(SearchQuery(text="经办", limit=3, facets=True, fuzzy=False), scope)
    expected_keys = _brute(corpus, "经办", scope)
    assert result.total == len(expected_keys)
    by_key = {(d.dossier_id, d.page): d for d in corpus}
    for facet in FACET_FIELDS:
        expected = Counter(getattr(by_key[k], facet) for k in expected_keys)
        assert result.facets[facet] == dict(expected), facet


def test_scope_is_enforced_in_the_engine(index: SearchIndex, corpus: list[PageDoc]) -> None:
    scope = Scope(offices=frozenset({"OF02"}), statuses=frozenset({"archived"}))
    keys, first = _all(index, SearchQuery(text="社会", facets=True, fuzzy=False), scope)
    expected = _brute(corpus, "社会", scope)
    assert len(keys) == len(set(keys)) and set(keys) == expected
    assert first.total == len(expected)
    assert set(first.facets["office"]) <= {"OF02"} and set(first.facets["status"]) <= {"archived"}
    # Asking for another office through the filters does not widen the scope.
    other = index.search(SearchQuery(text="社会", offices=frozenset(OFFICES)), scope)
    assert other.total == len(expected)
    nothing = index.search(SearchQuery(text="社会"), Scope(offices=frozenset(), statuses=frozenset(STATUSES)))
    assert nothing.total == 0 and nothing.hits == []


def test_snippet_marks_the_match(index: SearchIndex) -> None:
    result = index.search(SearchQuery(text="审核意见"), EVERYTHING)
    assert result.hits
    for hit in result.hits:
        assert f"{MARK_OPEN}审核意见{MARK_CLOSE}" in hit.snippet


def test_bad_queries_are_invalid(index: SearchIndex) -> None:
    for query in (
        SearchQuery(text='"未闭合'),
        SearchQuery(text="x", cursor="not a cursor!"),
        SearchQuery(text="x" * 500),
        SearchQuery(text="x", limit=0),
    ):
        with pytest.raises(Invalid):
            index.search(query, EVERYTHING)
    cursor = index.search(SearchQuery(text="审核", limit=1), EVERYTHING).next_cursor
    with pytest.raises(Invalid):  # a cursor from another query
        index.search(SearchQuery(text="盖章", limit=1, cursor=cursor), EVERYTHING)


def test_replace_dossier_after_status_change(fresh: SearchIndex, corpus: list[PageDoc]) -> None:
    dossier = corpus[0].dossier_id
    pages = [d for d in corpus[:60] if d.dossier_id == dossier]
    new_status = next(s for s in STATUSES if s != pages[0].status)
    fresh.replace_dossier(dossier, [dataclasses.replace(p, status=new_status) for p in pages[:1]])
    fresh.commit()
    scope_new = Scope(offices=ALL, statuses=frozenset({new_status}))
    scope_old = Scope(offices=ALL, statuses=frozenset({pages[0].status}))
    assert {(dossier, 1)} == {
        (h.dossier_id, h.page) for h in fresh.search(SearchQuery(text=dossier_marker(pages[0])), scope_new).hits
    }
    hits_old = fresh.search(SearchQuery(text=dossier_marker(pages[0])), scope_old).hits
    assert all(h.dossier_id != dossier for h in hits_old)
    assert fresh.count() == 60 - len(pages) + 1


def dossier_marker(doc: PageDoc) -> str:
    return doc.archive_number


def test_add_is_an_upsert_and_delete_removes(fresh: SearchIndex, corpus: list[PageDoc]) -> None:
    doc = corpus[0]
    fresh.add([dataclasses.replace(doc, text="更正后的页面内容 独一无二的标记词")])
    fresh.commit()
    assert fresh.count() == 60
    hits = fresh.search(SearchQuery(text="独一无二的标记词"), EVERYTHING).hits
    assert [(h.dossier_id, h.page) for h in hits] == [(doc.dossier_id, doc.page)]
    fresh.delete_dossier(doc.dossier_id)
    fresh.commit()
    assert doc.dossier_id not in set(fresh.dossier_ids())
    assert fresh.search(SearchQuery(text="独一无二的标记词"), EVERYTHING).total == 0
