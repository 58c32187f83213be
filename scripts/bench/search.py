"""Benchmark the embedded search backend: indexing speed, index size, query latency and recall.

    .venv/bin/python -m scripts.bench.search --pages 100000

Ratios compare each query class with a brute-force substring scan over the same normalised pages,
measured in the same process.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path

from archive.errors import Invalid
from search import ALL, Scope, SearchQuery
from search.embedded import TantivyIndex
from search.fakecorpus import STATUSES, generate_pages
from search.text import normalize


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()

    root = args.dir or Path(tempfile.mkdtemp(prefix="search-bench-"))
    shutil.rmtree(root / "idx", ignore_errors=True)
    docs = list(islice(generate_pages(args.pages // 2 + 1, seed=1), args.pages))
    raw = sum(len(d.text.encode()) for d in docs)
    index = TantivyIndex(root / "idx", writer_heap=1_000_000_000)
    t0 = time.perf_counter()
    for i in range(0, len(docs), 10_000):
        index.add(docs[i : i + 10_000])
    index.commit()
    index.close()
    took = time.perf_counter() - t0
    size = _dir_size(root / "idx")
    print(f"pages {len(docs):,}  indexing {len(docs) / took:,.0f} pages/s ({took:.1f} s)")
    print(f"raw text {raw / 1e6:.1f} MB  index {size / 1e6:.1f} MB  ratio {size / raw:.2f}x")

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
        return SearchQuery(text=f'"{substring(6)().text}" 盖章')

    def filtered() -> SearchQuery:
        d = rng.choice(docs)
        return SearchQuery(text=substring(2)().text, business_types=frozenset({d.business_type}),
                           offices=frozenset({d.office}), facets=True)  # fmt: skip

    classes: dict[str, Callable[[], SearchQuery]] = {
        "2-char": substring(2), "4-char": substring(4), "8-char": substring(8),
        "id": id_query, "phrase": phrase, "filtered+facets": filtered,
    }  # fmt: skip
    brute_ms: list[float] = []
    for _ in range(5):
        q = substring(4)().text
        t = time.perf_counter()
        sum(1 for n in norms if q in n)
        brute_ms.append((time.perf_counter() - t) * 1000)
    base = statistics.median(brute_ms)
    print(f"baseline brute-force scan p50 {base:.1f} ms")
    print(f"{'class':16} {'p50':>8} {'p95':>8} {'p99':>8}  {'vs scan':>8}")
    for name, make in classes.items():
        times: list[float] = []
        refused = 0
        for _ in range(args.queries):
            q = make()
            t = time.perf_counter()
            try:
                index.search(q, scope)
            except Invalid:
                refused += 1
            times.append((time.perf_counter() - t) * 1000)
        p50, p95, p99 = _pct(times, 0.5), _pct(times, 0.95), _pct(times, 0.99)
        print(f"{name:16} {p50:8.2f} {p95:8.2f} {p99:8.2f}  {base / p95:7.1f}x  refused {refused}")

    # Recall against brute force on a sample of substring queries (all pages, paging through).
    misses = checked = skipped = 0
    for _ in range(30):
        q = substring(rng.choice((2, 3, 5)))()
        expected = {i for i, n in enumerate(norms) if q.text in n}
        if len(expected) > 2000:
            continue
        found: set[tuple[str, int]] = set()
        cursor = None
        while True:
            try:
                r = index.search(SearchQuery(text=q.text, fuzzy=False, limit=200, cursor=cursor), scope)
            except Invalid:
                skipped += 1
                break
            found |= {(h.dossier_id, h.page) for h in r.hits}
            cursor = r.next_cursor
            if cursor is None:
                break
        keys = {(docs[i].dossier_id, docs[i].page) for i in expected}
        misses += len(keys - found)
        checked += len(keys)
    print(f"recall {1 - misses / max(checked, 1):.4f} over {checked} expected pages ({skipped} queries refused)")
    if args.dir is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
