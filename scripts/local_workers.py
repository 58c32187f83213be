"""Real `archive worker` processes on this machine, for tests and benchmarks.

``local_workers(settings, count, concurrency)`` starts them (each in its own process group, so a
test can kill one with its task processes), waits until every one answers a ping and every task
process has loaded its OCR engine, and stops them afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archive.settings import Settings

PASSED_ON = (
    "home",
    "database_url",
    "broker_url",
    "result_url",
    "ocr_engine",
    "ocr_threads",
    "worker_recycle_tasks",
    "task_visibility_seconds",
    "task_ocr_seconds",
    "task_file_seconds",
)


def worker_env(settings: Settings) -> dict[str, str]:
    """This environment without ARCHIVE_ variables, plus the settings a worker must share."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    for name in PASSED_ON:
        value = getattr(settings, name)
        if value is not None:
            env[f"ARCHIVE_{name.upper()}"] = str(value)
    return env


def engines_loaded(settings: Settings) -> int:
    """Task processes that have logged their OCR engine as loaded (the worker JSON log)."""
    log = settings.home / "logs" / "worker.jsonl"
    if not log.exists():
        return 0
    count = 0
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            count += json.loads(line).get("event") == "ocr engine loaded"
        except ValueError:
            continue
    return count


@contextmanager
def local_workers(settings: Settings, count: int, concurrency: int = 1) -> Iterator[list[subprocess.Popen]]:
    from archive.distributed.queues import workers_online

    settings.home.mkdir(parents=True, exist_ok=True)
    before = engines_loaded(settings)
    exe = shutil.which("archive", path=str(Path(sys.executable).parent)) or "archive"
    procs = [
        subprocess.Popen(
            [exe, "worker", f"--concurrency={concurrency}", f"--name=local{i}.{os.getpid()}@%h"],
            env=worker_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for i in range(count)
    ]
    try:
        deadline = time.monotonic() + 180
        while (
            len(workers_online(settings, timeout=1.0)) < count
            or engines_loaded(settings) - before < count * concurrency
        ):
            if any(p.poll() is not None for p in procs):
                raise RuntimeError("an `archive worker` exited while starting")
            if time.monotonic() > deadline:
                raise TimeoutError("workers not ready in 180 s")
            time.sleep(0.2)
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
