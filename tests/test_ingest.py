"""Ingest end to end with the real PaddleOCR engine, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from archive.pipeline.runner import run_batch
from archive.records.models import BatchFile, Dossier, OcrResult, Original, Page
from archive.runtime import Runtime
from scripts.bench.quality import normalise
from tests.conftest import FIXTURES, settled

SYNTH = FIXTURES / "synthetic"


def _ingest(rt: Runtime, ocr_pool, sources: list[str]) -> list[dict]:
    lines: list[dict] = []
    run_batch(rt, sources, office="370303", user="system:test", emit=lines.append, pool_factory=lambda: ocr_pool)
    return lines


def _truth(name: str) -> dict:
    return json.loads((SYNTH / name).read_text(encoding="utf-8"))


def test_separator_batch_splits_into_dossiers(runtime: Runtime, ocr_pool) -> None:
    batch = _truth("batch.json")
    lines = _ingest(runtime, ocr_pool, [str(SYNTH / "batch.pdf")])

    assert [line["archive_number"] for line in lines] == batch["archive_numbers"]
    assert all(settled(line) for line in lines)
    assert all(line["source"] == str(SYNTH / "batch.pdf") for line in lines)
    uscc_read = 0
    for line, name in zip(lines, batch["dossiers"], strict=True):
        truth = _truth(name.replace(".pdf", ".json"))
        # separator sheets are not archived; pages are numbered from 1 within each dossier
        assert [p["number"] for p in line["pages"]] == [p["n"] for p in truth["pages"]]
        assert truth["person"]["id_number"] in line["identifiers"]["id_numbers"]
        assert line["business_type"] == truth["business_type"]
        assert line["record"]["id_number"] == truth["person"]["id_number"]
        assert line["candidates"][0]["business_type"] == truth["business_type"]
        assert len(line["model_sha256"]) == 64
        uscc_read += truth["unit"]["uscc"] in line["identifiers"]["uscc"]
        for page, truth_page in zip(line["pages"], truth["pages"], strict=True):
            assert normalise(truth_page["lines"][0]) in normalise(page["text"])  # the title line
            assert 0.0 < page["confidence"] <= 1.0
    assert uscc_read >= 2  # OCR may drop a character of one 18-character code; never of most
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Dossier)) == 3
        assert s.scalar(select(func.count()).select_from(Page)) == batch["page_count"] - len(batch["separator_pages"])
        pages = s.scalars(select(Page).order_by(Page.image_key)).all()
        # every page image and OCR result is stored, and the store verifies it on read
        for page in pages:
            assert hashlib.sha256(runtime.store.get(page.image_key)).hexdigest() == page.image_sha256
            assert json.loads(runtime.store.get(page.ocr_key))["text_lines"] == page.text.split("\n")
            assert page.lines and all({"text", "box", "confidence"} <= set(ln) for ln in page.lines)


def test_original_kept_byte_for_byte_and_searchable_pdf(runtime: Runtime, ocr_pool) -> None:
    source = SYNTH / "dossier-003.pdf"
    truth = _truth("dossier-003.json")
    [line] = _ingest(runtime, ocr_pool, [str(source)])
    with runtime.sessions() as s:
        original = s.scalar(select(Original))
        dossier = s.get(Dossier, line["dossier"])
    assert runtime.store.get(original.object_key) == source.read_bytes()
    assert original.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()

    pdf = PdfReader(io.BytesIO(runtime.store.get(dossier.searchable_pdf_key)))
    assert len(pdf.pages) == len(truth["pages"])
    for page, truth_page in zip(pdf.pages, truth["pages"], strict=True):
        text = normalise(page.extract_text())
        found = sum(normalise(t) in text for t in truth_page["lines"])
        assert found >= 0.8 * len(truth_page["lines"]), (found, truth_page["lines"], text)


def test_duplicate_original_is_reported_not_stored_twice(runtime: Runtime, ocr_pool, tmp_path: Path) -> None:
    source = SYNTH / "dossier-001.pdf"
    copy = tmp_path / "renamed-copy.pdf"
    shutil.copyfile(source, copy)
    first = _ingest(runtime, ocr_pool, [str(source)])
    second = _ingest(runtime, ocr_pool, [str(copy), str(source)])

    assert len(first) == 1 and settled(first[0])
    assert [x["status"] for x in second] == ["duplicate", "duplicate"]
    assert all(x["dossier"] == first[0]["dossier"] for x in second)
    assert all(any(p["code"] == "duplicate" for p in x["problems"]) for x in second)
    assert len(list(runtime.store.keys("originals/"))) == 1
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Original)) == 1
        assert s.scalar(select(func.count()).select_from(Dossier)) == 1


def test_same_file_twice_in_one_batch(runtime: Runtime, ocr_pool) -> None:
    source = str(SYNTH / "dossier-002.pdf")
    lines = _ingest(runtime, ocr_pool, [source, source])
    assert settled(lines[0]) and lines[1]["status"] == "duplicate"


def test_identical_page_image_is_flagged(runtime: Runtime, ocr_pool, tmp_path: Path) -> None:
    """A page scanned again inside another file is flagged as a duplicate page."""
    from pypdf import PdfWriter

    one = PdfReader(str(SYNTH / "dossier-001.pdf"))
    two = PdfReader(str(SYNTH / "dossier-002.pdf"))
    writer = PdfWriter()
    writer.add_page(two.pages[0])
    writer.add_page(one.pages[0])  # the same scan as dossier-001 page 1
    mixed = tmp_path / "mixed.pdf"
    with mixed.open("wb") as fh:
        writer.write(fh)
    _ingest(runtime, ocr_pool, [str(SYNTH / "dossier-001.pdf")])
    [line] = _ingest(runtime, ocr_pool, [str(mixed)])
    dup = [p for p in line["problems"] if p["code"] == "duplicate_page"]
    assert len(dup) == 1 and dup[0]["page"] == 2


def test_bad_files_are_rejected_and_the_batch_goes_on(runtime: Runtime, ocr_pool, tmp_path: Path) -> None:
    from pypdf import PdfWriter

    good = SYNTH / "dossier-002.pdf"
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"this is not a pdf at all" * 20)
    encrypted = tmp_path / "encrypted.pdf"
    writer = PdfWriter(clone_from=str(good))
    writer.encrypt("secret")
    with encrypted.open("wb") as fh:
        writer.write(fh)
    empty = tmp_path / "zero-pages.pdf"
    with empty.open("wb") as fh:
        PdfWriter().write(fh)
    word = tmp_path / "notes.docx"
    word.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    sources = [str(truncated), str(fake), str(good), str(encrypted), str(empty), str(word), str(tmp_path / "gone.pdf")]

    lines = _ingest(runtime, ocr_pool, sources)

    by_source = {x["source"]: x for x in lines}
    assert len(lines) == len(sources)
    expected = {
        str(truncated): "pdf_unreadable",
        str(fake): "not_a_pdf",
        str(encrypted): "pdf_encrypted",
        str(empty): "pdf_no_pages",
        str(word): "unsupported_type",
        str(tmp_path / "gone.pdf"): "file_not_found",
    }
    for source, code in expected.items():
        line = by_source[source]
        assert line["status"] == "rejected" and line["dossier"] is None
        assert [p["code"] for p in line["problems"]] == [code]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in line["problems"][0]["detail"])  # a Chinese reason
    assert settled(by_source[str(good)])
    with runtime.sessions() as s:
        statuses = dict(
            s.execute(select(BatchFile.source, BatchFile.status)).all()  # one record per file given
        )
    assert statuses[str(good)] == "ingested" and list(statuses.values()).count("rejected") == 6


def test_rotated_pages_are_turned_upright(runtime: Runtime, ocr_pool, tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "rotated"
    subprocess.run(
        [sys.executable, "scripts/generate_fixtures.py", str(out), "--count", "3", "--seed", "11", "--rotate"],
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    sources = sorted(out.glob("dossier-*.pdf"))
    lines = _ingest(runtime, ocr_pool, [str(p) for p in sources])
    seen = set()
    for line, source in zip(lines, sources, strict=True):
        truth = json.loads(source.with_suffix(".json").read_text(encoding="utf-8"))
        for page, truth_page in zip(line["pages"], truth["pages"], strict=True):
            assert page["rotation"] == truth_page["rotation"], (source.name, page["number"])
            assert normalise(truth_page["lines"][0]) in normalise(page["text"])
            seen.add(truth_page["rotation"])
    assert seen >= {90, 180, 270}


def test_ocr_results_are_remembered_per_engine(runtime: Runtime, ocr_pool) -> None:
    _ingest(runtime, ocr_pool, [str(SYNTH / "dossier-001.pdf")])
    with runtime.sessions() as s:
        cached = s.scalars(select(OcrResult)).all()
        pages = s.scalars(select(Page)).all()
    assert {c.image_sha256 for c in cached} == {p.image_sha256 for p in pages}


@pytest.mark.parametrize("name", ["dossier-004.pdf", "dossier-021.pdf"])
def test_dev_dossier_text_quality(runtime: Runtime, ocr_pool, dev_data: Path, name: str) -> None:
    """On the shared scans the pipeline's text is close to the truth (CER well under 5%)."""
    from scripts.bench.quality import Quality

    truth = json.loads((dev_data / "truth" / name.replace(".pdf", ".json")).read_text(encoding="utf-8"))
    [line] = _ingest(runtime, ocr_pool, [str(dev_data / "dossiers" / name)])
    quality = Quality()
    quality.add_dossier(truth, line)
    assert quality.ref_chars > 100
    assert quality.cer < 0.05, quality.cer
    assert len(line["pages"]) == truth["actual_pages"]
