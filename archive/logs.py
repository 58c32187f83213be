"""Structured logging: one JSON object per line."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        out.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure(log_file: Path | None, level: int = logging.INFO, echo: int | None = None) -> None:
    """Send the project's logs as JSON lines to ``log_file`` (or stderr), and quiet chatty libraries.
    ``echo``: also show records of this level and above on stderr (a server's warnings and errors,
    such as a port already in use, must not hide in the file)."""
    handler: logging.Handler
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handlers = [handler]
    if echo is not None and log_file is not None:
        shown = logging.StreamHandler()
        shown.setLevel(echo)
        shown.setFormatter(JsonFormatter())
        handlers.append(shown)
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level)
    for noisy in ("pypdf", "PIL", "alembic", "ppocr", "paddlex", "paddle", "RapidOCR"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
