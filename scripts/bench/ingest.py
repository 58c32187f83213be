"""Ingest benchmark: end-to-end pipeline against the raw OCR engine on the same pages, same run.

    python scripts/bench/ingest.py [--data ../shared/data/dev-dossiers] [--limit N] [--workers 2]

Prints end-to-end pages/min, the raw engine's pages/min (the same worker processes and threads,
the same page images, engine.recognize only), their ratio, peak RSS per OCR worker, CER against
truth/*.json, and the share of valid ID numbers read exactly.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from archive.intake import open_source  # noqa: E402
from archive.pipeline.runner import engine_config, run_batch  # noqa: E402
from archive.runtime import open_runtime  # noqa: E402
from archive.settings import Settings  # noqa: E402
from ocr.images import decode  # noqa: E402
from ocr.pool import OcrPool, init_worker, peak_rss_mb, worker_engine  # noqa: E402
from ocr.registry import EngineConfig  # noqa: E402
from scripts.bench.quality import Quality, load_truth  # noqa: E402


def _raw_page(data: bytes) -> tuple[int, float]:
    """The bare engine on one page: decode and recognize, nothing else."""
    worker_engine().recognize(decode(data, 10**9))
    return os.getpid(), peak_rss_mb()


def _warm(executor: ProcessPoolExecutor, workers: int, fn, arg) -> None:
    """Start every worker and load its engine before the clock starts."""
    list(executor.map(fn, [arg] * workers))


def raw_engine(cfg: EngineConfig, workers: int, pages: list[bytes], sample: bytes) -> tuple[float, dict[int, float]]:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=init_worker, initargs=(cfg, 10**9)) as ex:
        _warm(ex, workers, _raw_page, sample)
        start = time.perf_counter()
        results = list(ex.map(_raw_page, pages))
        elapsed = time.perf_counter() - start
    rss: dict[int, float] = {}
    for pid, mb in results:
        rss[pid] = max(rss.get(pid, 0.0), mb)
    return elapsed, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "dev-dossiers")
    parser.add_argument("--limit", type=int, default=0, help="only the first N dossiers")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--engine", default="paddle")
    args = parser.parse_args()

    files = sorted((args.data / "dossiers").glob("*.pdf"))
    if args.limit:
        files = files[: args.limit]
    truth = load_truth(args.data)
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), ocr_workers=args.workers, ocr_threads=args.threads, ocr_engine=args.engine)
        rt = open_runtime(settings)
        cfg = engine_config(rt)
        pages = [p.data for f in files for p in open_source(str(f), settings).ingestor.pages()]
        print(f"dossiers: {len(files)}  pages: {len(pages)}  workers: {args.workers} x {args.threads} thread(s)")

        raw_s, raw_rss = raw_engine(cfg, args.workers, pages, pages[0])
        raw_ppm = 60 * len(pages) / raw_s

        pool = OcrPool(cfg, settings.ocr_workers, settings.ocr_recycle_pages, settings.max_image_pixels)
        if pool.workers:
            list(pool.submit(pages[0]).result() for _ in range(pool.workers))  # load engines first
        lines: list[dict] = []
        start = time.perf_counter()
        summary = run_batch(
            rt, [str(f) for f in files], office="000000", user="bench", emit=lines.append, pool_factory=lambda: pool
        )
        e2e_s = time.perf_counter() - start
        rt.close()
    e2e_ppm = 60 * summary.pages / e2e_s

    quality = Quality()
    for line in lines:
        quality.add_dossier(truth[Path(line["source"]).name], line)
    print(f"raw engine:  {raw_ppm:7.1f} pages/min  ({raw_s:.1f} s)")
    print(f"end-to-end:  {e2e_ppm:7.1f} pages/min  ({e2e_s:.1f} s; store, records, searchable PDFs included)")
    print(f"ratio end-to-end/raw: {e2e_ppm / raw_ppm:.3f}")
    e2e_rss = summary.worker_rss_mb
    print(
        f"peak RSS per OCR worker: end-to-end max {max(e2e_rss.values(), default=0):.0f} MB over {len(e2e_rss)} "
        f"process(es); raw engine max {max(raw_rss.values(), default=0):.0f} MB"
    )
    print(f"OCR seconds per page (in workers): {summary.ocr_seconds / max(1, summary.pages_ocred):.3f}")
    print(f"CER: {100 * quality.cer:.2f}%  ({quality.edits} edits / {quality.ref_chars} reference chars)")
    print(
        f"valid ID numbers read exactly: {quality.ids_exact}/{quality.ids_expected} "
        f"({100 * quality.ids_exact / max(1, quality.ids_expected):.1f}%)"
    )
    print(f"planted bad check digits flagged: {quality.bad_ids_flagged}/{quality.bad_ids}")
    print(
        json.dumps(
            {
                "raw_ppm": round(raw_ppm, 1),
                "e2e_ppm": round(e2e_ppm, 1),
                "ratio": round(e2e_ppm / raw_ppm, 3),
                "cer": round(quality.cer, 4),
                "id_exact": quality.ids_exact,
                "id_expected": quality.ids_expected,
            }
        )
    )


if __name__ == "__main__":
    main()
