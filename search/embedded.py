"""The embedded search backend: a tantivy index in a local directory.

Index layout.  Page text is normalised (``search.text.normalize``) and indexed as one token per
character position (``search.grams``): a bigram, or a four-character gram where that gram is frequent.
The tokens are written as one space-separated string that tantivy's built-in ``whitespace`` tokenizer
splits, so tokenising costs Python one string per page, not one object per token.  A query term is a
phrase of slots at fixed offsets that pins every character; a slot near the term's end may list
several tokens (a regex phrase).  A page matches exactly when its normalised text contains the term,
whatever the term's edges: no query is refused as too broad and no candidate is re-checked against
the stored text.  Each generation learns its frequent grams from the first pages of ``rebuild`` and
keeps them in ``grams.json``; a generation started empty has none (bigrams only, still exact) until
``archive search reindex``.  The normalised text is stored (GB18030 bytes, lz4 in 64 KiB blocks) for
snippets and ``pages_of``.  Codes (档号, 业务编号, 公民身份号码, 统一社会信用代码) sit in one keyword
field ``codes``; person names in ``names`` for fuzzy matching.

Ranking.  Exact hits (every term found in the text or equal to a code) come first, by BM25; then,
when fuzzy matching applies (an 18-character code or a 2–4 character name, ``fuzzy`` on, relevance
order), the pages that need one wrong character for some term, from a second engine query that
excludes the exact ones, those matching more terms exactly first.  Scope, filters and date range are
MUST clauses of the same engine queries, so totals, facets and paging all respect them; a scope or
filter that admits every value present in the index is left out.

Paging.  Date order pages with a search-after cursor (the last sort key and how many hits with that
key were already returned), so every page costs the same.  Relevance order pages by offset, which
costs O(offset): cursors deeper than ``MAX_RELEVANCE_DEPTH`` hits are refused (``search_page_too_deep``;
the python binding has no search-after on scores); date order reaches every hit.  A cursor carries
the fingerprint of its query and scope.

Generations.  ``path`` holds ``CURRENT`` (JSON naming the live generation directory and the index
format) and the generation directories.  ``rebuild`` writes a new generation beside the live one while
searches keep answering from it, then replaces ``CURRENT`` atomically (``os.replace``) and removes the
old generation.  Other ``TantivyIndex`` objects on the same path (other processes) follow ``CURRENT``
on their next read; writes they make to the old generation during a rebuild are lost with it.  A
directory in an older layout or format is left alone and a new, empty generation is started (the
drift check against the records database then shows every dossier missing: rebuild).

One writer per generation (tantivy holds a lock file): a write takes it and ``commit`` releases it,
so processes sharing the directory take turns; one that finds it busy gets an error and its caller
retries (``archive.indexing`` keeps the work queued).  Readers reload after each commit.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import tantivy

from archive.errors import Invalid

from .base import ALL, FACET_FIELDS, PageDoc, Scope, SearchHit, SearchQuery, SearchResult
from .grams import (
    LONG,
    PRODUCT_POLICY,
    SAMPLE_CHARS,
    SAMPLE_PAGES,
    SPACE_MARK,
    STARTING_LAYOUT,
    GramLayout,
    LearnPolicy,
    Slot,
    learn,
)
from .paging import bad_cursor, checked_terms, decode_cursor, empty_result, encode_cursor, fingerprint
from .text import QueryTerm, build_snippet, normalize, normalize_code

log = logging.getLogger(__name__)

FORMAT: Final = 3  # bump when the schema or the token layout changes
LAYOUT_FILE: Final = "grams.json"  # a generation's frequent grams (search.grams)
CURRENT_FILE: Final = "CURRENT"
_GENERATION = re.compile(r"gen-(\d{6})-[0-9a-f]{8}")
# Writer memory budget of ``rebuild`` (allocated as documents are buffered): a segment is flushed each
# time it is spent, and the python binding can neither merge on demand nor tune the merge policy
# (which waits for 8 segments of a size).  1M generated pages make one segment with 2 GB, five with
# 256 MB: 1.46x the raw text instead of 1.34x (a term dictionary per segment), and one-character
# queries twice as slow (an automaton walk per segment).  One indexing thread: a second one makes
# more segments for ~10 % more speed, and Python's tokenising needs the other core.
REBUILD_HEAP: Final = 2_000_000_000
DOCSTORE_BLOCKSIZE: Final = 65_536  # lz4 blocks: 16 KiB (tantivy's default) stores 15 % more
# Relevance paging is by offset and costs O(offset); deeper cursors are refused (date order pages
# with search-after instead).  Elasticsearch's default result window is the same.
MAX_RELEVANCE_DEPTH: Final = 10_000
# Date order pages by offset up to here (a top-k heap of offset + limit), then by search-after (a range
# filter on the sort key: a flat cost per page, however deep).
DATE_OFFSET_PAGING: Final = 2_000
EXACT_WEIGHT: Final = 10.0  # fuzzy-only hits: per term, an exact match outranks a fuzzy one
FUZZY_WEIGHT: Final = 1.0
_KEYWORDS = ("dossier_id", "archive_number", "business_type", "category", "office", "status", "retention")
_STORED = ("dossier_id", "archive_number", "business_type", "office", "status")
_GB18030, _UTF8 = b"G", b"U"  # the stored text's encoding (first byte)
# ``advice``: suggest a rebuild once the index holds this many pages and this many times its sample.
RELEARN_MIN_PAGES: Final = 20_000
RELEARN_GROWTH: Final = 4
# A term found as a token prefix is OR-ed over the tokens it starts, up to this many (else a regex).
MAX_PREFIX_TERMS: Final = 16
_NO_DATE = -1  # date fields of a page without dates
_TIE_BITS = 42  # sort_date = day << _TIE_BITS | hash of the page key


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("key", tokenizer_name="raw", index_option="basic")
    for name in _KEYWORDS:
        sb.add_text_field(name, stored=name in _STORED, tokenizer_name="raw", fast=True, index_option="basic")
    sb.add_text_field("codes", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("names", tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("page", stored=True)
    sb.add_integer_field("date_start", fast=True)
    sb.add_integer_field("date_end", fast=True)
    sb.add_integer_field("sort_date", fast=True)
    sb.add_text_field("text", tokenizer_name="whitespace", index_option="position")
    sb.add_bytes_field("body", stored=True)
    return sb.build()


def _day(value: datetime.date | None) -> int:
    return value.toordinal() if value is not None else _NO_DATE


def _sort_key(day: int, key: str) -> int:
    tie = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") >> (64 - _TIE_BITS)
    return (max(day, 0) << _TIE_BITS) | tie


def _literal(token: str) -> str:
    return "".join(f"\\x{{{ord(c):x}}}" for c in token)


def _slot_regex(slot: Slot) -> str:
    return _literal(slot.tokens[0]) if len(slot.tokens) == 1 else f"(?:{'|'.join(map(_literal, slot.tokens))})"


@dataclass(frozen=True)
class _Cursor:
    offset: int = 0  # relevance: hits already returned
    after: int | None = None  # date: sort key of the last hit returned
    ties: int = 0  # date: hits returned with that sort key
    seen: int = 0  # date: hits returned before this page


class TantivyIndex:
    """``SearchIndex`` on tantivy; ``path`` is created if missing."""

    def __init__(
        self,
        path: Path,
        writer_heap: int = 256_000_000,
        writer_threads: int = 1,
        rebuild_heap: int = REBUILD_HEAP,
        grams: LearnPolicy = PRODUCT_POLICY,
    ) -> None:
        self._root = Path(path)
        self._root.mkdir(parents=True, exist_ok=True)
        self._schema = _schema()
        self._writer_heap = writer_heap
        self._rebuild_heap = max(rebuild_heap, writer_heap)
        self._writer_threads = writer_threads
        self._grams = grams
        self._writer: tantivy.IndexWriter | None = None
        self._current_stat: tuple[int, int, int] | None = None
        self._generation = ""
        self._layout = STARTING_LAYOUT
        self._index: tantivy.Index = self._open_current()

    # -- generations ---------------------------------------------------------------------------

    def _stat_current(self) -> tuple[int, int, int] | None:
        try:
            st = (self._root / CURRENT_FILE).stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _read_current(self) -> str | None:
        try:
            data = json.loads((self._root / CURRENT_FILE).read_text())
        except (FileNotFoundError, ValueError):
            return None
        name = data.get("generation") if isinstance(data, dict) else None
        if not isinstance(name, str) or not _GENERATION.fullmatch(name) or not (self._root / name).is_dir():
            return None
        if data.get("format") != FORMAT:
            log.warning("search_index_format_outdated", extra={"path": str(self._root), "format": data.get("format")})
            return None
        if _read_layout(self._root / name) is None:
            log.warning("search_index_layout_unreadable", extra={"path": str(self._root / name)})
            return None
        return name

    def _open_current(self) -> tantivy.Index:
        """Open the generation ``CURRENT`` names, starting an empty one where there is none usable."""
        stat = self._stat_current()
        name = self._read_current()
        if name is None:
            if (self._root / "meta.json").exists():
                log.warning("search_index_legacy_layout", extra={"path": str(self._root)})
            name = self._new_generation(STARTING_LAYOUT, sample_pages=0)
            self._publish(name)
            stat = self._stat_current()
        self._current_stat = stat
        return self._switch(name)

    def _switch(self, name: str) -> tantivy.Index:
        layout = _read_layout(self._root / name)
        self._layout = layout[0] if layout else STARTING_LAYOUT
        self._generation = name
        return tantivy.Index(self._schema, path=str(self._root / name))

    def _new_generation(self, layout: GramLayout, sample_pages: int) -> str:
        numbers = [int(m.group(1)) for p in self._root.iterdir() if (m := _GENERATION.fullmatch(p.name))]
        name = f"gen-{max(numbers, default=0) + 1:06d}-{uuid.uuid4().hex[:8]}"
        directory = self._root / name
        directory.mkdir()
        # Create the empty index, then widen its docstore blocks before any segment is written.
        tantivy.Index(self._schema, path=str(directory))
        meta_path = directory / "meta.json"
        meta = json.loads(meta_path.read_text())
        if isinstance(meta.get("index_settings"), dict) and not meta.get("segments"):
            meta["index_settings"]["docstore_blocksize"] = DOCSTORE_BLOCKSIZE
            meta_path.write_text(json.dumps(meta))
        record = {"every": layout.every, "frequent": sorted(layout.frequent), "sample_pages": sample_pages}
        (directory / LAYOUT_FILE).write_text(json.dumps(record, ensure_ascii=False))
        return name

    def _publish(self, name: str) -> None:
        tmp = self._root / f".{CURRENT_FILE}.{uuid.uuid4().hex}"
        tmp.write_text(json.dumps({"generation": name, "format": FORMAT}))
        os.replace(tmp, self._root / CURRENT_FILE)

    def _searcher(self) -> Any:
        """A searcher on the live generation, switching first if another object published a new one."""
        if self._stat_current() != self._current_stat:
            name = self._read_current()
            if name is not None and name != self._generation:
                self._drop_writer()
                self._index = self._switch(name)
            self._current_stat = self._stat_current()
        return self._index.searcher()

    def layout_sample(self) -> int:
        """How many pages the live generation's layout was learnt from (0: the starting layout)."""
        self._searcher()
        layout = _read_layout(self._root / self._generation)
        return layout[1] if layout else 0

    def advice(self) -> str | None:
        """Rebuild once the index holds many times the pages its layout was learnt from, so that the
        layout fits the collection's text (see ``search.grams``)."""
        sample, pages = self.layout_sample(), self.count()
        if pages < RELEARN_MIN_PAGES or sample >= min(SAMPLE_PAGES, pages // RELEARN_GROWTH):
            return None
        learnt = f"仅依据 {sample} 页" if sample else "尚未依据本馆文本"
        return (
            f"索引的分词布局{learnt}确定，现已有 {pages} 页：建议运行 archive search reindex 重建索引，使检索保持快速。"
        )

    def rebuild(self, docs: Iterable[PageDoc]) -> int:
        """Index ``docs`` into a new generation, then switch to it; uncommitted writes are dropped.

        The generation's frequent grams are learnt from the first pages (``SAMPLE_PAGES`` or
        ``SAMPLE_CHARS``, whichever comes first), held in memory until the rest follow."""
        stream = iter(docs)
        sample: list[tuple[PageDoc, str]] = []
        chars = 0
        for doc in stream:
            norm = normalize(doc.text)
            sample.append((doc, norm))
            chars += len(norm)
            if len(sample) >= SAMPLE_PAGES or chars >= SAMPLE_CHARS:
                break
        layout = learn((norm for _, norm in sample), self._grams)
        name = self._new_generation(layout, sample_pages=len(sample))
        directory = self._root / name
        writer: tantivy.IndexWriter | None = None
        try:
            index = tantivy.Index(self._schema, path=str(directory))
            writer = index.writer(self._rebuild_heap, self._writer_threads)
            seen: set[str] = set()
            pending = itertools.chain(sample, ((doc, normalize(doc.text)) for doc in stream))
            for doc, norm in pending:
                key = doc.key
                if key in seen:
                    writer.delete_documents_by_term("key", key)
                seen.add(key)
                writer.add_document(_document(doc, norm, layout))
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer = None  # joins its indexing threads, which could still be writing files
            shutil.rmtree(directory, ignore_errors=True)
            raise
        self._drop_writer()
        old = self._generation
        self._publish(name)
        index.reload()
        self._index, self._layout, self._generation = index, layout, name
        self._current_stat = self._stat_current()
        for path in self._root.iterdir():
            if _GENERATION.fullmatch(path.name) and path.name != name:
                shutil.rmtree(path, ignore_errors=True)
        log.info(
            "search_index_rebuilt",
            extra={"generation": name, "previous": old, "pages": len(seen), "frequent_grams": len(layout.frequent)},
        )
        return len(seen)

    # -- writes --------------------------------------------------------------------------------

    def _w(self) -> tantivy.IndexWriter:
        self._searcher()  # follow a generation switch made elsewhere before writing
        if self._writer is None:
            self._writer = self._index.writer(self._writer_heap, self._writer_threads)
        return self._writer

    def _drop_writer(self) -> None:
        """Discard uncommitted writes and release the writer lock (tantivy drops them with the writer)."""
        self._writer = None

    def add(self, docs: Iterable[PageDoc]) -> None:
        w = self._w()
        for doc in docs:
            w.delete_documents_by_term("key", doc.key)
            w.add_document(_document(doc, normalize(doc.text), self._layout))

    def delete_dossier(self, dossier_id: str) -> None:
        self._w().delete_documents_by_term("dossier_id", dossier_id)

    def replace_dossier(self, dossier_id: str, docs: Iterable[PageDoc]) -> None:
        docs = list(docs)
        if any(d.dossier_id != dossier_id for d in docs):
            raise Invalid("search_dossier_mismatch", "替换的页面不属于该案卷")
        w = self._w()
        w.delete_documents_by_term("dossier_id", dossier_id)
        for doc in docs:
            w.add_document(_document(doc, normalize(doc.text), self._layout))

    def commit(self) -> None:
        """Make the writes visible and release the writer, so that other processes on the same
        directory (the API server, an ``archive ingest`` run) can take their turn to write."""
        if self._writer is not None:
            self._writer.commit()
            self._writer.wait_merging_threads()
            self._writer = None
        self._index.reload()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.wait_merging_threads()
            self._writer = None

    # -- reads ---------------------------------------------------------------------------------

    def count(self) -> int:
        return self._searcher().num_docs

    def dossier_ids(self) -> Iterator[str]:
        # The term dictionary, counted over live pages only (terms of deleted pages count 0 and drop out).
        terms = self._searcher().terms_with_prefix("dossier_id", "", filter_query=tantivy.Query.all_query())
        yield from sorted(t for t, _ in terms)

    def _pages(self, searcher: Any, dossier_id: str) -> list[Any]:
        limit = searcher.doc_freq("dossier_id", dossier_id)
        if limit == 0:
            return []
        q = tantivy.Query.term_query(self._schema, "dossier_id", dossier_id, index_option="basic")
        return [searcher.doc(address) for _, address in searcher.search(q, limit=limit, count=False).hits]

    def pages_of(self, dossier_id: str) -> list[PageDoc]:
        searcher = self._searcher()
        pages = [
            PageDoc(
                dossier_id=doc.get_first("dossier_id"),
                page=int(doc.get_first("page")),
                text=_unpack_text(doc.get_first("body")),
                archive_number=doc.get_first("archive_number") or "",
                business_type=doc.get_first("business_type") or "",
                office=doc.get_first("office") or "",
                status=doc.get_first("status") or "",
            )
            for doc in self._pages(searcher, dossier_id)
        ]
        return sorted(pages, key=lambda p: p.page)

    def search(self, query: SearchQuery, scope: Scope) -> SearchResult:
        terms = checked_terms(query)
        print_ = fingerprint(query, scope)
        cursor = _decode_cursor(query.cursor, print_, query.sort)
        if scope.empty:
            return empty_result(query)
        searcher = self._searcher()
        filters = self._filters(query, scope, searcher)
        texts = [self._exact_query(t, searcher) for t in terms]
        exact = _all_of(texts + filters)
        needles = [t.norm for t in terms]
        if query.sort == "date":
            return self._search_by_date(searcher, query, exact, cursor, needles, print_)

        fuzzy_parts = [self._fuzzy_query(t) for t in terms] if query.fuzzy else []
        fuzzy_query = None
        if any(q is not None for q in fuzzy_parts):
            # Pages matching every term exactly or with one wrong character, at least one only with a
            # wrong character.  The union of the fuzzy clauses leads the intersection (it is small),
            # and per term an exact match scores above a fuzzy one.
            Q = tantivy.Query
            per_term = [
                tq if fq is None else _any_of([Q.const_score_query(tq, EXACT_WEIGHT), fq])
                for tq, fq in zip(texts, fuzzy_parts, strict=True)
            ]
            some_fuzzy = Q.const_score_query(_any_of([fq for fq in fuzzy_parts if fq is not None]), 0.0)
            fuzzy_query = Q.boolean_query(
                [(tantivy.Occur.Must, q) for q in [some_fuzzy, *per_term, *filters]]
                + [(tantivy.Occur.MustNot, _all_of(texts))]
            )
        offset = cursor.offset
        limit = min(query.limit, MAX_RELEVANCE_DEPTH - offset)
        found = searcher.search(exact, limit=limit, offset=offset)
        hits = [self._hit(searcher, float(score), address, needles, fuzzy=False) for score, address in found.hits]
        total = found.count
        if fuzzy_query is not None:
            more = limit - len(hits)
            fuzzy_found = searcher.search(fuzzy_query, limit=max(more, 1), offset=max(0, offset - found.count))
            if more > 0:
                hits += [self._hit(searcher, float(s), a, needles, fuzzy=True) for s, a in fuzzy_found.hits[:more]]
            total += fuzzy_found.count
        next_offset = offset + len(hits)
        next_cursor = None
        if hits and next_offset < total:
            next_cursor = encode_cursor({"o": next_offset}, print_)
        facets = {}
        if query.facets:
            facets = self._facets(searcher, exact if fuzzy_query is None else _any_of([exact, fuzzy_query]))
        return SearchResult(total=total, hits=hits, facets=facets, next_cursor=next_cursor)

    def _search_by_date(
        self, searcher: Any, query: SearchQuery, exact: Any, cursor: _Cursor, needles: list[str], print_: str
    ) -> SearchResult:
        engine_query, offset, before = exact, cursor.seen, 0
        if cursor.after is not None and cursor.seen >= DATE_OFFSET_PAGING:
            # Search-after: the hits sorting at or below the last key, less those already returned.
            after = tantivy.Query.range_query(self._schema, "sort_date", tantivy.FieldType.Integer, None, cursor.after)
            engine_query, offset, before = _all_of([exact, after]), cursor.ties, cursor.seen - cursor.ties
        found = searcher.search(
            engine_query, limit=query.limit, offset=offset, order_by_field="sort_date", order=tantivy.Order.Desc
        )
        hits = [self._hit(searcher, 0.0, address, needles, fuzzy=False) for _, address in found.hits]
        total = before + found.count
        seen = cursor.seen + len(hits)
        next_cursor = None
        if hits and seen < total:
            last = int(found.hits[-1][0])
            ties = sum(1 for key, _ in found.hits if int(key) == last)
            if last == cursor.after:
                ties += cursor.ties
            next_cursor = encode_cursor({"a": last, "t": ties, "n": seen}, print_)
        facets = self._facets(searcher, exact) if query.facets else {}
        return SearchResult(total=total, hits=hits, facets=facets, next_cursor=next_cursor)

    def _hit(self, searcher: Any, score: float, address: Any, needles: list[str], fuzzy: bool) -> SearchHit:
        doc = searcher.doc(address)
        text = _unpack_text(doc.get_first("body"))
        return SearchHit(
            dossier_id=doc.get_first("dossier_id"),
            page=int(doc.get_first("page")),
            archive_number=doc.get_first("archive_number") or "",
            business_type=doc.get_first("business_type") or "",
            office=doc.get_first("office") or "",
            status=doc.get_first("status") or "",
            score=score,
            snippet=build_snippet(text, needles),
            fuzzy=fuzzy,
        )

    def _facets(self, searcher: Any, engine_query: Any) -> dict[str, dict[str, int]]:
        size = max(searcher.num_docs, 1)
        spec = {f: {"terms": {"field": f, "size": min(size, 65_000)}} for f in FACET_FIELDS}
        agg = searcher.aggregate(engine_query, spec)
        return {f: {b["key"]: int(b["doc_count"]) for b in agg[f]["buckets"]} for f in FACET_FIELDS}

    # -- query building ------------------------------------------------------------------------

    def _text_query(self, term: QueryTerm, searcher: Any) -> Any:
        """Pages whose normalised text contains the term (exact: see ``search.grams``)."""
        s, Q = self._schema, tantivy.Query
        if self._layout.by_prefix(term.norm):
            return self._prefix_query(term.norm.replace(" ", SPACE_MARK), searcher)
        slots = self._layout.plan(term.norm)
        if len(slots) == 1:
            return _any_of([Q.term_query(s, "text", t, index_option="freq") for t in slots[0].tokens])
        if all(len(slot.tokens) == 1 for slot in slots):
            return Q.phrase_query(s, "text", [(slot.offset, slot.tokens[0]) for slot in slots])  # type: ignore[arg-type]
        return Q.regex_phrase_query(s, "text", [(slot.offset, _slot_regex(slot)) for slot in slots])  # type: ignore[arg-type]

    def _prefix_query(self, prefix: str, searcher: Any) -> Any:
        """Pages with a token starting with ``prefix``: the OR of those tokens where they are few (BM25
        kept), else a prefix regex (every hit scores the same)."""
        s, Q = self._schema, tantivy.Query
        tokens = searcher.terms_with_prefix("text", prefix, limit=MAX_PREFIX_TERMS + 1)
        if not tokens:
            return Q.empty_query()
        if len(tokens) <= MAX_PREFIX_TERMS:
            return _any_of([Q.term_query(s, "text", t, index_option="freq") for t, _ in tokens])
        return Q.regex_query(s, "text", f"{_literal(prefix)}.{{0,{LONG - len(prefix)}}}")

    def _exact_query(self, term: QueryTerm, searcher: Any) -> Any:
        """Text contains the term, or a code equals it (the code clause only where such a code exists)."""
        text = self._text_query(term, searcher)
        if not term.code or searcher.doc_freq("codes", term.code) == 0:
            return text
        code = tantivy.Query.term_query(self._schema, "codes", term.code, index_option="basic")
        return _any_of([text, code])

    def _fuzzy_query(self, term: QueryTerm) -> Any | None:
        """One wrong character in a code or a name, scoring ``FUZZY_WEIGHT``; None where it does not apply."""
        s, Q = self._schema, tantivy.Query
        loose = []
        if term.fuzzy_code:
            loose.append(Q.fuzzy_term_query(s, "codes", term.code, distance=1, transposition_cost_one=False))
        if term.name_like:
            loose.append(Q.fuzzy_term_query(s, "names", term.norm, distance=1, transposition_cost_one=False))
        if not loose:
            return None
        return Q.const_score_query(loose[0] if len(loose) == 1 else _any_of(loose), FUZZY_WEIGHT)

    def _filters(self, query: SearchQuery, scope: Scope, searcher: Any) -> list[Any]:
        s, Q = self._schema, tantivy.Query
        out: list[Any] = []

        def restrict(name: str, values: frozenset[str]) -> None:
            present = {t for t, _ in searcher.terms_with_prefix(name, "")}
            if present <= values:
                return  # excludes nothing
            wanted = sorted(values & present)
            if not wanted:
                out.append(Q.empty_query())
            elif len(wanted) == 1:
                out.append(Q.const_score_query(Q.term_query(s, name, wanted[0], index_option="basic"), 0.0))
            else:
                out.append(Q.const_score_query(Q.term_set_query(s, name, wanted), 0.0))

        if scope.offices is not ALL:
            restrict("office", scope.offices)  # type: ignore[arg-type]
        restrict("status", scope.statuses)
        for name, values in query.field_filters():
            restrict(name, values)
        if query.date_to is not None:
            out.append(
                Q.const_score_query(
                    Q.range_query(s, "date_start", tantivy.FieldType.Integer, 0, query.date_to.toordinal()), 0.0
                )
            )
        if query.date_from is not None:
            out.append(
                Q.const_score_query(
                    Q.range_query(s, "date_end", tantivy.FieldType.Integer, query.date_from.toordinal(), None), 0.0
                )
            )
        return out


def _document(doc: PageDoc, norm: str, layout: GramLayout) -> tantivy.Document:
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
    d.add_integer("sort_date", _sort_key(start, doc.key))
    d.add_text("text", layout.tokens(norm))
    d.add_bytes("body", _pack_text(norm))
    return d


def _pack_text(norm: str) -> bytes:
    """The stored page text: GB18030 (two bytes per common CJK character, a third less than UTF-8, and
    lz4 then finds more repeats per block), UTF-8 for the odd string GB18030 cannot hold."""
    try:
        return _GB18030 + norm.encode("gb18030")
    except UnicodeEncodeError:
        return _UTF8 + norm.encode("utf-8", "surrogatepass")


def _unpack_text(stored: Any) -> str:
    data = bytes(stored or b"")
    if data[:1] == _GB18030:
        return data[1:].decode("gb18030")
    return data[1:].decode("utf-8", "surrogatepass")


def _read_layout(directory: Path) -> tuple[GramLayout, int] | None:
    """A generation's layout and its sample size; None when the file is missing or malformed."""
    try:
        record = json.loads((directory / LAYOUT_FILE).read_text())
        layout = GramLayout(every=bool(record["every"]), frequent=frozenset(record["frequent"]))
        return layout, int(record["sample_pages"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _all_of(queries: list[Any]) -> Any:
    if not queries:
        return tantivy.Query.all_query()
    if len(queries) == 1:
        return queries[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, q) for q in queries])


def _any_of(queries: list[Any]) -> Any:
    if len(queries) == 1:
        return queries[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in queries])


def _decode_cursor(cursor: str | None, print_: str, sort: str) -> _Cursor:
    if cursor is None:
        return _Cursor()
    numbers = decode_cursor(cursor, print_)
    if any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in numbers.values()):
        raise bad_cursor()
    if sort == "date":
        if set(numbers) != {"a", "t", "n"} or numbers["t"] > numbers["n"]:
            raise bad_cursor()
        parsed = _Cursor(after=numbers["a"], ties=numbers["t"], seen=numbers["n"])
    else:
        if set(numbers) != {"o"}:
            raise bad_cursor()
        parsed = _Cursor(offset=numbers["o"])
    if parsed.offset >= MAX_RELEVANCE_DEPTH:
        raise Invalid(
            "search_page_too_deep",
            f"按相关度排序最多可翻阅前 {MAX_RELEVANCE_DEPTH} 条结果，请补充检索条件或改按日期排序",
        )
    return parsed
