"""What one worker process keeps between tasks: its runtime (database, store, index), and its OCR engine.  Built on the first task (or at process start) and dropped with the process."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from archive.pipeline.runner import engine_config
from archive.runtime import Runtime, open_runtime
from archive.settings import get_settings
from ocr.pool import engine_name, init_worker

log = logging.getLogger(__name__)


@dataclass
class WorkerState:
    rt: Runtime
    engine: str
    _engine_ready: bool = False

    def ensure_engine(self) -> None:
        """Load the OCR engine (fixed thread count) once per process."""
        if not self._engine_ready:
            init_worker(engine_config(self.rt), self.rt.settings.max_image_pixels)
            self._engine_ready = True


_state: WorkerState | None = None


def state() -> WorkerState:
    """This process's state (built once).  Indexing is a task of its own here, not a commit hook."""
    global _state
    if _state is None:
        rt = open_runtime(get_settings(), index_on_commit=False)
        _state = WorkerState(rt=rt, engine=engine_name(engine_config(rt)))
    return _state


def forget() -> None:
    """Close the runtime (a process leaving, or a test)."""
    global _state
    if _state is not None:
        _state.rt.close()
        _state = None
