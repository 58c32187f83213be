"""Both OCR engines behind the same interface read a real scanned page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive.intake import open_source
from archive.settings import Settings
from ocr.page import read_page
from ocr.registry import EngineConfig, create_engine
from scripts.bench.quality import normalise
from tests.conftest import OCR_CACHE


@pytest.mark.parametrize("name", ["paddle", "rapid"])
def test_engine_reads_a_dev_page(name: str, dev_data: Path, tmp_path: Path) -> None:
    truth = json.loads((dev_data / "truth" / "dossier-002.json").read_text(encoding="utf-8"))
    page = next(open_source(str(dev_data / "dossiers" / "dossier-002.pdf"), Settings(home=tmp_path)).ingestor.pages())
    engine = create_engine(EngineConfig(name=name, threads=2, cache_dir=OCR_CACHE))
    reading = read_page(engine, page.data, 10**9)
    assert reading.separator is None and reading.ocr is not None
    text = normalise(reading.ocr.text)
    lines = [normalise(x) for x in truth["pages"][0]["lines"]]
    assert sum(line in text for line in lines) >= 0.6 * len(lines)
    for line in reading.ocr.lines:
        assert len(line.box) == 4 and 0.0 <= line.confidence <= 1.0
        assert 0 <= line.left <= line.right <= reading.ocr.width + 1


def test_unknown_engine_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown OCR engine"):
        create_engine(EngineConfig(name="tesseract", threads=1, cache_dir=tmp_path))
