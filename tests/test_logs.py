"""Structured logs: one JSON object per line in the log file; a server also shows its warnings and
errors on stderr, so that a failure such as a port already in use does not hide in the file."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive import logs


@pytest.fixture
def restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_every_record_is_a_json_line_and_warnings_are_echoed(tmp_path: Path, capsys, restored) -> None:
    path = tmp_path / "logs" / "archive.jsonl"
    logs.configure(path, echo=logging.WARNING)
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/", "1.1", 200)
    logging.getLogger("uvicorn.error").error("[Errno 98] error while attempting to bind on address")
    for handler in logging.getLogger().handlers:
        handler.flush()
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [(e["logger"], e["level"]) for e in lines] == [("uvicorn.access", "info"), ("uvicorn.error", "error")]
    assert lines[0]["event"] == '127.0.0.1:1 - "GET / HTTP/1.1" 200'
    shown = capsys.readouterr().err
    assert "attempting to bind" in shown and "HTTP/1.1" not in shown  # only warnings and above


def test_without_echo_nothing_reaches_stderr(tmp_path: Path, capsys, restored) -> None:
    logs.configure(tmp_path / "a.jsonl")
    logging.getLogger("archive.test").error("kept in the file")
    assert capsys.readouterr().err == ""
    assert "kept in the file" in (tmp_path / "a.jsonl").read_text(encoding="utf-8")
