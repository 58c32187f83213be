"""Throughput on Celery workers: the same batch through 1 and then 2 `archive worker`s, and a model
of N machines from what was measured here.

    python -m scripts.bench.scale [--dir ../shared/data/dev-dossiers/dossiers] [--limit N]
        [--pg-admin postgresql://postgres@127.0.0.1:5432/postgres] [--broker redis://127.0.0.1:6379/12]
        [--cores-per-machine 16]

Each run gets a fresh PostgreSQL database, a fresh home (filesystem store, embedded index) and an
emptied Redis database; every worker is one task process with one OCR thread, its engine loaded
before the clock starts.  The batch is coordinated from this process (intake: opening the files,
measuring and storing the pages), as `archive ingest` and the API do.

Measured and printed: pages/min with 1 and with 2 workers; then the capacity of what every worker
shares — this process's intake (files opened and kept, pages taken out), the broker (Redis, page
images in the messages), the database commits and the index writes —
each in pages/min, and the model: how many machines of ``--cores-per-machine`` cores (one worker
process per core, at the per-worker rate measured here) each shared part can feed, and which runs
out first.  The last line is ``workers=2 speedup=<ratio>``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from archive.pipeline.runner import BatchSummary, run_batch  # noqa: E402
from archive.runtime import open_runtime  # noqa: E402
from archive.settings import Settings  # noqa: E402
from scripts.local_workers import local_workers  # noqa: E402

DEFAULT_DIR = ROOT.parent / "shared" / "data" / "dev-dossiers" / "dossiers"


@dataclass
class Run:
    workers: int
    summary: BatchSummary
    seconds: float
    steps: dict[str, float] = field(default_factory=dict)  # summed over files, from the worker log
    index_seconds: float = 0.0
    cpu_busy: float = 0.0  # share of all cores busy during the run (every process on the machine)

    @property
    def pages(self) -> int:
        return self.summary.pages_ocred

    @property
    def pages_per_minute(self) -> float:
        return 60.0 * self.pages / self.seconds


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def cpu_busy(before: tuple[int, int], after: tuple[int, int]) -> float:
    return (after[0] - before[0]) / max(1, after[1] - before[1])


def fresh_database(admin_url: str) -> tuple[str, str]:
    import psycopg

    name = f"archive_scale_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}", name


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def worker_log(settings: Settings) -> tuple[dict[str, float], float]:
    """Per-step seconds of the files finished (summed) and seconds spent indexing, from the JSON log."""
    steps: dict[str, float] = {}
    index = 0.0
    for line in (settings.home / "logs" / "worker.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == "file recorded":
            for step, seconds in record.get("steps", {}).items():
                steps[step] = steps.get(step, 0.0) + seconds
        elif record.get("event") == "dossiers indexed":
            index += record.get("seconds", 0.0)
    return steps, index


def one_run(workers: int, sources: list[str], args: argparse.Namespace, scratch: Path) -> Run:
    import redis

    redis.Redis.from_url(args.broker).flushdb()
    url, name = fresh_database(args.pg_admin)
    settings = Settings(
        home=scratch / f"workers-{workers}",
        database_url=url,
        broker_url=args.broker,
        ocr_threads=1,
        dispatch_pages=args.dispatch_pages,
    )
    try:
        rt = open_runtime(settings)
        try:
            with local_workers(settings, count=workers, concurrency=1):
                started, cpu = time.perf_counter(), cpu_times()
                summary = run_batch(rt, sources, office="370303", user="system:bench", emit=lambda _: None)
                seconds = time.perf_counter() - started
                busy = cpu_busy(cpu, cpu_times())
            steps, index = worker_log(settings)
        finally:
            rt.close()
    finally:
        drop_database(args.pg_admin, name)
    return Run(workers, summary, seconds, steps, index, busy)


def intake_alone(sources: list[str], scratch: Path) -> tuple[int, float, int]:
    """The coordinator's own work on the batch with nothing else running: open each file, keep it,
    and take its pages out to hand them to the workers (which measure, straighten and store them)."""
    from concurrent.futures import Future

    from archive.pipeline import steps
    from archive.pipeline.runner import open_batch
    from archive.pipeline.work import FileWork

    rt = open_runtime(Settings(home=scratch / "intake-alone"))
    try:
        batch_id, _ = open_batch(rt, sources, "370303", "system:bench", "none")
        ctx = steps.IngestContext(
            rt=rt,
            batch_id=batch_id,
            office="370303",
            engine_name="none",
            user="system:bench",
            submit=lambda data, key, raw: Future(),
            remote_prepare=True,
        )
        pages, size, started = 0, 0, time.perf_counter()
        for position, source in enumerate(sources):
            work = FileWork(position=position, source=source, record_id="")
            steps.identify(ctx, work)
            steps.keep_original(ctx, work)
            steps.scan_pages(ctx, work)
            pages += len(work.pages)
            size += sum(len(p.raw.data) for p in work.pages if p.raw is not None)
        return pages, time.perf_counter() - started, size
    finally:
        rt.close()


def broker_messages_per_second(broker: str, page_bytes: int, count: int = 1000) -> float:
    """Page tasks through Redis as the coordinator sends them (the page image in the message, base64),
    64 at a time: sent, taken and acknowledged, and a result stored and read for each (kombu, one
    client)."""
    from kombu import Connection

    body = {"kwargs": {"engine": "paddle-ppocrv4-mobile", "raw": {"data": "A" * (page_bytes * 4 // 3)}}}
    result = json.dumps({"status": "SUCCESS", "result": {"separator": None, "ocr_key": "x" * 90}})
    with Connection(broker) as conn:
        queue = conn.SimpleQueue(f"archive.scale-probe.{uuid.uuid4().hex[:6]}")
        client = conn.default_channel.client
        started = time.perf_counter()
        for first in range(0, count, 64):
            batch = range(first, min(count, first + 64))
            for _ in batch:
                queue.put(body)
            for i in batch:
                message = queue.get(timeout=5)
                message.ack()
                client.set(f"probe-result-{i}", result, ex=60)
            client.mget([f"probe-result-{i}" for i in batch])
        seconds = time.perf_counter() - started
        queue.queue.delete()
        queue.close()
        client.delete(*[f"probe-result-{i}" for i in range(count)])
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--limit", type=int, default=0, help="first N files only (0: all)")
    parser.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--dispatch-pages", type=int, default=64)
    parser.add_argument("--cores-per-machine", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to run (first: baseline)")
    args = parser.parse_args()
    sources = [str(p) for p in sorted(args.dir.glob("*.pdf"))]
    if args.limit:
        sources = sources[: args.limit]
    with tempfile.TemporaryDirectory(prefix="archive-scale-") as tmp:
        runs = [one_run(n, sources, args, Path(tmp)) for n in args.workers]
    one, two = runs[0], runs[-1]
    for run in runs:
        print(
            f"workers={run.workers} pages={run.pages} seconds={run.seconds:.1f} "
            f"pages_per_min={run.pages_per_minute:.1f} ocr_s_per_page={run.summary.ocr_seconds / max(1, run.pages):.3f} "
            f"cpu_busy={run.cpu_busy:.0%}"
        )

    # -- shared capacities, measured here (pages/min) ------------------------------------------
    pages = two.pages
    per_worker = two.pages_per_minute / two.workers
    with tempfile.TemporaryDirectory(prefix="archive-scale-") as tmp:
        intake_pages, intake_seconds, intake_bytes = intake_alone(sources, Path(tmp))
    intake = 60.0 * intake_pages / intake_seconds
    intake_busy = 60.0 * pages / max(two.summary.intake_seconds, 1e-9)
    commit = two.steps.get("commit", 0.0)
    database = 60.0 * pages / max(commit, 1e-9)
    index = 60.0 * pages / max(two.index_seconds, 1e-9)
    messages = broker_messages_per_second(args.broker, intake_bytes // max(1, intake_pages))
    files_per_page = len(sources) / max(1, pages)
    broker = 60.0 * messages / (1 + 2 * files_per_page)  # a page task, plus a finish and an index task per file
    print()
    print(f"per worker (1 process, 1 OCR thread): {per_worker:.1f} pages/min")
    print("shared capacity, pages/min (each measured alone on this 2-core machine; database and index from the run):")
    capacities = {
        "intake (one batch's coordinating process: open and keep files, take pages out)": intake,
        "broker (Redis: page task with its image + ack + result, one client)": broker,
        "database (file commits, one at a time, PostgreSQL 15 here)": database,
        "search index (embedded tantivy, one writer at a time)": index,
    }
    for name, value in capacities.items():
        print(f"  {name}: {value:,.0f}")
    print(
        f"  (steps summed over {len(sources)} files on the workers: "
        + ", ".join(f"{k} {v:.2f}s" for k, v in sorted(two.steps.items()))
        + f"; indexing {two.index_seconds:.2f}s; intake {two.summary.intake_seconds:.2f}s beside 2 workers "
        + f"= {intake_busy:,.0f} pages/min)"
    )
    cores = args.cores_per_machine
    per_machine = per_worker * cores
    print(f"model: machines of {cores} cores, one worker process per core -> {per_machine:,.0f} pages/min each")
    print(f"  {'machines':>8}  {'demand':>10}  limit")
    for machines in (1, 2, 4, 8, 16, 32, 64):
        demand = machines * per_machine
        short = [name.split(" (")[0] for name, cap in capacities.items() if cap < demand]
        print(f"  {machines:>8}  {demand:>10,.0f}  {', '.join(short) or 'none'}")
    ranked = sorted(capacities.items(), key=lambda item: item[1])
    first, cap = ranked[0]
    print(
        f"first bottleneck: {first.split(' (')[0]} at {cap:,.0f} pages/min = "
        f"{cap / per_worker:.0f} worker processes = {cap / per_machine:.1f} machines of {cores} cores"
    )
    if first.startswith("intake"):  # batches are coordinated independently: more batches at once, more intake
        second, cap2 = ranked[1]
        print(
            f"  with batches coordinated in parallel (one per API process or `archive ingest`), the next is "
            f"{second.split(' (')[0]} at {cap2:,.0f} pages/min = {cap2 / per_machine:.1f} machines, "
            f"reached with {cap2 / cap:.0f} batches at once"
        )
    print(f"workers={two.workers} speedup={two.pages_per_minute / one.pages_per_minute:.2f}")


if __name__ == "__main__":
    main()
