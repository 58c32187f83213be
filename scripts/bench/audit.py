"""Access-log benchmark: durable appends per second and verification speed.

    python scripts/bench/audit.py [--entries 20000] [--threads 16] [--verify-entries 100000]
                                  [--database-url URL] [--algorithm sha256|sm3]

Baseline in the same run: plain durable INSERTs of the same rows without the chain (no head lock,
no hashing), so the ratio shows what tamper evidence costs.  Every append is its own committed
transaction (SQLite: WAL, synchronous=FULL) unless stated as a group commit.

The writer line is the production path: ``--threads`` request threads each append single events
through one ``AuditWriter``, every call blocking until its entry is durably committed; the writer
coalesces what arrives during a commit into the next transaction.  Before verifying, the log is
topped up with group commits to ``--verify-entries`` entries.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from archive.audit.log import AccessEvent, AccessLog  # noqa: E402
from archive.audit.verify import verify  # noqa: E402
from archive.audit.writer import AuditWriter  # noqa: E402
from archive.runtime import open_runtime  # noqa: E402
from archive.settings import Settings  # noqa: E402


def event(i: int) -> AccessEvent:
    return AccessEvent(
        actor=f"user{i % 50}",
        role="caseworker",
        action="dossier_open",
        office="370303",
        client="10.0.0.8",
        targets=(f"01a2{i:032x}",),
        detail={"page": i % 9},
    )


def through_writer(writer: AuditWriter, n: int, threads: int) -> float:
    """Sustained entries/s: ``threads`` producers, each appending its share one event at a time."""
    errors: list[BaseException] = []
    share = [n // threads + (1 if k < n % threads else 0) for k in range(threads)]
    start_line = threading.Barrier(threads + 1)

    def produce(k: int) -> None:
        start_line.wait()
        try:
            base = sum(share[:k])
            for i in range(share[k]):
                writer.append(event(base + i))
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    workers = [threading.Thread(target=produce, args=(k,)) for k in range(threads)]
    for worker in workers:
        worker.start()
    start_line.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=16, help="producer threads for the writer test")
    parser.add_argument("--verify-entries", type=int, default=100000, help="log size for the verify test")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--algorithm", default="sha256", choices=["sha256", "sm3"])
    args = parser.parse_args()
    n = args.entries
    with tempfile.TemporaryDirectory() as home:
        rt = open_runtime(Settings(home=Path(home), database_url=args.database_url))
        with rt.db.begin() as conn:
            conn.execute(
                text("CREATE TABLE bench_plain (id INTEGER PRIMARY KEY, actor TEXT, action TEXT, target TEXT)")
            )
        start = time.perf_counter()
        for i in range(n):
            with rt.db.begin() as conn:
                conn.execute(
                    text("INSERT INTO bench_plain VALUES (:i, :a, 'dossier_open', :t)"),
                    {"i": i, "a": f"user{i % 50}", "t": f"d{i}"},
                )
        plain = n / (time.perf_counter() - start)

        log = AccessLog(rt, algorithm=args.algorithm, checkpoint_every=1000)
        start = time.perf_counter()
        for i in range(n):
            log.append(event(i))
        chained = n / (time.perf_counter() - start)

        start = time.perf_counter()
        for i in range(0, n, 50):
            log.append_many([event(i + k) for k in range(50)])
        grouped = n / (time.perf_counter() - start)
        log.checkpoint()

        writer = AuditWriter(rt, algorithm=args.algorithm, checkpoint_every=1000)
        written = through_writer(writer, n, args.threads)
        writer.close()

        with rt.db.connect() as conn:
            have = conn.execute(text("SELECT count(*) FROM access_log")).scalar_one()
        for i in range(have, args.verify_entries, 1000):
            log.append_many([event(i + k) for k in range(min(1000, args.verify_entries - i))])
        log.checkpoint()

        start = time.perf_counter()
        result = verify(rt)
        verify_rate = result.entries / (time.perf_counter() - start)
        dialect = rt.db.dialect.name
        rt.close()
    print(f"database: {dialect}, hash: {args.algorithm}, entries per test: {n}")
    print(f"plain durable INSERT (baseline):       {plain:9.0f} /s")
    print(f"chained append, one commit each:       {chained:9.0f} /s  ratio {chained / plain:.2f}")
    print(f"chained append, group commit of 50:    {grouped:9.0f} /s  ratio {grouped / plain:.2f}")
    print(
        f"writer, {args.threads} threads, one event per call: {written:9.0f} /s  ratio {written / plain:.2f}"
        "  (each call waits for its durable commit)"
    )
    print(f"verify ({result.entries} entries, {result.checkpoints} checkpoints, ok={result.ok}): {verify_rate:9.0f} /s")


if __name__ == "__main__":
    main()
