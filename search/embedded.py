"""The embedded search backend: a tantivy index in a local directory.

Page text is pre-tokenised in Python (``search.text.index_tokens``: CJK unigrams + bigrams, whole
words + marked word suffixes, one position per unit) and indexed with positions, so every query
term becomes an exact phrase over consecutive positions; no candidate needs re-checking against the
stored text.  The normalised text is stored for snippets.  Codes (档号, 业务编号, 公民身份号码,
统一社会信用代码) sit in one keyword field ``codes``; person names in ``names`` for fuzzy matching.

Ranking: per term, an exact match (text phrase or code) adds ``EXACT_WEIGHT`` and its BM25 score, a
fuzzy match (one wrong character in an 18-character code or a 2–4 character name) adds 1, so any page
matching more terms exactly ranks above one relying on fuzziness.  Scope, filters and date range are
MUST clauses of the same engine query, so totals, facets and paging all respect them.

One writer per index directory (tantivy holds a lock file); readers reload after each commit.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import tantivy

from archive.errors import Invalid

from .base import ALL, FACET_FIELDS, MAX_LIMIT, PageDoc, Scope, SearchHit, SearchQuery, SearchResult
from .text import SUFFIX_MARK, QueryTerm, build_snippet, index_tokens, normalize, normalize_code, parse_query

EXACT_WEIGHT = 10_000.0
FUZZY_WEIGHT = 1.0
_KEYWORDS = ("dossier_id", "archive_number", "business_type", "category", "office", "status", "retention")
_STORED = ("dossier_id", "archive_number", "business_type", "office", "status")
_NO_DATE = -1  # date fields of a page without dates


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("key", tokenizer_name="raw")
    for name in _KEYWORDS:
        sb.add_text_field(name, stored=name in _STORED, tokenizer_name="raw", fast=True)
    sb.add_text_field("codes", tokenizer_name="raw")
    sb.add_text_field("names", tokenizer_name="raw")
    sb.add_integer_field("page", stored=True)
    sb.add_integer_field("date_start", indexed=True, fast=True)
    sb.add_integer_field("date_end", indexed=True, fast=True)
    sb.add_integer_field("sort_date", fast=True)
    sb.add_text_field("text", stored=True, tokenizer_name="raw", index_option="position")
    return sb.build()


def _day(value: datetime.date | None) -> int:
    return value.toordinal() if value is not None else _NO_DATE


def _regex_literal(text: str) -> str:
    return "".join(c if c.isalnum() else f"\\x{{{ord(c):x}}}" for c in text)


class TantivyIndex:
    """``SearchIndex`` on tantivy; ``path`` is created if missing."""

    def __init__(self, path: Path, writer_heap: int = 256_000_000) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self._schema = _schema()
        self._index = tantivy.Index(self._schema, path=str(path))
        self._writer_heap = writer_heap
        self._writer: tantivy.IndexWriter | None = None

    # -- writes --------------------------------------------------------------------------------

    def _w(self) -> tantivy.IndexWriter:
        if self._writer is None:
            self._writer = self._index.writer(self._writer_heap)
        return self._writer

    def _document(self, doc: PageDoc) -> tantivy.Document:
        norm = normalize(doc.text)
        tokens = [tantivy.Token(t, pos, start, end) for t, pos, start, end in index_tokens(norm)]
        d = tantivy.Document()
        d.add_text("key", doc.key)
        for name in _KEYWORDS:
            d.add_text(name, getattr(doc, name))
        for code in (doc.archive_number, doc.business_number, doc.person_id_number, doc.unit_uscc):
            if code:
                d.add_text("codes", normalize_code(code))
        if doc.person_name:
            d.add_text("names", normalize(doc.person_name))
        d.add_integer("page", doc.page)
        start = _day(doc.date_start)
        d.add_integer("date_start", start)
        d.add_integer("date_end", _day(doc.date_end) if doc.date_end else start)
        # Unique-enough tie-breaker so date order is total and paging by offset is stable.
        d.add_integer("sort_date", (max(start, 0) << 24) | (zlib.crc32(doc.key.encode()) & 0xFFFFFF))
        d.add_pre_tokenized_text("text", tantivy.PreTokenizedString(norm, tokens))
        return d

    def add(self, docs: Iterable[PageDoc]) -> None:
        w = self._w()
        for doc in docs:
            w.delete_documents_by_term("key", doc.key)
            w.add_document(self._document(doc))

    def delete_dossier(self, dossier_id: str) -> None:
        self._w().delete_documents_by_term("dossier_id", dossier_id)

    def replace_dossier(self, dossier_id: str, docs: Iterable[PageDoc]) -> None:
        docs = list(docs)
        if any(d.dossier_id != dossier_id for d in docs):
            raise Invalid("search_dossier_mismatch", "替换的页面不属于该案卷")
        w = self._w()
        w.delete_documents_by_term("dossier_id", dossier_id)
        for doc in docs:
            w.add_document(self._document(doc))

    def commit(self) -> None:
        if self._writer is not None:
            self._writer.commit()
        self._index.reload()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.wait_merging_threads()
            self._writer = None

    # -- reads ---------------------------------------------------------------------------------

    def count(self) -> int:
        return self._index.searcher().num_docs

    def dossier_ids(self) -> Iterator[str]:
        searcher = self._index.searcher()
        size = max(searcher.num_docs, 1)
        agg = searcher.aggregate(tantivy.Query.all_query(), {"d": {"terms": {"field": "dossier_id", "size": size}}})
        yield from sorted(b["key"] for b in agg["d"]["buckets"])

    def search(self, query: SearchQuery, scope: Scope) -> SearchResult:
        if not 1 <= query.limit <= MAX_LIMIT:
            raise Invalid("search_bad_limit", f"每页条数须在 1 到 {MAX_LIMIT} 之间")
        if query.date_from and query.date_to and query.date_from > query.date_to:
            raise Invalid("search_bad_date_range", "起始日期不能晚于截止日期")
        terms = parse_query(query.text)
        fingerprint = _fingerprint(query, scope)
        offset = _decode_cursor(query.cursor, fingerprint)
        if scope.empty:
            return SearchResult(total=0, hits=[], facets={f: {} for f in FACET_FIELDS} if query.facets else {})
        fuzzy = query.fuzzy and query.sort == "relevance"
        clauses = [(tantivy.Occur.Must, self._term_query(t, fuzzy)) for t in terms]
        clauses += [(tantivy.Occur.Must, q) for q in self._filters(query, scope)]
        engine_query = tantivy.Query.boolean_query(clauses) if clauses else tantivy.Query.all_query()

        searcher = self._index.searcher()
        try:
            if query.sort == "date":
                order = tantivy.Order.Desc
                found = searcher.search(
                    engine_query, limit=query.limit, offset=offset, order_by_field="sort_date", order=order
                )
            else:
                found = searcher.search(engine_query, limit=query.limit, offset=offset)
        except ValueError as exc:
            if "max expansions" not in str(exc):
                raise
            # Not yet done: fall back to a superset query verified against the stored text.
            raise Invalid(
                "search_query_too_broad", "检索词两端的数字或字母过短，匹配范围过大，请补充更多字符"
            ) from None
        needles = [t.norm for t in terms]
        floor = EXACT_WEIGHT * len(terms)
        hits = [self._hit(searcher, score, address, needles, query.sort, floor) for score, address in found.hits]
        total = found.count
        next_offset = offset + len(hits)
        cursor = _encode_cursor(next_offset, fingerprint) if hits and next_offset < total else None
        facets = self._facets(searcher, engine_query) if query.facets else {}
        return SearchResult(total=total, hits=hits, facets=facets, next_cursor=cursor)

    def _hit(self, searcher: Any, score: Any, address: Any, needles: list[str], sort: str, floor: float) -> SearchHit:
        doc = searcher.doc(address)
        text = doc.get_first("text") or ""
        fuzzy = sort == "relevance" and needles != [] and float(score) < floor
        return SearchHit(
            dossier_id=doc.get_first("dossier_id"),
            page=int(doc.get_first("page")),
            archive_number=doc.get_first("archive_number") or "",
            business_type=doc.get_first("business_type") or "",
            office=doc.get_first("office") or "",
            status=doc.get_first("status") or "",
            score=float(score) if sort == "relevance" else 0.0,
            snippet=build_snippet(text, needles),
            fuzzy=fuzzy,
        )

    def _facets(self, searcher: Any, engine_query: Any) -> dict[str, dict[str, int]]:
        size = max(searcher.num_docs, 1)
        spec = {f: {"terms": {"field": f, "size": min(size, 65_000)}} for f in FACET_FIELDS}
        agg = searcher.aggregate(engine_query, spec)
        return {f: {b["key"]: int(b["doc_count"]) for b in agg[f]["buckets"]} for f in FACET_FIELDS}

    # -- query building ------------------------------------------------------------------------

    def _text_query(self, term: QueryTerm) -> Any:
        s, us = self._schema, term.units
        if len(us) == 1:
            u = us[0]
            if u.kind == "word":
                return tantivy.Query.regex_query(s, "text", f"{SUFFIX_MARK}?{u.text}.*")
            return tantivy.Query.term_query(s, "text", u.text)
        words: list[tuple[int, str]] = []
        regex = False
        for pos, u in enumerate(us):
            if u.kind == "cjk":
                nxt = us[pos + 1] if pos + 1 < len(us) else None
                if nxt is not None and nxt.kind == "cjk":
                    words.append((pos, u.text + nxt.text))
                elif pos == 0 or us[pos - 1].kind != "cjk":
                    words.append((pos, u.text))
            elif u.kind == "word" and pos == 0:
                words.append((pos, f"{SUFFIX_MARK}?{u.text}"))
                regex = True
            elif u.kind == "word" and pos == len(us) - 1:
                words.append((pos, f"{u.text}.*"))
                regex = True
            else:
                words.append((pos, u.text))
        if regex:
            patterns = [(p, w if "?" in w or w.endswith(".*") else _regex_literal(w)) for p, w in words]
            return tantivy.Query.regex_phrase_query(s, "text", patterns)
        if len(words) == 1:
            return tantivy.Query.term_query(s, "text", words[0][1])
        return tantivy.Query.phrase_query(s, "text", words)

    def _term_query(self, term: QueryTerm, fuzzy: bool) -> Any:
        s, Q = self._schema, tantivy.Query
        exact = [self._text_query(term)]
        if term.code:
            exact.append(Q.term_query(s, "codes", term.code))
        should = [Q.const_score_query(Q.boolean_query([(tantivy.Occur.Should, q) for q in exact]), EXACT_WEIGHT)]
        should.append(exact[0])  # BM25 of the text match orders exact hits among themselves
        if fuzzy:
            loose = []
            if term.fuzzy_code:
                loose.append(Q.fuzzy_term_query(s, "codes", term.code, distance=1, transposition_cost_one=False))
            if term.name_like:
                loose.append(Q.fuzzy_term_query(s, "names", term.norm, distance=1, transposition_cost_one=False))
            should += [Q.const_score_query(q, FUZZY_WEIGHT) for q in loose]
        return Q.boolean_query([(tantivy.Occur.Should, q) for q in should])

    def _filters(self, query: SearchQuery, scope: Scope) -> list[Any]:
        s, Q = self._schema, tantivy.Query
        out: list[Any] = []

        def zero(q: Any) -> Any:
            return Q.const_score_query(q, 0.0)

        if scope.offices is not ALL:
            out.append(zero(Q.term_set_query(s, "office", sorted(scope.offices))))  # type: ignore[arg-type]
        out.append(zero(Q.term_set_query(s, "status", sorted(scope.statuses))))
        for name, values in (
            ("business_type", query.business_types),
            ("category", query.categories),
            ("office", query.offices),
            ("status", query.statuses),
            ("retention", query.retentions),
        ):
            if values:
                out.append(zero(Q.term_set_query(s, name, sorted(values))))
        if query.date_to is not None:
            out.append(zero(Q.range_query(s, "date_start", tantivy.FieldType.Integer, 0, query.date_to.toordinal())))
        if query.date_from is not None:
            out.append(zero(Q.range_query(s, "date_end", tantivy.FieldType.Integer, query.date_from.toordinal(), None)))
        return out


def _fingerprint(query: SearchQuery, scope: Scope) -> str:
    offices = "*" if scope.offices is ALL else sorted(scope.offices)  # type: ignore[arg-type]
    parts = [
        query.text, sorted(query.business_types), sorted(query.categories), sorted(query.offices),
        sorted(query.statuses), sorted(query.retentions), str(query.date_from), str(query.date_to),
        query.sort, query.fuzzy, offices, sorted(scope.statuses),
    ]  # fmt: skip
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()[:16]


def _encode_cursor(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "f": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,200}")


def _decode_cursor(cursor: str | None, fingerprint: str) -> int:
    if cursor is None:
        return 0
    try:
        if not _CURSOR.fullmatch(cursor):
            raise ValueError
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = data["o"]
        if not isinstance(offset, int) or offset < 0 or data["f"] != fingerprint:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise Invalid("search_bad_cursor", "分页游标无效或与本次检索条件不符") from None
    return offset
