"""Fixity benchmark: how fast the filesystem store's objects are re-hashed (target ≥ 300 MB/s).

    .venv/bin/python -m scripts.bench.integrity [--total-mb 1536] [--min-kb 50] [--max-mb 20]
                                                [--rounds 3] [--workers 4] [--dir /tmp] [--cold] [--seed 1]

Generates objects of mixed sizes (log-uniform between ``--min-kb`` and ``--max-mb``, ``--total-mb`` in
all; generation not timed) in a temporary ``FilesystemStore``, then times, over the same objects:

- baseline: plain ``hashlib.sha256`` over each body file, read with ``readinto`` into one reused
  8 MiB buffer (no store, no sidecar, no checks);
- ``store.verify(key)``: the store's own re-hash (sidecar read, body hashed, digest and size compared);
- ``verify_object``: what ``archive integrity check`` runs per due object (``stat`` + ``verify`` + the
  comparison with the digest the records hold), one at a time and on ``--workers`` threads, as the
  ``object_digest`` check does (default 4, like ``archive integrity check --workers``).

The phases run ``--rounds`` times, interleaved (so that load from other processes on a shared machine
hits them alike); each line gives the best round's MB/s and objects/s, its ratio to the baseline's best,
the median round's MB/s, and the phase's peak RSS (the high-water mark is reset before each phase
through ``/proc/self/clear_refs``) as a ratio to the baseline's.
Objects were just written, so the page cache holds them: the numbers are hash-bound.  ``--cold`` drops
each file from the page cache (``posix_fadvise(DONTNEED)``, this benchmark's files only) before every
phase, so the disk is part of the measurement.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import random
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from archive.integrity.fixity import verify_object
from archive.storage.base import content_key, sha256_bytes
from archive.storage.filesystem import FilesystemStore

MB = 1_000_000
BUFFER = 8 << 20


def _reset_peak() -> bool:
    """Reset this process's RSS high-water mark (Linux ≥ 4.0); False where it cannot be."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _sizes(total: int, low: int, high: int, rng: random.Random) -> list[int]:
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(int(math.exp(rng.uniform(math.log(low), math.log(high)))))
    return sizes


def generate(store: FilesystemStore, sizes: list[int], rng: random.Random) -> list[tuple[str, str, int]]:
    """(key, sha256, size) of each object written."""
    out = []
    for size in sizes:
        data = rng.randbytes(size)
        sha = sha256_bytes(data)
        key = content_key("bench", sha, ".bin")
        store.put(key, data)
        out.append((key, sha, size))
    return out


def _drop_cache(paths: list[Path]) -> None:
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def baseline_hash(path: Path, buf: bytearray) -> str:
    digest = hashlib.sha256()
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            digest.update(view[:n])
    return digest.hexdigest()


def timed(label: str, run: Callable[[], int], paths: list[Path], cold: bool) -> tuple[str, float, float]:
    """(label, seconds, peak RSS MB) of ``run``, which returns how many objects failed."""
    if cold:
        _drop_cache(paths)
    _reset_peak()
    start = time.perf_counter()
    failed = run()
    seconds = time.perf_counter() - start
    if failed:
        raise SystemExit(f"{label}: {failed} objects failed verification")
    return label, seconds, _peak_mb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--total-mb", type=int, default=1536)
    parser.add_argument("--min-kb", type=int, default=50)
    parser.add_argument("--max-mb", type=int, default=20)
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary store goes (default: $TMPDIR)")
    parser.add_argument("--cold", action="store_true", help="drop the files from the page cache before each phase")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=4, help="threads for the parallel phase")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions; the best is reported")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="bench-integrity-", dir=args.dir))
    try:
        store = FilesystemStore(root / "objects")
        start = time.perf_counter()
        objects = generate(store, _sizes(args.total_mb * MB, args.min_kb * 1000, args.max_mb * MB, rng), rng)
        generated = time.perf_counter() - start
        total = sum(size for _, _, size in objects)
        paths = [store.root / key for key, _, _ in objects]
        buf = bytearray(BUFFER)

        def baseline() -> int:
            return sum(baseline_hash(p, buf) != sha for p, (_, sha, _) in zip(paths, objects, strict=True))

        def store_verify() -> int:
            return sum(not store.verify(key) for key, _, _ in objects)

        def integrity_verify() -> int:
            return sum(not verify_object(store, key, sha, size).ok for key, sha, size in objects)

        def integrity_parallel() -> int:
            with ThreadPoolExecutor(args.workers) as pool:
                return sum(not r.ok for r in pool.map(lambda o: verify_object(store, *o), objects))

        runs = [
            ("baseline: hashlib.sha256, 8 MiB readinto", baseline),
            ("FilesystemStore.verify", store_verify),
            ("integrity verify_object (stat + verify)", integrity_verify),
            (f"integrity verify_object, {args.workers} threads", integrity_parallel),
        ]
        rounds = [[timed(label, run, paths, args.cold) for label, run in runs] for _ in range(max(1, args.rounds))]
    finally:
        shutil.rmtree(root, ignore_errors=True)

    sizes = sorted(size for _, _, size in objects)
    print(
        f"objects: {len(objects)}, {total / MB:.0f} MB (sizes {sizes[0] / 1000:.0f} KB – {sizes[-1] / MB:.1f} MB, "
        f"median {sizes[len(sizes) // 2] / MB:.2f} MB), generated in {generated:.1f} s; "
        f"page cache: {'dropped before each phase' if args.cold else 'warm (just written)'}; CPUs: {os.cpu_count()}"
    )
    print(f"{len(rounds)} interleaved rounds; best round shown, median in brackets")
    best = [min(times, key=lambda t: t[1]) for times in zip(*rounds, strict=True)]
    medians = [statistics.median(t[1] for t in times) for times in zip(*rounds, strict=True)]
    peaks = [max(t[2] for t in times) for times in zip(*rounds, strict=True)]
    base_s, base_rss = best[0][1], peaks[0]
    for (label, seconds, _), median, rss in zip(best, medians, peaks, strict=True):
        rate, per_s = total / MB / seconds, len(objects) / seconds
        print(
            f"{label:42s} {rate:6.0f} MB/s ({total / MB / median:4.0f}) {per_s:7.1f} objects/s  "
            f"ratio {base_s / seconds:4.2f}  peak RSS {rss:5.0f} MB ({rss / base_rss:4.2f}x baseline)"
        )


if __name__ == "__main__":
    main()
