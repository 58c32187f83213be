"""Benchmark the embedded search backend: indexing speed, index size, query latency and recall.

    .venv/bin/python -m scripts.bench.search --pages 100000

Builds the index with ``rebuild`` from generated pages (generation not timed), then times each query
class over random queries drawn from the indexed text.  "vs scan" is how many times faster the class's
p95 is than a brute-force substring scan over the same normalised pages, measured in this process.
Recall compares exact queries with that brute force: every total must equal the brute-force count,
and for results up to ``--full-check`` pages the page sets must be equal (paged in date order).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import re
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from itertools import islice
from pathlib import Path

from archive.errors import Invalid
from search import ALL, PageDoc, Scope, SearchQuery
from search.embedded import REBUILD_HEAP, TantivyIndex
from search.fakecorpus import STATUSES, generate_pages
from search.text import is_cjk, normalize, parse_query

_WORD = re.compile(r"[0-9a-z]+")


def _sizes(path: Path) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for p in path.rglob("*"):
        if p.is_file():
            out[p.suffix or p.name] += p.stat().st_size
    return dict(out)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200, help="queries per class")
    parser.add_argument("--recall-queries", type=int, default=12, help="brute-force checked queries per class")
    parser.add_argument("--full-check", type=int, default=3000, help="compare page sets up to this many hits")
    parser.add_argument("--heap", type=int, default=256_000_000, help="writer heap of add() (rebuild: REBUILD_HEAP)")
    parser.add_argument("--page-chars", type=int, default=None, help="fill pages with prose to this many characters")
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()

    root = args.dir or Path(tempfile.mkdtemp(prefix="search-bench-"))
    shutil.rmtree(root / "idx", ignore_errors=True)
    docs = list(islice(generate_pages(args.pages // 2 + 1, seed=1, page_chars=args.page_chars), args.pages))
    raw = sum(len(d.text.encode()) for d in docs)
    index = TantivyIndex(root / "idx", writer_heap=args.heap)
    print(f"writer heap: rebuild {REBUILD_HEAP / 1e9:.1f} GB, add {args.heap / 1e9:.2f} GB; one indexing thread")
    t0 = time.perf_counter()
    indexed = index.rebuild(docs)
    took = time.perf_counter() - t0
    sizes = _sizes(root / "idx")
    size = sum(sizes.values())
    segments = sum(1 for _ in (root / "idx").rglob("*.store"))
    print(f"pages {indexed:,}  build (rebuild) {took:.1f} s  {indexed / took:,.0f} pages/s  {segments} segments")
    print(f"raw text {raw / 1e6:.1f} MB  index {size / 1e6:.1f} MB  ratio {size / raw:.2f}x")
    parts = sorted(sizes.items(), key=lambda kv: -kv[1])
    print("  by file type: " + "  ".join(f"{k} {v / 1e6:.1f} MB ({v / raw:.2f}x)" for k, v in parts if v > raw / 1000))

    norms = [normalize(d.text) for d in docs]
    rng = random.Random(5)
    scope = Scope(offices=ALL, statuses=frozenset(STATUSES))

    def substring(n: int) -> Callable[[], SearchQuery]:
        def make() -> SearchQuery:
            while True:
                text = rng.choice(norms)
                s = rng.randrange(max(1, len(text) - n))
                q = text[s : s + n]
                if " " not in q and len(q) == n:
                    return SearchQuery(text=q, fuzzy=False)

        return make

    def id_query() -> SearchQuery:
        return SearchQuery(text=rng.choice(docs).person_id_number)

    def phrase() -> SearchQuery:
        return SearchQuery(text=f'"{substring(6)().text}" 盖章', fuzzy=False)

    def filtered() -> SearchQuery:
        d = rng.choice(docs)
        return SearchQuery(text=substring(2)().text, business_types=frozenset({d.business_type}),
                           offices=frozenset({d.office}), facets=True, fuzzy=False)  # fmt: skip

    def short_edge() -> SearchQuery:
        """1–3 digits/letters at the start or end of a word, alone or with the neighbouring character."""
        while True:
            text = rng.choice(norms)
            words = list(_WORD.finditer(text))
            if not words:
                continue
            w = rng.choice(words)
            k = rng.randint(1, min(3, len(w.group())))
            if rng.random() < 0.5:
                start, end = w.start(), w.start() + k
                if rng.random() < 0.5 and start > 0 and is_cjk(text[start - 1]):
                    start -= 1  # "号12"
            else:
                start, end = w.end() - k, w.end()
                if rng.random() < 0.5 and end < len(text) and is_cjk(text[end]):
                    end += 1  # "12年"
            return SearchQuery(text=text[start:end], fuzzy=False)

    classes: dict[str, Callable[[], SearchQuery]] = {
        "2-char": substring(2), "4-char": substring(4), "8-char": substring(8), "id": id_query,
        "phrase": phrase, "filtered+facets": filtered, "short edge": short_edge,
    }  # fmt: skip

    def brute(q: SearchQuery) -> set[int]:
        terms = parse_query(q.text)
        return {
            i
            for i, n in enumerate(norms)
            if all(t.norm in n for t in terms)
            and (not q.business_types or docs[i].business_type in q.business_types)
            and (not q.offices or docs[i].office in q.offices)
        }

    scans: list[float] = []
    for _ in range(7):
        needle = substring(4)().text
        t = time.perf_counter()
        sum(1 for n in norms if needle in n)
        scans.append((time.perf_counter() - t) * 1000)
    base = statistics.median(scans)
    print(f"brute-force scan of the normalised pages (same process): p50 {base:.1f} ms")
    print(f"{'class':16} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}  {'vs scan':>8}  refused")
    samples: dict[str, list[SearchQuery]] = {}
    for name, make in classes.items():
        times: list[float] = []
        refused = 0
        samples[name] = []
        for _ in range(args.queries):
            q = make()
            samples[name].append(q)
            t = time.perf_counter()
            try:
                index.search(q, scope)
            except Invalid:
                refused += 1
            times.append((time.perf_counter() - t) * 1000)
        p50, p95, p99 = _pct(times, 0.5), _pct(times, 0.95), _pct(times, 0.99)
        print(f"{name:16} {p50:8.2f} {p95:8.2f} {p99:8.2f} {max(times):8.2f}  {base / p95:7.1f}x  {refused}")

    # Recall: totals against brute force for every checked query, page sets where small enough.
    print(f"recall against brute force ({args.recall_queries} queries per text class):")
    keys = [(d.dossier_id, d.page) for d in docs]
    for name in ("2-char", "4-char", "8-char", "phrase", "filtered+facets", "short edge"):
        expected_pages = found_pages = extra = wrong_totals = compared = 0
        for q in samples[name][: args.recall_queries]:
            expected = brute(q)
            result = index.search(dataclasses.replace(q, facets=False, limit=200, sort="date"), scope)
            wrong_totals += result.total != len(expected)
            if len(expected) > args.full_check:
                continue
            compared += 1
            found: set[tuple[str, int]] = {(h.dossier_id, h.page) for h in result.hits}
            while result.next_cursor is not None:
                q2 = dataclasses.replace(q, facets=False, limit=200, sort="date", cursor=result.next_cursor)
                result = index.search(q2, scope)
                found |= {(h.dossier_id, h.page) for h in result.hits}
            want = {keys[i] for i in expected}
            expected_pages += len(want)
            found_pages += len(want & found)
            extra += len(found - want)
        recall = found_pages / expected_pages if expected_pages else 1.0
        print(
            f"  {name:16} recall {recall:.4f} over {expected_pages:,} pages ({compared} sets compared)"
            f"  extra pages {extra}  totals wrong {wrong_totals}"
        )

    # Incremental writes: upsert 20,000 existing pages with ``add`` and commit.
    batch: list[PageDoc] = docs[: min(20_000, len(docs))]
    t0 = time.perf_counter()
    index.add(batch)
    index.commit()
    took = time.perf_counter() - t0
    print(f"incremental add (upsert) + commit of {len(batch):,} pages: {took:.1f} s  {len(batch) / took:,.0f} pages/s")
    index.close()
    if args.dir is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
