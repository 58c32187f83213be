"""The Elasticsearch backend: page documents in an index behind an alias, with the official client only.

Documents
    One document per page (``_id`` = ``PageDoc.key``), for the reasons in ``search.base``: a hit
    names the page to open and its snippet/highlight comes from that page's own text, small
    documents keep highlighting and re-indexing cheap, and every page carries the dossier's fields so
    that scope and filters apply to each page alone.  Codes (档号, 业务编号, 公民身份号码,
    统一社会信用代码, each ``normalize_code``-d) sit in the keyword field ``codes``, the person's name
    (``normalize``-d) in ``names``; ``date_start``/``date_end`` are ``date`` fields; the text is
    stored as ``search.text.normalize`` gives it (for snippets and ``pages_of``).

Index layout
    An index *template* (pattern ``<alias>-*``) holds the settings and mappings; concrete indices are
    named ``<alias>-<UTC timestamp>-<random>`` and the alias points at the live one (as its write
    index).  The first write creates the first concrete index and the alias.  ``rebuild`` loads a new
    concrete index, refreshes it, then moves the alias in one ``update_aliases`` call (remove old +
    add new) and deletes the old index: searches answer from the old content until the swap.
    Writes made through the alias *while* a rebuild runs land in the old index and are lost with it;
    the caller re-queues them (``archive.indexing`` settles only what was queued before).

Exactness
    The contract asks for exact substring semantics over the normalised text: every page whose text
    contains a term is found and no other.  A CJK bigram ``match_phrase`` is exact only for pure CJK
    terms (the standard tokenizer keeps ASCII runs as whole words, so ``2012000`` inside
    ``yw201200000001`` would be missed), and in-memory test servers answer phrase queries on n-grams
    with false positives.  So the text has a ``wildcard`` sub-field (``text.exact``; a field type of
    Elasticsearch's default distribution and of OpenSearch ≥ 2.15) and a term matches through the
    engine-side query ``wildcard: *term*`` on it: the n-gram index finds candidates and the server
    verifies them against the stored value, so the result set, totals, facets and paging are exact
    and nothing is re-checked in Python.  Terms of one or two characters make the server verify
    every page in scope: slower on a very large index, still correct.

Analyzer
    ``text`` itself is analysed with ``archive_cjk``, built from built-in components only: the
    ``standard`` tokenizer, ``cjk_width``, ``lowercase`` and ``cjk_bigram`` (no plugin).  It only
    scores (BM25 orders exact hits among themselves) and highlights; it never decides what matches.
    Where the ``analysis-smartcn`` plugin is installed, replace the analyzer in ``_template_body``
    with ``{"type": "smartcn"}`` (or ``"tokenizer": "smartcn_tokenizer"`` in the custom chain); with
    the IK plugin use ``"tokenizer": "ik_max_word"`` for indexing and ``ik_smart`` as
    ``search_analyzer``.  Then ``rebuild`` once so a new concrete index picks the template up.

Ranking
    Per term, an exact match (wildcard on the text or the code keyword) scores ``EXACT_WEIGHT`` plus
    the BM25 of a ``match`` on ``text``; a fuzzy match (``fuzzy``, one edit, no transpositions, on
    ``codes`` for 18-character ID/USCC-like terms, on ``names`` for 2–4 CJK character terms) scores
    ``FUZZY_WEIGHT``.  A page relying on fuzziness for any term therefore scores below every page
    matching all terms exactly, and is flagged ``SearchHit.fuzzy``.  Scope, filters and the date
    range are ``bool.filter`` clauses of the same query, so totals, facets and paging respect them.

Paging
    ``search_after`` with ``key`` as the last sort value (total order without a point in time);
    the cursor carries the last hit's sort values, how many hits came before, and a fingerprint of
    the query and scope, base64url-encoded.  A ``_score`` sort value only pages correctly when the
    value sent back is exactly the score the engine sorted by: Elasticsearch scores are float32 and
    print round-trippably, but some compatible servers (osmem) sort by a float64 score and print it
    rounded to float32, so ties across a page boundary were skipped.  The relevance query is
    therefore wrapped in ``script_score`` rounding the score down to a multiple of ``1/SCORE_STEPS``
    (exact in float32 and float64 below 2**18), and the cursor stores the float32 value of the
    printed score: exact on both.  (``script_score`` and leading-wildcard queries count as
    "expensive": the cluster must keep the default ``search.allow_expensive_queries: true``.)

Errors
    A cluster that cannot be reached, times out, answers 5xx or stays at 429 raises
    ``archive.errors.Unavailable("search_unavailable")`` (HTTP 503 in the API); documents the
    cluster finally refuses raise ``IndexingFailed`` (also ``Unavailable``) listing each page.

Visibility
    Writes are buffered and sent in bulk (``elasticsearch.helpers.streaming_bulk``: chunked, 429s
    retried with exponential backoff, every final failure raised); ``commit`` flushes and
    refreshes.  A server's periodic refresh may show flushed writes before ``commit``.
"""

from __future__ import annotations

import datetime
import logging
import re
import struct
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from elasticsearch import ApiError, ConnectionError, Elasticsearch, NotFoundError, TransportError, helpers

from archive.errors import Invalid, Unavailable

from .base import ALL, FACET_FIELDS, PageDoc, Scope, SearchHit, SearchQuery, SearchResult
from .paging import bad_cursor, checked_terms, decode_cursor, empty_result, encode_cursor, fingerprint
from .text import MARK_CLOSE, MARK_OPEN, QueryTerm, build_snippet, mark_window, normalize, normalize_code

log = logging.getLogger("archive.search")

EXACT_WEIGHT: Final = 10_000.0
FUZZY_WEIGHT: Final = 1.0
SCORE_STEPS: Final = 64  # scores are rounded down to multiples of 1/64 (see "Paging")
_QUANTISE: Final = f"Math.floor(_score * {SCORE_STEPS}.0) / {SCORE_STEPS}.0"
ANALYZER: Final = "archive_cjk"
TEXT_EXACT: Final = "text.exact"
FACET_SIZE: Final = 10_000  # buckets per facet: more than any field has distinct values
_PAGE_SIZE: Final = 1_000  # documents per request when listing (pages_of, key look-ups)
_KEYWORDS: Final = ("key", "dossier_id", "archive_number", "business_type", "category", "office", "status", "retention")
_EXTRA: Final = ("person_id_number", "person_name", "unit_uscc", "unit_name", "business_number")
_HIT_SOURCE: Final = ["dossier_id", "page", "archive_number", "business_type", "office", "status", "text"]
_UNAVAILABLE: Final = "检索服务暂时不可用，请稍后再试"


class IndexingFailed(Unavailable):
    """Some documents were finally refused by the cluster (after the 429 retries); none is dropped quietly.

    ``failures`` lists ``(key, status, reason)`` for each; the caller keeps the work queued.
    """

    def __init__(self, failures: list[tuple[str, int, str]]) -> None:
        super().__init__("search_index_failed", f"{len(failures)} 个页面未能写入检索索引，详见服务日志")
        self.failures = failures


def _template_body() -> dict[str, Any]:
    """Settings and mappings of every concrete index (through the index template)."""
    keyword = {"type": "keyword"}
    stored_only = {"type": "keyword", "index": False, "doc_values": False}
    day = {"type": "date", "format": "strict_date"}
    properties: dict[str, Any] = {name: keyword for name in _KEYWORDS}
    properties |= {name: stored_only for name in _EXTRA}
    properties |= {
        "codes": keyword,
        "names": keyword,
        "page": {"type": "integer"},
        "date_start": day,
        "date_end": day,
        "text": {"type": "text", "analyzer": ANALYZER, "fields": {"exact": {"type": "wildcard"}}},
    }
    analyzer = {"type": "custom", "tokenizer": "standard", "filter": ["cjk_width", "lowercase", "cjk_bigram"]}
    return {
        "settings": {"analysis": {"analyzer": {ANALYZER: analyzer}}},
        "mappings": {"dynamic": "strict", "properties": properties},
    }


def _source(doc: PageDoc) -> dict[str, Any]:
    codes = (doc.archive_number, doc.business_number, doc.person_id_number, doc.unit_uscc)
    body: dict[str, Any] = {name: getattr(doc, name) for name in _KEYWORDS if name != "key"}
    body |= {name: getattr(doc, name) for name in _EXTRA}
    body |= {
        "key": doc.key,
        "page": doc.page,
        "codes": sorted({normalize_code(c) for c in codes if c}),
        "names": [normalize(doc.person_name)] if doc.person_name else [],
        "date_start": doc.date_start.isoformat() if doc.date_start else None,
        "date_end": doc.date_end.isoformat() if doc.date_end else None,
        "text": normalize(doc.text),
    }
    return body


def _page_doc(src: dict[str, Any]) -> PageDoc:
    def day(value: Any) -> datetime.date | None:
        return datetime.date.fromisoformat(value) if value else None

    fields = {name: src.get(name) or "" for name in (*_KEYWORDS[1:], *_EXTRA)}
    return PageDoc(
        page=int(src["page"]),
        text=src.get("text") or "",
        date_start=day(src.get("date_start")),
        date_end=day(src.get("date_end")),
        **fields,
    )


@contextmanager
def _guard() -> Iterator[None]:
    """Cluster unreachable or overloaded → ``Unavailable``; other API errors (bugs) pass through."""
    try:
        yield
    except (ConnectionError, TransportError) as exc:  # includes ConnectionTimeout
        log.warning("search_unavailable", extra={"error": f"{type(exc).__name__}: {exc}"})
        raise Unavailable("search_unavailable", _UNAVAILABLE) from exc
    except ApiError as exc:
        if exc.status_code == 429 or exc.status_code >= 500:
            log.warning("search_unavailable", extra={"error": f"{exc.status_code}: {exc}"})
            raise Unavailable("search_unavailable", _UNAVAILABLE) from exc
        raise


@dataclass
class _Cursor:
    after: list[Any]
    seen: int


class ElasticIndex:
    """``SearchIndex`` on an Elasticsearch cluster (7.x-compatible APIs of 8.x/9.x servers).

    ``alias`` names the live index; ``bulk_chunk`` documents go per bulk request; a chunk refused
    with 429 is retried ``max_retries`` times after ``initial_backoff`` seconds, doubling up to
    ``max_backoff``.  With ``refresh_on_commit`` (default) ``commit`` makes writes searchable.
    """

    def __init__(
        self,
        client: Elasticsearch,
        alias: str = "archive-pages",
        *,
        refresh_on_commit: bool = True,
        bulk_chunk: int = 500,
        max_retries: int = 5,
        initial_backoff: float = 1.0,
        max_backoff: float = 60.0,
    ) -> None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", alias) or alias in (".", ".."):
            raise ValueError(f"not a valid index alias: {alias!r}")
        self._es = client
        self.alias = alias
        self.template = f"{alias}-template"
        self._refresh_on_commit = refresh_on_commit
        self._bulk_chunk = bulk_chunk
        self._max_retries = max_retries
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._pending: list[dict[str, Any]] = []
        self._unrefreshed: set[str] = set()  # dossiers written (or pending) since the last refresh
        self._ready = False
        self._owns_client = False

    @classmethod
    def from_url(cls, url: str, alias: str = "archive-pages", **client_kwargs: Any) -> ElasticIndex:
        """A client for ``url`` (``api_key``, ``ca_certs``, ... go to ``Elasticsearch``)."""
        client_kwargs.setdefault("request_timeout", 30)
        index = cls(Elasticsearch(url, **client_kwargs), alias)
        index._owns_client = True
        return index

    # -- index management ----------------------------------------------------------------------

    def _new_name(self) -> str:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M%S%f")
        return f"{self.alias}-{stamp}-{uuid.uuid4().hex[:8]}"

    def _put_template(self) -> None:
        body = _template_body()
        self._es.indices.put_index_template(
            name=self.template,
            index_patterns=[f"{self.alias}-*"],
            template=body,
            priority=200,
            meta={"description": "archive page index (search.elastic)"},
        )

    def _live_indices(self) -> list[str]:
        try:
            return sorted(self._es.indices.get_alias(name=self.alias))
        except NotFoundError:
            return []

    def _ensure(self) -> None:
        """Create the template, the first concrete index and the alias unless they exist."""
        if self._ready:
            return
        with _guard():
            self._put_template()
            if not self._es.indices.exists_alias(name=self.alias):
                name = self._new_name()
                try:
                    self._es.indices.create(index=name, aliases={self.alias: {"is_write_index": True}})
                except ApiError:
                    # Another process created the alias first (two write indices are refused).
                    self._es.options(ignore_status=404).indices.delete(index=name)
                    if not self._es.indices.exists_alias(name=self.alias):
                        raise
        self._ready = True

    # -- writes --------------------------------------------------------------------------------

    def _bulk(self, actions: Iterable[dict[str, Any]]) -> int:
        """Send actions in chunks; returns how many succeeded, raises ``IndexingFailed`` for the rest.

        429 (whole request or single items) is retried by the helper with exponential backoff; the
        transport's own immediate retry on 429 is turned off here so the backoff is what applies.
        """
        client = self._es.options(retry_on_status=(502, 503, 504))
        done = 0
        failures: list[tuple[str, int, str]] = []
        with _guard():
            for ok, item in helpers.streaming_bulk(
                client,
                actions,
                chunk_size=self._bulk_chunk,
                max_retries=self._max_retries,
                initial_backoff=self._initial_backoff,
                max_backoff=self._max_backoff,
                raise_on_error=False,
                raise_on_exception=True,
            ):
                op, info = next(iter(item.items()))
                if ok or (op == "delete" and info.get("status") == 404):
                    done += 1
                    continue
                error = info.get("error")
                reason = (error.get("reason") or error.get("type")) if isinstance(error, dict) else error
                failures.append((str(info.get("_id", "")), int(info.get("status", 0)), str(reason)))
        if failures:
            log.error("search_bulk_failed", extra={"count": len(failures), "first": failures[:5]})
            raise IndexingFailed(failures)
        return done

    def _flush(self) -> None:
        if not self._pending:
            return
        self._ensure()
        actions, self._pending = self._pending, []
        self._bulk(actions)

    def _index_action(self, doc: PageDoc) -> dict[str, Any]:
        return {"_op_type": "index", "_index": self.alias, "_id": doc.key, "_source": _source(doc)}

    def add(self, docs: Iterable[PageDoc]) -> None:
        for doc in docs:
            self._pending.append(self._index_action(doc))
            self._unrefreshed.add(doc.dossier_id)
            if len(self._pending) >= self._bulk_chunk:
                self._flush()

    def _keys_of(self, dossier_id: str) -> list[str]:
        """Keys of the dossier's indexed pages, this instance's own unrefreshed writes included."""
        if dossier_id in self._unrefreshed:
            self._flush()
            self._refresh()
        return [str(src["key"]) for src in self._scan({"term": {"dossier_id": dossier_id}}, ["key"])]

    def delete_dossier(self, dossier_id: str) -> None:
        keys = self._keys_of(dossier_id)
        if keys:
            self._pending += [{"_op_type": "delete", "_index": self.alias, "_id": key} for key in keys]
            self._unrefreshed.add(dossier_id)

    def replace_dossier(self, dossier_id: str, docs: Iterable[PageDoc]) -> None:
        docs = list(docs)
        if any(d.dossier_id != dossier_id for d in docs):
            raise Invalid("search_dossier_mismatch", "替换的页面不属于该案卷")
        stale = set(self._keys_of(dossier_id)) - {d.key for d in docs}
        # One bulk stream: the new pages are written before the stale ones go, so no refresh in
        # between shows the dossier without pages.
        self._pending += [self._index_action(d) for d in docs]
        self._pending += [{"_op_type": "delete", "_index": self.alias, "_id": key} for key in sorted(stale)]
        self._unrefreshed.add(dossier_id)
        if len(self._pending) >= self._bulk_chunk:
            self._flush()

    def _refresh(self, index: str | None = None) -> None:
        with _guard():
            try:
                self._es.indices.refresh(index=index or self.alias)
            except NotFoundError:
                if index is not None:
                    raise
        if index is None:
            self._unrefreshed.clear()

    def commit(self) -> None:
        self._flush()
        if self._refresh_on_commit and self._ready:
            self._refresh()

    def rebuild(self, docs: Iterable[PageDoc]) -> int:
        """Load ``docs`` into a new concrete index, then swap the alias atomically and drop the old one."""
        self._flush()
        name = self._new_name()
        with _guard():
            self._put_template()
            self._es.indices.create(index=name, settings={"index": {"refresh_interval": "-1"}})
        try:
            count = self._bulk({"_op_type": "index", "_index": name, "_id": d.key, "_source": _source(d)} for d in docs)
            with _guard():
                self._es.indices.put_settings(index=name, settings={"index": {"refresh_interval": None}})
            self._refresh(name)
            old = self._live_indices()
            actions: list[dict[str, Any]] = [{"remove": {"index": o, "alias": self.alias}} for o in old]
            actions.append({"add": {"index": name, "alias": self.alias, "is_write_index": True}})
            with _guard():
                self._es.indices.update_aliases(actions=actions)
        except BaseException:
            try:  # the alias still points at the old index; only the half-built one goes
                self._es.options(ignore_status=404).indices.delete(index=name)
            except Exception as exc:  # noqa: BLE001 — the original failure matters more
                log.warning("search_rebuild_cleanup_failed", extra={"index": name, "error": repr(exc)})
            raise
        for o in old:
            try:
                self._es.options(ignore_status=404).indices.delete(index=o)
            except (ApiError, TransportError) as exc:  # the swap is done; a leftover index only takes space
                log.error("search_old_index_left", extra={"index": o, "error": repr(exc)})
        self._ready = True
        self._unrefreshed.clear()
        log.info("search_rebuilt", extra={"index": name, "pages": count, "replaced": old})
        return count

    def advice(self) -> str | None:
        return None  # the cluster's analysers need no re-learning as the collection grows

    def close(self) -> None:
        if self._pending:
            log.warning("search_uncommitted_discarded", extra={"actions": len(self._pending)})
            self._pending = []
        if self._owns_client:
            self._es.close()

    # -- reads ---------------------------------------------------------------------------------

    def count(self) -> int:
        with _guard():
            try:
                return int(self._es.count(index=self.alias)["count"])
            except NotFoundError:
                return 0

    def dossier_ids(self) -> Iterator[str]:
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {"size": _PAGE_SIZE, "sources": [{"d": {"terms": {"field": "dossier_id"}}}]}
            if after is not None:
                composite["after"] = after
            with _guard():
                try:
                    resp = self._es.search(index=self.alias, size=0, aggs={"ids": {"composite": composite}})
                except NotFoundError:
                    return
            agg = resp["aggregations"]["ids"]
            yield from (str(b["key"]["d"]) for b in agg["buckets"])
            after = agg.get("after_key")
            if len(agg["buckets"]) < _PAGE_SIZE or after is None:
                return

    def pages_of(self, dossier_id: str) -> list[PageDoc]:
        found = self._scan({"term": {"dossier_id": dossier_id}}, True)
        return sorted((_page_doc(src) for src in found), key=lambda d: d.page)

    def _scan(self, query: dict[str, Any], source: list[str] | bool) -> Iterator[dict[str, Any]]:
        """Every matching document's source, in key order, paging with ``search_after``."""
        after: list[Any] | None = None
        while True:
            with _guard():
                try:
                    resp = self._es.search(
                        index=self.alias,
                        query=query,
                        sort=[{"key": "asc"}],
                        size=_PAGE_SIZE,
                        source=source,
                        search_after=after,
                        track_total_hits=False,
                    )
                except NotFoundError:
                    return
            hits = resp["hits"]["hits"]
            yield from (h["_source"] for h in hits)
            if len(hits) < _PAGE_SIZE:
                return
            after = hits[-1]["sort"]

    def search(self, query: SearchQuery, scope: Scope) -> SearchResult:
        terms = checked_terms(query)
        print_ = fingerprint(query, scope)
        cursor = _decode_cursor(query.cursor, print_, query.sort)
        if scope.empty:
            return empty_result(query)
        body = self._request_body(query, scope, terms, cursor)
        with _guard():
            try:
                resp = self._es.search(index=self.alias, **body)
            except NotFoundError:
                return SearchResult(total=0, hits=[], facets={f: {} for f in FACET_FIELDS} if query.facets else {})
            except ApiError as exc:
                if cursor is not None and exc.status_code == 400:
                    raise bad_cursor() from None
                raise
        found = resp["hits"]["hits"]
        total = int(resp["hits"]["total"]["value"])
        needles = [t.norm for t in terms]
        floor = EXACT_WEIGHT * len(terms)
        hits = [self._hit(h, needles, query.sort, floor) for h in found]
        seen = (cursor.seen if cursor else 0) + len(hits)
        next_cursor = None
        if hits and seen < total:
            after = list(found[-1]["sort"])
            if query.sort == "relevance":
                after[0] = _float32(after[0])
            next_cursor = encode_cursor({"a": after, "n": seen}, print_)
        facets: dict[str, dict[str, int]] = {}
        if query.facets:
            aggs = resp["aggregations"]
            facets = {f: {str(b["key"]): int(b["doc_count"]) for b in aggs[f]["buckets"]} for f in FACET_FIELDS}
        return SearchResult(total=total, hits=hits, facets=facets, next_cursor=next_cursor)

    def _hit(self, hit: dict[str, Any], needles: list[str], sort: str, floor: float) -> SearchHit:
        src = hit["_source"]
        score = float(hit.get("_score") or 0.0)
        text = src.get("text") or ""
        fragments = (hit.get("highlight") or {}).get("text") or []
        snippet = _highlight_snippet(fragments[0], text, needles) if fragments else None
        return SearchHit(
            dossier_id=str(src["dossier_id"]),
            page=int(src["page"]),
            archive_number=src.get("archive_number") or "",
            business_type=src.get("business_type") or "",
            office=src.get("office") or "",
            status=src.get("status") or "",
            score=score if sort == "relevance" else 0.0,
            snippet=snippet if snippet is not None else build_snippet(text, needles),
            fuzzy=sort == "relevance" and needles != [] and score < floor,
        )

    # -- query building ------------------------------------------------------------------------

    def _request_body(
        self, query: SearchQuery, scope: Scope, terms: list[QueryTerm], cursor: _Cursor | None = None
    ) -> dict[str, Any]:
        """The keyword arguments of the one ``search`` request answering ``query`` within ``scope``."""
        relevance = query.sort == "relevance"
        fuzzy = query.fuzzy and relevance
        filters = _filters(query, scope)
        if relevance:
            scored = {"bool": {"must": [_term_query(t, fuzzy) for t in terms], "filter": filters}}
            engine: dict[str, Any] = {"script_score": {"query": scored, "script": {"source": _QUANTISE}}}
            sort: list[Any] = [{"_score": {"order": "desc"}}, {"key": {"order": "asc"}}]
        else:  # nothing to score: every clause is a filter
            engine = {"bool": {"filter": [_exact(t) for t in terms] + filters}}
            sort = [{"date_start": {"order": "desc", "missing": "_last"}}, {"key": {"order": "asc"}}]
        body: dict[str, Any] = {
            "query": engine,
            "sort": sort,
            "size": query.limit,
            "track_total_hits": True,
            "track_scores": relevance,
            "source": _HIT_SOURCE,
        }
        if cursor is not None:
            body["search_after"] = cursor.after
        if terms:
            phrases = [{"match_phrase": {"text": t.norm}} for t in terms]
            body["highlight"] = {
                "pre_tags": [MARK_OPEN],
                "post_tags": [MARK_CLOSE],
                "fields": {"text": {"number_of_fragments": 1, "fragment_size": 60, "no_match_size": 0}},
                "highlight_query": {"bool": {"should": phrases}},
            }
        if query.facets:
            body["aggs"] = {f: {"terms": {"field": f, "size": FACET_SIZE}} for f in FACET_FIELDS}
        return body


def _wildcard_literal(text: str) -> str:
    return re.sub(r"([\\*?])", r"\\\1", text)


def _exact(term: QueryTerm) -> dict[str, Any]:
    """Exact substring of the normalised text, or the code keyword equal to the term."""
    should: list[dict[str, Any]] = [{"wildcard": {TEXT_EXACT: {"value": f"*{_wildcard_literal(term.norm)}*"}}}]
    if term.code:
        should.append({"term": {"codes": term.code}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def _term_query(term: QueryTerm, fuzzy: bool) -> dict[str, Any]:
    """Matches exactly when the term matches exactly (or fuzzily when allowed); scored as in the module doc."""
    exact = {
        "bool": {
            "must": [{"constant_score": {"filter": _exact(term), "boost": EXACT_WEIGHT}}],
            "should": [{"match": {"text": {"query": term.norm}}}],  # BM25 orders exact hits
        }
    }
    loose: list[dict[str, Any]] = []
    if fuzzy and term.fuzzy_code:
        loose.append({"fuzzy": {"codes": {"value": term.code, "fuzziness": 1, "transpositions": False}}})
    if fuzzy and term.name_like:
        loose.append({"fuzzy": {"names": {"value": term.norm, "fuzziness": 1, "transpositions": False}}})
    if not loose:
        return exact
    should = [exact] + [{"constant_score": {"filter": q, "boost": FUZZY_WEIGHT}} for q in loose]
    return {"bool": {"should": should, "minimum_should_match": 1}}


def _filters(query: SearchQuery, scope: Scope) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if scope.offices is not ALL:
        out.append({"terms": {"office": sorted(scope.offices)}})  # type: ignore[arg-type]
    out.append({"terms": {"status": sorted(scope.statuses)}})
    for name, values in query.field_filters():
        out.append({"terms": {name: sorted(values)}})
    # Overlap of [date_start, date_end] with [date_from, date_to], as the embedded backend has it: a
    # page without dates matches no date range, a missing date_end is date_start.
    if query.date_to is not None:
        out.append({"range": {"date_start": {"lte": query.date_to.isoformat()}}})
    if query.date_from is not None:
        lower = query.date_from.isoformat()
        no_end = {"bool": {"must_not": [{"exists": {"field": "date_end"}}]}}
        start_only = {"bool": {"filter": [no_end, {"range": {"date_start": {"gte": lower}}}]}}
        ends = {"range": {"date_end": {"gte": lower}}}
        out.append({"bool": {"should": [ends, start_only], "minimum_should_match": 1}})
    return out


def _highlight_snippet(fragment: str, text: str, needles: list[str]) -> str | None:
    """A snippet over the window the server highlighted, marked the way ``build_snippet`` marks.

    The server picks the passage; the marks are redone here from the query's terms, because a
    bigram analyzer marks pieces of a term (``【审核】【意见】``) and nothing inside ASCII words.  None
    (fall back to ``build_snippet``) when the passage is not a piece of the stored text or holds no
    term.
    """
    if MARK_OPEN not in fragment:
        return None
    plain = fragment.replace(MARK_OPEN, "").replace(MARK_CLOSE, "")
    start = text.find(plain)
    if start < 0 or not plain.strip():
        return None
    return mark_window(text, needles, start, start + len(plain))


def _float32(value: float) -> float:
    """The float32 nearest ``value``, exactly (``10000.203`` → ``10000.203125``)."""
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def _decode_cursor(cursor: str | None, print_: str, sort: str) -> _Cursor | None:
    if cursor is None:
        return None
    data = decode_cursor(cursor, print_)
    after, seen = data.get("a"), data.get("n")
    number = int if sort == "date" else (int, float)
    if (
        not isinstance(seen, int)
        or isinstance(seen, bool)
        or seen < 0
        or not isinstance(after, list)
        or len(after) != 2
        or isinstance(after[0], bool)
        or not isinstance(after[0], number)
        or not isinstance(after[1], str)
    ):
        raise bad_cursor()
    return _Cursor(after, seen)


__all__ = ["ElasticIndex", "IndexingFailed"]
