"""Ingest edge cases found in review: worker crashes, copies of refused files, odd separator sheets."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from sqlalchemy import func, select

from archive.pipeline.runner import run_batch
from archive.records.models import BatchFile, Dossier, Page
from archive.runtime import Runtime
from archive.settings import Settings
from archive.storage.base import IntegrityError
from archive.storage.filesystem import FilesystemStore
from ocr.pool import OcrPool, read_one
from ocr.registry import EngineConfig
from scripts.generate_fixtures import separator_page, write_pdf
from tests.conftest import FIXTURES, OCR_CACHE, settled

SYNTH = FIXTURES / "synthetic"


def _ingest(rt: Runtime, pool, sources: list[str]) -> list[dict]:
    lines: list[dict] = []
    run_batch(rt, sources, office="370303", user="system:test", emit=lines.append, pool_factory=lambda: pool)
    return lines


def _with_separators(tmp_path: Path, name: str, numbers: list[str | None], source: Path) -> Path:
    """A PDF: for each entry a separator sheet (None: none) followed by the source's pages."""
    writer = PdfWriter()
    reader = PdfReader(str(source))
    for i, number in enumerate(numbers):
        if number is not None:
            sheet = tmp_path / f"sep-{i}.pdf"
            write_pdf([separator_page(number, 150)], sheet, 150)
            writer.add_page(PdfReader(str(sheet)).pages[0])
        if i < len(numbers) - 1 or number is not None:
            for page in reader.pages:
                writer.add_page(page)
    out = tmp_path / name
    with out.open("wb") as fh:
        writer.write(fh)
    return out


def _crash_once(data: bytes, flag: str):
    """Kill the worker process the first time it is called (as the OOM killer would)."""
    if not os.path.exists(flag):
        Path(flag).write_text("crashed")
        os._exit(1)
    return read_one(data)


class CrashingPool(OcrPool):
    def __init__(self, flag: Path, cache: Path) -> None:
        super().__init__(EngineConfig("paddle", 1, cache), workers=1, recycle=1000, pixel_limit=10**9)
        self.flag = str(flag)

    def submit(self, data: bytes, image_key: str = "", raw=None):
        return self._executor.submit(_crash_once, data, self.flag)


def test_a_dead_ocr_worker_loses_no_file(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    from archive.runtime import open_runtime

    rt = open_runtime(settings)
    flag = tmp_path / "crashed"
    sources = [str(SYNTH / f"dossier-00{i}.pdf") for i in (1, 2, 3)]
    pools: list[CrashingPool] = []

    def factory() -> CrashingPool:
        pools.append(CrashingPool(flag, OCR_CACHE))
        return pools[-1]

    lines: list[dict] = []
    run_batch(rt, sources, office="370303", user="system:test", emit=lines.append, pool_factory=factory)
    rt.close()
    assert flag.exists() and len(pools) == 2  # one worker died, the pool was replaced once
    assert len(lines) == 3 and all(settled(x) for x in lines)
    assert [len(x["pages"]) for x in lines] == [2, 2, 3]


def test_copy_of_a_refused_file_is_reported_refused(runtime: Runtime, ocr_pool, tmp_path: Path) -> None:
    runtime.settings.max_image_pixels = 1000  # every page is "too large": the first copy is refused
    a = tmp_path / "a.pdf"
    b = tmp_path / "b.pdf"
    shutil.copyfile(SYNTH / "dossier-001.pdf", a)
    shutil.copyfile(SYNTH / "dossier-001.pdf", b)
    lines = _ingest(runtime, ocr_pool, [str(a), str(b)])
    assert [x["source"] for x in lines] == [str(a), str(b)]
    assert [x["status"] for x in lines] == ["rejected", "rejected"]
    assert lines[0]["problems"][0]["code"] == "image_too_large"
    assert lines[1]["problems"][0]["code"] == "duplicate_of_rejected"


def test_file_of_only_separators_is_refused(runtime: Runtime, ocr_pool, tmp_path: Path) -> None:
    sheet = tmp_path / "only-sep.pdf"
    write_pdf([separator_page("370303-ENRO-2020-永久-0001", 150)], sheet, 150)
    [line] = _ingest(runtime, ocr_pool, [str(sheet)])
    assert line["status"] == "rejected" and line["problems"][0]["code"] == "no_pages"
    with runtime.sessions() as s:
        assert s.scalar(select(BatchFile.status)) == "rejected"
        assert s.scalar(select(func.count()).select_from(Dossier)) == 0


def test_overlong_archive_number_is_a_problem_not_a_crash(runtime: Runtime, ocr_pool, tmp_path: Path) -> None:
    """PostgreSQL refuses over-long values: the 档号 is checked before it is recorded."""
    long_number = "370303-" + "X" * 120
    pdf = _with_separators(tmp_path, "long.pdf", [long_number], SYNTH / "dossier-002.pdf")
    lines = _ingest(runtime, ocr_pool, [str(pdf), str(SYNTH / "dossier-003.pdf")])
    assert lines[0]["status"] == "needs_review" and settled(lines[1])
    assert lines[0]["archive_number"] is None
    assert [p["code"] for p in lines[0]["problems"]] == ["invalid_archive_number"]


def test_pages_before_first_separator_and_empty_separator(runtime: Runtime, ocr_pool, tmp_path: Path) -> None:
    writer = PdfWriter()
    for page in PdfReader(str(SYNTH / "dossier-001.pdf")).pages:
        writer.add_page(page)  # loose pages before any separator
    for number in ("370303-ENRO-2020-永久-0001", "370303-ENRO-2020-永久-0002"):
        sheet = tmp_path / f"{number}.pdf"
        write_pdf([separator_page(number, 150)], sheet, 150)
        writer.add_page(PdfReader(str(sheet)).pages[0])
    for page in PdfReader(str(SYNTH / "dossier-002.pdf")).pages:
        writer.add_page(page)
    pdf = tmp_path / "mixed.pdf"
    with pdf.open("wb") as fh:
        writer.write(fh)
    lines = _ingest(runtime, ocr_pool, [str(pdf)])
    assert [x["archive_number"] for x in lines] == [None, "370303-ENRO-2020-永久-0002"]
    assert "pages_before_separator" in [p["code"] for p in lines[0]["problems"]]
    assert any(p["code"] == "empty_dossier" and "0001" in p["detail"] for p in lines[0]["problems"])
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Page)) == 4  # 2 + 2 pages, no separator sheet


def test_invalid_office_is_refused(runtime: Runtime, ocr_pool) -> None:
    with pytest.raises(ValueError, match="经办机构代码"):
        run_batch(
            runtime,
            [str(SYNTH / "dossier-001.pdf")],
            office="x" * 40,
            user="t",
            emit=print,
            pool_factory=lambda: ocr_pool,
        )


def test_put_file_refuses_a_file_that_changes_while_copied(tmp_path: Path, monkeypatch) -> None:
    store = FilesystemStore(tmp_path / "objects")
    src = tmp_path / "scan.pdf"
    src.write_bytes(b"first version" * 1000)
    import archive.storage.filesystem as fs

    real = fs.sha256_file

    def hash_then_change(path: Path):
        result = real(path)
        src.write_bytes(b"second version" * 1000)  # the scanner is still writing
        return result

    monkeypatch.setattr(fs, "sha256_file", hash_then_change)
    key = "originals/aa/" + "a" * 64
    with pytest.raises(IntegrityError):
        store.put_file(key, src)
    monkeypatch.undo()
    assert not store.exists(key)
    assert list(store.keys()) == []


def test_abandoned_batch_is_marked_interrupted(runtime: Runtime, ocr_pool) -> None:
    import socket

    from archive.records.models import Batch

    with runtime.sessions.begin() as s:
        s.add(
            Batch(
                created_by="t",
                office="370303",
                status="running",
                fingerprint="x" * 64,
                engine="e",
                host=socket.gethostname(),
                pid=2**22 + 12345,
                counts={},
            )
        )  # no such process
    _ingest(runtime, ocr_pool, [str(SYNTH / "dossier-001.pdf")])
    with runtime.sessions() as s:
        statuses = sorted(s.scalars(select(Batch.status)).all())
    assert statuses == ["completed", "interrupted"]
