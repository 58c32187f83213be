"""OCR worker pool: workers are replaced after their share of pages, and no page is lost doing so."""

from __future__ import annotations

from pathlib import Path

from archive.intake import open_source
from archive.settings import Settings
from ocr.pool import OcrPool
from ocr.registry import EngineConfig
from tests.conftest import FIXTURES, OCR_CACHE


def test_workers_rotate_after_their_pages(tmp_path: Path) -> None:
    source = open_source(str(FIXTURES / "synthetic" / "batch.pdf"), Settings(home=tmp_path))
    pages = [p.data for p in source.ingestor.pages()][:5]
    pool = OcrPool(EngineConfig("paddle", 1, OCR_CACHE), workers=1, recycle=2, pixel_limit=10**9)
    with pool:
        outcomes = [f.result() for f in [pool.submit(data) for data in pages]]
    assert all(o.error is None for o in outcomes)
    assert sum(o.separator is not None for o in outcomes) == 2  # pages 1 and 4 of the batch are separators
    pids = [o.pid for o in outcomes]
    assert pids[0] == pids[1] and pids[2] == pids[3] and len(set(pids)) == 3  # a new worker every 2 pages
    assert pool._retired == []  # closed pools are gone
