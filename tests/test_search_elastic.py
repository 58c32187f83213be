"""Elasticsearch-specific behaviour of ``search.elastic.ElasticIndex`` (the contract suite covers the rest).

Runs against the session's osmem server (or the cluster at ``ARCHIVE_ES_URL``; see
``tests/contract/conftest.py``).  Faults (429, refused connections) are injected at the transport
level through a node class in the test, so the real client, helpers and product code all run.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, Urllib3HttpNode
from elastic_transport._node import NodeApiResponse
from elastic_transport.client_utils import DEFAULT, DefaultType

from archive.errors import Invalid, Unavailable
from search import ALL, FACET_FIELDS, PageDoc, Scope, SearchQuery
from search.elastic import ANALYZER, ElasticIndex, IndexingFailed
from search.embedded import TantivyIndex
from search.fakecorpus import STATUSES, generate_pages
from search.text import normalize
from tests.contract.conftest import REAL_ES_URL, EsTarget, session_target

EVERYTHING = Scope(offices=ALL, statuses=frozenset(STATUSES))
# ``real_es`` is registered (and skipped without ARCHIVE_ES_URL) in tests/contract/conftest.py; the
# skipif repeats the rule for runs that do not load that conftest.
needs_real_es = pytest.mark.skipif(not REAL_ES_URL, reason="needs a real Elasticsearch cluster: set ARCHIVE_ES_URL")


@pytest.fixture(scope="session")
def es_target() -> EsTarget:
    return session_target()


@pytest.fixture(scope="module")
def small() -> list[PageDoc]:
    return list(generate_pages(30, seed=5))


@pytest.fixture(scope="module")
def loaded(es_target: EsTarget, small: list[PageDoc]) -> ElasticIndex:
    """A read-only index of ``small``."""
    idx = es_target.index()
    idx.add(small)
    idx.commit()
    return idx


# -- transport-level instruments -------------------------------------------------------------


@dataclass
class Wire:
    """What a test's node class saw, and the faults it injects into ``_bulk`` requests."""

    requests: list[tuple[str, str, bytes]] = field(default_factory=list)
    reject_bulk_requests: int = 0  # answer this many bulk requests with 429 without sending them
    reject_items: set[int] = field(default_factory=set)  # in the first bulk: these items get 429
    bulk_times: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self, suffix: str) -> list[dict[str, Any]]:
        return [json.loads(body) for _, target, body in self.requests if target.split("?")[0].endswith(suffix)]

    def bulk_requests(self) -> list[list[dict[str, Any]]]:
        out = []
        for _, target, body in self.requests:
            if target.split("?")[0].endswith("/_bulk"):
                out.append([json.loads(line) for line in body.splitlines() if line.strip()])
        return out


def _json_response(node: Urllib3HttpNode, status: int, payload: dict[str, Any]) -> NodeApiResponse:
    headers = HttpHeaders({"content-type": "application/json", "x-elastic-product": "Elasticsearch"})
    meta = ApiResponseMeta(status=status, http_version="1.1", headers=headers, duration=0.0, node=node.config)
    return NodeApiResponse(meta, json.dumps(payload).encode())


def _rejection(op: str, action: dict[str, Any]) -> dict[str, Any]:
    error = {"type": "es_rejected_execution_exception", "reason": "rejected execution (queue capacity 200)"}
    return {op: {"_index": action.get("_index"), "_id": action.get("_id"), "status": 429, "error": error}}


def instrumented(base: type[Urllib3HttpNode], wire: Wire) -> type[Urllib3HttpNode]:
    """A node class over ``base`` recording requests and injecting the ``wire``'s bulk faults."""

    class Node(base):  # type: ignore[misc, valid-type]
        def perform_request(
            self,
            method: str,
            target: str,
            body: bytes | None = None,
            headers: HttpHeaders | None = None,
            request_timeout: float | None | DefaultType = DEFAULT,
        ) -> NodeApiResponse:
            with wire.lock:
                wire.requests.append((method, target, body or b""))
                is_bulk = target.split("?")[0].endswith("/_bulk")
                if is_bulk:
                    wire.bulk_times.append(time.monotonic())
                    first_bulk = len(wire.bulk_times) == 1
                    if wire.reject_bulk_requests > 0:
                        wire.reject_bulk_requests -= 1
                        reason = {"type": "es_rejected_execution_exception", "reason": "rejected execution"}
                        return _json_response(self, 429, {"error": reason, "status": 429})
            if is_bulk and first_bulk and wire.reject_items and body:
                return self._partly_rejected(method, target, body, headers, request_timeout)
            return super().perform_request(method, target, body, headers, request_timeout)

        def _partly_rejected(
            self,
            method: str,
            target: str,
            body: bytes,
            headers: HttpHeaders | None,
            request_timeout: float | None | DefaultType,
        ) -> NodeApiResponse:
            """Send only the items not rejected; answer the rejected ones with item-level 429s."""
            lines = [line for line in body.split(b"\n") if line.strip()]
            items: list[tuple[str, dict[str, Any], list[bytes]]] = []
            i = 0
            while i < len(lines):
                action = json.loads(lines[i])
                op = next(iter(action))
                chunk = lines[i : i + (1 if op == "delete" else 2)]
                items.append((op, action[op], chunk))
                i += len(chunk)
            kept = [chunk for n, (_, _, chunk) in enumerate(items) if n not in wire.reject_items]
            sent = b"\n".join(line for chunk in kept for line in chunk) + b"\n"
            real = super().perform_request(method, target, sent, headers, request_timeout)
            answered = iter(json.loads(real.body)["items"])
            merged = [
                _rejection(op, action) if n in wire.reject_items else next(answered)
                for n, (op, action, _) in enumerate(items)
            ]
            return _json_response(self, 200, {"took": 1, "errors": True, "items": merged})

    return Node


def _instrumented_index(es_target: EsTarget, wire: Wire, **kwargs: Any) -> ElasticIndex:
    client = es_target.client(node_class=instrumented(es_target.node_class, wire))
    return es_target.index(client, **kwargs)


def _keys(idx: ElasticIndex, text: str, scope: Scope = EVERYTHING, **kw: Any) -> set[tuple[str, int]]:
    out: set[tuple[str, int]] = set()
    cursor = None
    while True:
        result = idx.search(SearchQuery(text=text, limit=50, cursor=cursor, fuzzy=False, **kw), scope)
        out |= {(h.dossier_id, h.page) for h in result.hits}
        cursor = result.next_cursor
        if cursor is None:
            return out


def _marker_page(dossier_id: str, text: str) -> PageDoc:
    return PageDoc(dossier_id=dossier_id, page=1, text=text, office="OF01", status="archived")


# -- layout: template, alias, first write -----------------------------------------------------------


def test_template_holds_the_cjk_bigram_analyzer(es_target: EsTarget, small: list[PageDoc]) -> None:
    idx = es_target.index()
    idx.add(small[:3])
    idx.commit()
    es = es_target.client()
    found = es.indices.get_index_template(name=idx.template)["index_templates"]
    assert len(found) == 1
    template = found[0]["index_template"]
    assert template["index_patterns"] == [f"{idx.alias}-*"]
    settings = template["template"]["settings"]
    analyzer = settings.get("index", settings)["analysis"]["analyzer"][ANALYZER]
    assert analyzer["tokenizer"] == "standard"
    assert analyzer["filter"] == ["cjk_width", "lowercase", "cjk_bigram"]

    (live,) = es.indices.get_alias(name=idx.alias)
    assert live.startswith(f"{idx.alias}-")
    props = es.indices.get_mapping(index=live)[live]["mappings"]["properties"]
    assert props["text"]["analyzer"] == ANALYZER and props["text"]["fields"]["exact"]["type"] == "wildcard"
    assert {props[f]["type"] for f in ("dossier_id", "office", "status", "codes", "names", "key")} == {"keyword"}
    assert props["date_start"]["type"] == "date" and props["page"]["type"] == "integer"
    tokens = es.indices.analyze(index=live, analyzer=ANALYZER, text="社会保险")["tokens"]
    assert [t["token"] for t in tokens] == ["社会", "会保", "保险"]


def test_reads_before_the_first_write_are_empty(es_target: EsTarget) -> None:
    idx = es_target.index()
    assert idx.count() == 0
    assert list(idx.dossier_ids()) == []
    assert idx.pages_of("d0000000") == []
    result = idx.search(SearchQuery(text="审核", facets=True), EVERYTHING)
    assert result.total == 0 and result.hits == [] and result.facets == {f: {} for f in FACET_FIELDS}
    idx.delete_dossier("d0000000")  # nothing to delete, no index created for it
    idx.commit()
    assert not es_target.client().indices.exists_alias(name=idx.alias)


def test_pages_of_returns_the_stored_pages(loaded: ElasticIndex, small: list[PageDoc]) -> None:
    dossier = next(d.dossier_id for d in small if d.page == 2)
    expected = [d for d in small if d.dossier_id == dossier]
    got = loaded.pages_of(dossier)
    assert [p.page for p in got] == [d.page for d in expected]
    for want, have in zip(expected, got, strict=True):
        assert have == dataclasses.replace(want, text=normalize(want.text))


def test_dossier_ids_page_through_the_composite_aggregation(es_target: EsTarget) -> None:
    docs = [_marker_page(f"x{n:05d}", f"第{n}号") for n in range(1_203)]
    idx = es_target.index(bulk_chunk=2_000)
    idx.add(docs)
    idx.commit()
    assert list(idx.dossier_ids()) == sorted(d.dossier_id for d in docs)
    assert idx.count() == len(docs)


# -- writes --------------------------------------------------------------------------------------


def test_writes_apply_in_order_before_commit(es_target: EsTarget, small: list[PageDoc]) -> None:
    idx = es_target.index()
    pages = [d for d in small if d.dossier_id == small[0].dossier_id]
    idx.add(small)
    idx.delete_dossier(pages[0].dossier_id)  # the pages added just before go too (not yet committed)
    idx.commit()
    assert pages[0].dossier_id not in set(idx.dossier_ids())
    idx.add(pages)
    idx.replace_dossier(pages[0].dossier_id, pages[:1])
    idx.replace_dossier(pages[0].dossier_id, [dataclasses.replace(pages[0], text="最后一次替换的内容")])
    idx.commit()
    got = idx.pages_of(pages[0].dossier_id)
    assert [(p.page, p.text) for p in got] == [(1, "最后一次替换的内容")]
    assert idx.count() == len(small) - len(pages) + 1
    with pytest.raises(Invalid):
        idx.replace_dossier("other", pages)


def test_bulk_retries_whole_requests_refused_with_429(es_target: EsTarget, small: list[PageDoc]) -> None:
    wire = Wire(reject_bulk_requests=2)
    idx = _instrumented_index(es_target, wire, initial_backoff=0.05, max_retries=3)
    idx.add(small[:10])
    idx.commit()
    assert idx.count() == 10
    bulks = wire.bulk_requests()
    assert len(bulks) == 3 and all(len(b) == 20 for b in bulks)  # sent again whole, not by the transport
    gaps = [b - a for a, b in zip(wire.bulk_times, wire.bulk_times[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # exponential backoff


def test_bulk_retries_only_the_items_refused_with_429(es_target: EsTarget, small: list[PageDoc]) -> None:
    wire = Wire(reject_items={1, 4})
    idx = _instrumented_index(es_target, wire, initial_backoff=0.05)
    docs = small[:8]
    idx.add(docs)
    idx.commit()
    assert idx.count() == len(docs)
    assert {p.dossier_id for p in docs} == set(idx.dossier_ids())
    first, retry = wire.bulk_requests()
    assert len(first) == 16
    assert [a["index"]["_id"] for a in retry[::2]] == [docs[1].key, docs[4].key]
    assert wire.bulk_times[1] - wire.bulk_times[0] >= 0.05


def test_bulk_gives_up_loudly_after_max_retries(es_target: EsTarget, small: list[PageDoc]) -> None:
    wire = Wire(reject_bulk_requests=100)
    idx = _instrumented_index(es_target, wire, initial_backoff=0.01, max_retries=2)
    idx.add(small[:3])
    with pytest.raises(Unavailable) as raised:
        idx.commit()
    assert raised.value.code == "search_unavailable"
    assert len(wire.bulk_requests()) == 3


def test_a_refused_document_raises_and_the_others_are_kept(es_target: EsTarget, small: list[PageDoc]) -> None:
    idx = es_target.index()
    bad = dataclasses.replace(small[0], page=2**40)  # out of the integer field's range
    idx.add([*small[1:6], bad])
    with pytest.raises(IndexingFailed) as raised:
        idx.commit()
    assert [(key, status) for key, status, _ in raised.value.failures] == [(bad.key, 400)]
    assert raised.value.code == "search_index_failed"
    idx.commit()
    assert idx.count() == 5


@pytest.mark.real_es
@needs_real_es
def test_an_immense_keyword_is_refused_by_a_real_cluster(es_target: EsTarget, small: list[PageDoc]) -> None:
    """Real Elasticsearch refuses keyword terms over 32766 bytes (osmem accepts them)."""
    idx = es_target.index()
    idx.add([small[1], dataclasses.replace(small[0], archive_number="档" * 12_000)])
    with pytest.raises(IndexingFailed) as raised:
        idx.commit()
    assert [key for key, _, _ in raised.value.failures] == [small[0].key]


# -- rebuild ---------------------------------------------------------------------------------------


def test_rebuild_swaps_the_alias_while_searches_keep_answering(es_target: EsTarget) -> None:
    old_docs = [*generate_pages(15, seed=3), _marker_page("old-0001", "旧索引独有的标记")]
    new_docs = [*generate_pages(20, seed=4), _marker_page("new-0001", "新索引独有的标记")]
    idx = es_target.index(bulk_chunk=8)
    es = es_target.client()
    idx.add(old_docs)
    idx.commit()
    (old_index,) = es.indices.get_alias(name=idx.alias)
    seen_midway: list[tuple[int, int, int, str | None]] = []

    def docs() -> Iterator[PageDoc]:
        for n, doc in enumerate(new_docs):
            if n == len(new_docs) // 2:  # a few chunks are in the new index already
                building = [i for i in es.indices.get(index=f"{idx.alias}-*") if i != old_index]
                refresh = es.indices.get_settings(index=building[0])[building[0]]["settings"]["index"]
                seen_midway.append(
                    (
                        idx.search(SearchQuery(text="旧索引独有的标记"), EVERYTHING).total,
                        idx.search(SearchQuery(text="新索引独有的标记"), EVERYTHING).total,
                        idx.count(),
                        refresh.get("refresh_interval"),
                    )
                )
            yield doc

    assert idx.rebuild(docs()) == len(new_docs)
    assert seen_midway == [(1, 0, len(old_docs), "-1")]
    (new_index,) = es.indices.get_alias(name=idx.alias)
    assert new_index != old_index and not es.indices.exists(index=old_index)
    settings = es.indices.get_settings(index=new_index)[new_index]["settings"]["index"]
    assert settings.get("refresh_interval") in (None, "1s")  # back to the default
    assert idx.search(SearchQuery(text="旧索引独有的标记"), EVERYTHING).total == 0
    assert idx.search(SearchQuery(text="新索引独有的标记"), EVERYTHING).total == 1
    assert idx.count() == len(new_docs)
    assert list(idx.dossier_ids()) == sorted({d.dossier_id for d in new_docs})
    # Writes after the swap go to the new index.
    idx.add([_marker_page("later-01", "重建之后写入的页面")])
    idx.commit()
    assert idx.search(SearchQuery(text="重建之后写入的页面"), EVERYTHING).total == 1


def test_a_failed_rebuild_leaves_the_old_index_live(es_target: EsTarget) -> None:
    idx = es_target.index(bulk_chunk=4)
    es = es_target.client()
    idx.add([_marker_page("old-0001", "旧索引独有的标记"), *generate_pages(5, seed=8)])
    idx.commit()
    (old_index,) = es.indices.get_alias(name=idx.alias)

    def docs() -> Iterator[PageDoc]:
        yield from generate_pages(6, seed=9)
        raise RuntimeError("records database went away")

    with pytest.raises(RuntimeError):
        idx.rebuild(docs())
    assert list(es.indices.get(index=f"{idx.alias}-*")) == [old_index]
    assert list(es.indices.get_alias(name=idx.alias)) == [old_index]
    assert idx.search(SearchQuery(text="旧索引独有的标记"), EVERYTHING).total == 1


# -- the search request ----------------------------------------------------------------------------


def test_scope_and_filters_are_bool_filter_clauses_of_the_one_request(
    es_target: EsTarget, small: list[PageDoc]
) -> None:
    wire = Wire()
    idx = _instrumented_index(es_target, wire)
    idx.add(small)
    idx.commit()
    scope = Scope(offices=frozenset({"OF02"}), statuses=frozenset({"archived"}))
    lo, hi = datetime.date(2008, 1, 1), datetime.date(2020, 1, 1)
    wire.requests.clear()
    result = idx.search(
        SearchQuery(
            text="社会", facets=True, business_types=frozenset({small[0].business_type}), date_from=lo, date_to=hi
        ),
        scope,
    )
    (body,) = wire.bodies("/_search")
    assert "post_filter" not in body and "from" not in body
    filters = body["query"]["script_score"]["query"]["bool"]["filter"]
    assert {"terms": {"office": ["OF02"]}} in filters
    assert {"terms": {"status": ["archived"]}} in filters
    assert {"terms": {"business_type": [small[0].business_type]}} in filters
    assert json.dumps({"range": {"date_start": {"lte": hi.isoformat()}}}) in json.dumps(filters)
    assert body["track_total_hits"] is True and set(body["aggs"]) >= {"office", "status"}
    expected = {
        (d.dossier_id, d.page)
        for d in small
        if d.office == "OF02"
        and d.status == "archived"
        and d.business_type == small[0].business_type
        and "社会" in normalize(d.text)
        and d.date_start <= hi  # type: ignore[operator]
        and d.date_end >= lo  # type: ignore[operator]
    }
    assert result.total == len(expected) and {(h.dossier_id, h.page) for h in result.hits} == expected
    assert set(result.facets["office"]) <= {"OF02"}

    # Sorted by date, every clause (the text terms too) is a filter; paging uses search_after.
    wire.requests.clear()
    first = idx.search(SearchQuery(text="社会", sort="date", limit=2), scope)
    idx.search(SearchQuery(text="社会", sort="date", limit=2, cursor=first.next_cursor), scope)
    page1, page2 = wire.bodies("/_search")
    assert {"terms": {"office": ["OF02"]}} in page1["query"]["bool"]["filter"]
    assert "search_after" not in page1 and len(page2["search_after"]) == 2 and "from" not in page2


def test_undated_pages_match_the_embedded_backend(es_target: EsTarget, tmp_path: Path, small: list[PageDoc]) -> None:
    """Sort by date puts undated pages last and pages through them; date filters treat them alike."""
    docs = [
        dataclasses.replace(d, date_start=None, date_end=None) if n % 3 == 0 else d for n, d in enumerate(small[:30])
    ]
    docs[1] = dataclasses.replace(docs[1], date_end=None)
    es_idx = es_target.index()
    tv_idx = TantivyIndex(tmp_path / "tv")
    for idx in (es_idx, tv_idx):
        idx.add(docs)
        idx.commit()
    lo, hi = datetime.date(2012, 1, 1), datetime.date(2016, 1, 1)
    for kw in ({"date_to": hi}, {"date_from": lo}, {"date_from": lo, "date_to": hi}, {}):
        assert _keys(es_idx, "", **kw) == _keys_tantivy(tv_idx, **kw), kw
    keys, cursor = [], None
    while True:
        page = es_idx.search(SearchQuery(sort="date", limit=4, cursor=cursor), EVERYTHING)
        keys += [(h.dossier_id, h.page) for h in page.hits]
        if (cursor := page.next_cursor) is None:
            break
    by_key = {(d.dossier_id, d.page): d for d in docs}
    assert len(keys) == len(set(keys)) == len(docs)
    dates = [by_key[k].date_start for k in keys]
    dated = [d for d in dates if d is not None]
    assert dated == sorted(dated, reverse=True) and dates[len(dated) :] == [None] * (len(dates) - len(dated))
    tv_idx.close()


def _keys_tantivy(idx: TantivyIndex, **kw: Any) -> set[tuple[str, int]]:
    result = idx.search(SearchQuery(limit=200, **kw), EVERYTHING)
    assert result.next_cursor is None
    return {(h.dossier_id, h.page) for h in result.hits}


def test_snippets_mark_terms_inside_words(loaded: ElasticIndex, small: list[PageDoc]) -> None:
    year = str(small[0].date_start.year)  # type: ignore[union-attr]
    hits = loaded.search(SearchQuery(text=f"审核 {year}", limit=50), EVERYTHING).hits
    for hit in hits:
        assert f"【{year}】" in hit.snippet or "【审核】" in hit.snippet
        assert "【审核】【" not in hit.snippet  # adjacent bigram marks are merged


def test_a_cursor_is_bound_to_its_query(loaded: ElasticIndex) -> None:
    first = loaded.search(SearchQuery(text="审核", limit=2), EVERYTHING)
    assert first.next_cursor
    second = loaded.search(SearchQuery(text="审核", limit=2, cursor=first.next_cursor), EVERYTHING)
    assert not {(h.dossier_id, h.page) for h in first.hits} & {(h.dossier_id, h.page) for h in second.hits}
    for cursor, query in (
        (first.next_cursor, SearchQuery(text="审核", limit=2, sort="date")),
        (first.next_cursor, SearchQuery(text="审核", limit=2, fuzzy=False)),
        ("eyJhIjpbMSwieCJdLCJuIjowLCJmIjoiMCJ9", SearchQuery(text="审核")),
    ):
        with pytest.raises(Invalid) as raised:
            loaded.search(dataclasses.replace(query, cursor=cursor), EVERYTHING)
        assert raised.value.code == "search_bad_cursor"


# -- failures ------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    "call",
    [
        lambda idx: idx.search(SearchQuery(text="审核"), EVERYTHING),
        lambda idx: idx.count(),
        lambda idx: list(idx.dossier_ids()),
        lambda idx: (idx.add(generate_pages(1)), idx.commit()),
    ],
    ids=["search", "count", "dossier_ids", "write"],
)
def test_an_unreachable_cluster_is_unavailable(call: Callable[[ElasticIndex], Any]) -> None:
    idx = ElasticIndex.from_url(f"http://127.0.0.1:{_closed_port()}", "t-unreachable", max_retries=0)
    with pytest.raises(Unavailable) as raised:
        call(idx)
    assert raised.value.code == "search_unavailable" and "检索服务" in raised.value.message
    idx.close()
