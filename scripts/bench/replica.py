"""Replica benchmark: the same small batch ingested with and without a filesystem replica, same run.

    python scripts/bench/replica.py [--data ../shared/data/dev-dossiers] [--limit 6] [--workers 2] [--rounds 2]

Each round ingests the batch twice into fresh archive homes, once without and once with
``ARCHIVE_REPLICA_DIR`` (the order alternates between rounds: ABBA…), OCR engines loaded before the
clock starts in both.  Prints each run's wall time, the ratio of the sums (target ≤ 1.10), the time the
replica's writes took inside the runs with a replica (``ReplicatedStore.counters.seconds``: what the
replica costs on the write path, whatever the noise of a shared machine does to the totals), and
checks that the replica holds every primary object with the same digest.  Finally the same objects are
written again, with no OCR beside them, through a plain filesystem store and through a replicated one
(alternately, object by object): the difference, set against the README's quiet-machine ingest rate,
bounds the replica's share in a way the load of a shared machine cannot blur.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from archive.intake import open_source  # noqa: E402
from archive.pipeline.runner import engine_config, run_batch  # noqa: E402
from archive.runtime import open_runtime  # noqa: E402
from archive.settings import Settings  # noqa: E402
from archive.storage.filesystem import FilesystemStore  # noqa: E402
from archive.storage.replica import ReplicatedStore  # noqa: E402
from ocr.pool import OcrPool  # noqa: E402

QUIET_PPM = 131.4  # end-to-end pages/min of scripts/bench/ingest.py on this machine when quiet (README)


def store_overhead(source: FilesystemStore, keys: list[str], home: Path) -> float:
    """Seconds a ``ReplicatedStore`` adds over a plain ``FilesystemStore`` for the same writes, with no OCR
    beside them: each object is written through both (fresh folders), alternately, and timed."""
    plain = FilesystemStore(home / "timing-plain")
    replicated = ReplicatedStore(FilesystemStore(home / "timing-primary"), FilesystemStore(home / "timing-replica"))
    spent = {"plain": 0.0, "replicated": 0.0}
    for key in keys:
        body = source.root / key
        for name, store in (("plain", plain), ("replicated", replicated)):
            start = time.perf_counter()
            store.put_file(key, body)
            spent[name] += time.perf_counter() - start
    assert replicated.counters.mirrored == len(keys)
    return spent["replicated"] - spent["plain"]


def ingest_once(files: list[Path], home: Path, workers: int, threads: int, replica: bool) -> dict:
    settings = Settings(
        home=home,
        ocr_workers=workers,
        ocr_threads=threads,
        replica_dir=home / "replica" if replica else None,
    )
    rt = open_runtime(settings)
    pool = OcrPool(engine_config(rt), settings.ocr_workers, settings.ocr_recycle_pages, settings.max_image_pixels)
    sample = next(iter(open_source(str(files[0]), settings).ingestor.pages())).data
    if pool.workers:  # load every worker's engine before the clock starts
        for future in [pool.submit(sample) for _ in range(pool.workers)]:
            future.result()
    lines: list[dict] = []
    start = time.perf_counter()
    summary = run_batch(
        rt, [str(f) for f in files], office="000000", user="bench", emit=lines.append, pool_factory=lambda: pool
    )
    wall = time.perf_counter() - start
    result = {"replica": replica, "wall_s": wall, "pages": summary.pages, "dossiers": len(lines)}
    if isinstance(rt.store, ReplicatedStore):
        c = rt.store.counters
        result.update(replica_s=c.seconds, mirrored=c.mirrored, owed=c.owed)
        primary, copy = rt.store.primary, rt.store.replica_store()
        assert isinstance(primary, FilesystemStore) and isinstance(copy, FilesystemStore)
        keys = list(primary.keys())
        assert keys == list(copy.keys()), "the replica does not hold every primary object"
        assert all(primary.stat(k).sha256 == copy.stat(k).sha256 and copy.verify(k) for k in keys)
        result["objects"] = len(keys)
        result["overhead_s"] = store_overhead(primary, keys, home)
    rt.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "dev-dossiers")
    parser.add_argument("--limit", type=int, default=6, help="the first N dossiers")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    files = sorted((args.data / "dossiers").glob("*.pdf"))[: args.limit]
    runs: list[dict] = []
    for round_no in range(args.rounds):
        order = (False, True) if round_no % 2 == 0 else (True, False)
        for replica in order:
            with tempfile.TemporaryDirectory() as home:
                run = ingest_once(files, Path(home), args.workers, args.threads, replica)
            runs.append(run)
            extra = f"  replica writes {run['replica_s']:.2f} s, {run['objects']} objects" if replica else ""
            print(f"round {round_no + 1} {'with   ' if replica else 'without'}: {run['wall_s']:6.1f} s{extra}")
    without = sum(r["wall_s"] for r in runs if not r["replica"])
    with_replica = sum(r["wall_s"] for r in runs if r["replica"])
    replica_s = sum(r["replica_s"] for r in runs if r["replica"])
    overhead_s = sum(r["overhead_s"] for r in runs if r["replica"])
    objects = sum(r["objects"] for r in runs if r["replica"])
    pages = runs[0]["pages"]
    per_page_ms = 1000 * overhead_s / (pages * sum(r["replica"] for r in runs))
    print(f"dossiers: {len(files)}  pages: {pages}  workers: {args.workers} x {args.threads} thread(s)")
    print(f"without replica: {without:.1f} s   with replica: {with_replica:.1f} s   (sums over {args.rounds} rounds)")
    print(f"ratio with/without: {with_replica / without:.3f}  (target <= 1.10)")
    print(
        f"replica writes inside the runs: {replica_s:.2f} s = {100 * replica_s / with_replica:.1f}% of their wall time"
    )
    print(
        f"the replicated store's extra time, writes alone: {1000 * overhead_s / objects:.1f} ms per object, "
        f"{per_page_ms:.1f} ms per page; "
        f"at {QUIET_PPM} pages/min (README, quiet machine) at most {per_page_ms * QUIET_PPM / 600:.1f}% "
        "of the ingest's wall time, even if none of it overlapped OCR"
    )
    print(
        json.dumps(
            {
                "pages": pages,
                "without_s": round(without, 2),
                "with_s": round(with_replica, 2),
                "ratio": round(with_replica / without, 3),
                "replica_write_s": round(replica_s, 2),
                "replica_share": round(replica_s / with_replica, 4),
                "overhead_ms_per_object": round(1000 * overhead_s / objects, 2),
                "overhead_ms_per_page": round(per_page_ms, 1),
                "bound_at_quiet_rate": round(per_page_ms * QUIET_PPM / 60000, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
