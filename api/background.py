"""A small periodic job on a daemon thread (the search outbox catch-up), stopped with the app."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Periodic:
    def __init__(self, every_s: float, job: Callable[[], object], name: str) -> None:
        self._every = every_s
        self._job = job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        while True:  # first run at once: catch up on what was queued while the app was down
            self._job()
            if self._stop.wait(self._every):
                return

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
