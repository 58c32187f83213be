"""The four-property checks (四性检测) on a really ingested dossier: a clean archive passes, and each
kind of damage (a flipped byte, a deleted object, a lost or renumbered page row, a writable file,
bad metadata, an unusable rendition, a lock removed on MinIO) is caught, named by key and dossier,
exits non-zero and is written to the access log.

One real dossier of the development set (cover, 卷内目录 of three entries, six pages) is ingested
once with PaddleOCR; every test works on its own copy of that archive home.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image
from pypdf import PdfWriter
from sqlalchemy import select, update

from archive.cli_integrity import integrity
from archive.cli_retention import retention
from archive.integrity import CheckOptions, IntegrityReport, run_checks, run_scheduled
from archive.integrity.run import select_dossiers
from archive.pipeline.runner import run_batch
from archive.records.models import AccessLogEntry, Document, Dossier, FixityCheck, Original, Page
from archive.retention.holds import marker
from archive.retention.period import required_hold
from archive.runtime import Runtime, open_runtime
from archive.settings import Settings, get_settings
from archive.storage.base import content_digest, content_key, sha256_bytes
from tests.contract.s3_server import moto_only, session_s3

DOSSIER = "dossier-002.pdf"  # 职工参保登记: cover, 卷内目录 with 3 entries, 6 pages


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, ocr_pool, dev_data: Path) -> Path:
    """An archive home holding one archived, fully described dossier (ingested once per module)."""
    home = tmp_path_factory.mktemp("integrity") / "home"
    rt = open_runtime(Settings(home=home, ocr_workers=0, ocr_threads=2))
    try:
        lines: list[dict] = []
        source = str(dev_data / "dossiers" / DOSSIER)
        run_batch(rt, [source], office="370303", user="system:test", emit=lines.append, pool_factory=lambda: ocr_pool)
        [line] = lines
        assert line["status"] == "archived", line["problems"]
        with rt.sessions() as s:
            dossier = s.get(Dossier, line["dossier"])
            assert dossier is not None and dossier.title and dossier.archive_number and dossier.date_end
            assert s.scalars(select(Document).where(Document.dossier_id == dossier.id)).all()
    finally:
        rt.close()
    return home


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "home"
    shutil.copytree(template, target)  # keeps the 0444 modes of the stored objects
    return target


@pytest.fixture
def rt(home: Path) -> Iterator[Runtime]:
    runtime = open_runtime(Settings(home=home, ocr_workers=0))
    yield runtime
    runtime.close()


def _cli(home: Path, *args: str) -> Result:
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(integrity, ["check", *args], env={"ARCHIVE_HOME": str(home)})
    finally:
        get_settings.cache_clear()


def _json(result: Result) -> dict:
    return json.loads(result.stdout)


def _dossier(rt: Runtime) -> Dossier:
    with rt.sessions() as s:
        return s.scalars(select(Dossier)).one()


def _pages(rt: Runtime) -> list[Page]:
    with rt.sessions() as s:
        return list(s.scalars(select(Page).order_by(Page.number)))


def _key(rt: Runtime, kind: str) -> str:
    dossier, pages = _dossier(rt), _pages(rt)
    with rt.sessions() as s:
        original = s.get(Original, dossier.original_id)
    assert original is not None
    return {
        "original": original.object_key,
        "page_image": pages[1].image_key,
        "ocr_result": pages[2].ocr_key,
        "searchable_pdf": dossier.searchable_pdf_key,
    }[kind]


def _log(rt: Runtime) -> list[AccessLogEntry]:
    with rt.sessions() as s:
        return list(s.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "integrity_check")))


def _failures(report: dict | IntegrityReport, code: str) -> list[dict]:
    data = report.to_json() if isinstance(report, IntegrityReport) else report
    return [f for f in data["failures"] if f["code"] == code]


def _flip_byte(path: Path, offset: int | None = None) -> None:
    """Rot one byte at rest: the store's files are read-only, so make it writable and back."""
    os.chmod(path, 0o644)
    with path.open("r+b") as fh:
        fh.seek(offset if offset is not None else path.stat().st_size // 2)
        byte = fh.read(1)
        fh.seek(-1, io.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0x01]))
    os.chmod(path, 0o444)


# -- a clean archive ------------------------------------------------------------------------------


def test_clean_archive_passes_and_is_logged(home: Path) -> None:
    result = _cli(home, "--json")
    assert result.exit_code == 0, result.output
    report = _json(result)
    assert report["ok"] is True and report["failures"] == []
    assert report["dossiers"] == report["dossiers_total"] == 1
    assert report["objects"] == report["objects_read"] == 1 + 6 + 6 + 1  # original, images, OCR, PDF
    for prop in ("authenticity", "integrity", "usability", "security"):
        assert report["properties"][prop]["checked"] > 0 and report["properties"][prop]["failed"] == 0
    assert report["properties"]["authenticity"]["checks"]["object_digest"]["checked"] == 14
    assert report["properties"]["usability"]["checks"]["page_images_decode"]["checked"] == 6

    text = _cli(home, "--due", "0")
    assert text.exit_code == 0, text.output
    assert "真实性" in text.stdout and "安全性" in text.stdout and "结论：合格" in text.stdout

    rt = open_runtime(Settings(home=home))
    try:
        entries = _log(rt)
        with rt.sessions() as s:
            rows = list(s.scalars(select(FixityCheck)))
    finally:
        rt.close()
    assert len(entries) == 2 and all(e.outcome == "allowed" and e.role == "admin-cli" for e in entries)
    assert entries[0].detail["ok"] is True and entries[0].detail["objects_read"] == 14
    assert entries[0].detail["properties"]["integrity"]["failed"] == 0
    assert len(rows) == 14 and all(r.ok and r.code is None for r in rows)
    assert all(r.sha256 in r.object_key for r in rows if content_digest(r.object_key))


def test_incremental_runs_read_only_what_is_due(rt: Runtime) -> None:
    first = run_checks(rt, CheckOptions(due_days=90))
    assert first.ok and first.objects_read == 14 and first.bytes_verified > 0
    second = run_checks(rt, CheckOptions(due_days=90))
    assert second.ok and second.objects_read == 0 and second.bytes_verified == 0
    # presence, metadata and protection are still checked without reading any bytes
    assert second.by_property()["integrity"]["checked"] == first.by_property()["integrity"]["checked"]
    assert second.by_property()["security"]["checked"] == 2 * 14  # write protection and retention, per object

    stale = _key(rt, "page_image")
    with rt.sessions.begin() as s:
        s.execute(
            update(FixityCheck)
            .where(FixityCheck.object_key == stale)
            .values(checked_at=datetime.now(UTC) - timedelta(days=100))
        )
    third = run_checks(rt, CheckOptions(due_days=90))
    assert third.ok and third.objects_read == 1
    assert run_checks(rt, CheckOptions(due_days=0)).objects_read == 14


def test_sample_fraction() -> None:
    ids = [f"d{i:03d}" for i in range(100)]
    picked = select_dossiers(ids, CheckOptions(sample=0.1, seed=7))
    assert len(picked) == 10 and set(picked) <= set(ids) and picked == sorted(picked)
    assert picked == select_dossiers(ids, CheckOptions(sample=0.1, seed=7))
    assert len(select_dossiers(ids[:3], CheckOptions(sample=0.1))) == 1  # never nothing
    assert select_dossiers(ids, CheckOptions(sample=1.0)) == ids
    with pytest.raises(ValueError):
        CheckOptions(sample=0)


def test_sample_option_on_the_command_line(home: Path) -> None:
    result = _cli(home, "--sample", "0.1", "--json")
    assert result.exit_code == 0, result.output
    assert _json(result)["sample"] == 0.1 and _json(result)["dossiers"] == 1
    assert _cli(home, "--sample", "0").exit_code == 2  # a usage error


def test_scheduled_run_logs_and_reports(home: Path) -> None:
    report = run_scheduled(Settings(home=home), due_days=30)
    assert report.ok and report.due_days == 30
    rt = open_runtime(Settings(home=home))
    try:
        assert [e.detail["due_days"] for e in _log(rt)] == [30]
    finally:
        rt.close()


# -- authenticity ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["original", "page_image", "ocr_result", "searchable_pdf"])
def test_one_flipped_byte_is_caught_and_named(home: Path, rt: Runtime, kind: str) -> None:
    key = _key(rt, kind)
    dossier = _dossier(rt).id
    _flip_byte(home / "objects" / key)

    result = _cli(home, "--json")
    assert result.exit_code == 1
    report = _json(result)
    [failure] = report["failures"]  # reported once: later checks skip what already failed
    assert failure == {
        "property": "authenticity",
        "check": "object_digest",
        "code": "object_corrupt",
        "key": key,
        "dossiers": [dossier],
        "page": None,
        "detail": failure["detail"],
    }
    text = _cli(home)
    assert text.exit_code == 1 and key in text.stdout and dossier in text.stdout and "object_corrupt" in text.stdout

    [entry, _] = _log(rt)
    assert entry.detail["ok"] is False and entry.detail["failing_keys"] == [key]
    assert entry.detail["codes"] == ["object_corrupt"] and entry.targets == [dossier]
    with rt.sessions() as s:
        row = s.get(FixityCheck, key)
    assert row is not None and row.ok is False and row.code == "object_corrupt" and row.sha256 is None
    # a failed object stays due: the next incremental run reads it again
    assert _failures(run_checks(rt, CheckOptions(due_days=90)), "object_corrupt")[0]["key"] == key


def test_recorded_digest_differs_from_the_store(rt: Runtime) -> None:
    page = _pages(rt)[0]
    with rt.sessions.begin() as s:
        s.execute(update(Page).where(Page.id == page.id).values(image_sha256="0" * 64))
    [failure] = _failures(run_checks(rt), "digest_mismatch")
    assert failure["key"] == page.image_key


def test_metadata_inconsistent_with_content(rt: Runtime) -> None:
    dossier = _dossier(rt)
    with rt.sessions.begin() as s:
        s.execute(
            update(Dossier)
            .where(Dossier.id == dossier.id)
            .values(
                business_type="不存在的业务",
                date_start=dossier.date_end + timedelta(days=3),
                page_count=7,
            )
        )
        s.execute(
            update(Document)
            .where(Document.dossier_id == dossier.id, Document.seq == 1)
            .values(date=datetime(1900, 1, 1).date())
        )
    report = run_checks(rt)
    codes = {f.code for f in report.failures}
    assert {"business_type_unknown", "date_order", "date_out_of_range", "page_count_mismatch"} <= codes
    assert {"pdf_page_count_mismatch", "page_missing"} <= codes  # 7 recorded, 6 in the PDF and the rows
    assert all(f.dossiers == (dossier.id,) for f in report.failures)


# -- integrity ---------------------------------------------------------------------------------


def test_deleted_object_is_caught_and_named(home: Path, rt: Runtime) -> None:
    key = _key(rt, "page_image")
    (home / "objects" / key).unlink()
    result = _cli(home, "--json")
    assert result.exit_code == 1
    [failure] = _json(result)["failures"]
    assert (failure["property"], failure["code"], failure["key"]) == ("integrity", "object_missing", key)
    assert failure["dossiers"] == [_dossier(rt).id]
    assert _log(rt)[0].detail["failing_keys"] == [key]


def test_removed_page_row_is_caught(home: Path, rt: Runtime) -> None:
    dossier = _dossier(rt).id
    with rt.sessions.begin() as s:
        s.execute(Page.__table__.delete().where(Page.dossier_id == dossier, Page.number == 2))
    result = _cli(home, "--json")
    assert result.exit_code == 1
    report = _json(result)
    [gap] = _failures(report, "page_missing")
    assert gap["dossiers"] == [dossier] and gap["page"] == 2 and gap["property"] == "integrity"
    [count] = _failures(report, "page_count_mismatch")
    assert count["property"] == "authenticity"
    assert _log(rt)[0].targets == [dossier]


def test_broken_page_sequence_is_caught(rt: Runtime) -> None:
    dossier = _dossier(rt).id
    with rt.sessions.begin() as s:
        s.execute(update(Page).where(Page.dossier_id == dossier, Page.number == 4).values(number=9))
    report = run_checks(rt)
    [gap] = _failures(report, "page_missing")
    assert gap["page"] == 4 and "4" in gap["detail"]
    [beyond] = _failures(report, "page_number_out_of_range")
    assert beyond["page"] == 9


def test_catalogue_and_required_metadata(rt: Runtime) -> None:
    dossier = _dossier(rt).id
    with rt.sessions.begin() as s:
        s.execute(update(Dossier).where(Dossier.id == dossier).values(title=None, retention=None))
        s.execute(update(Document).where(Document.dossier_id == dossier, Document.seq == 3).values(end_page=99))
        s.execute(Document.__table__.delete().where(Document.dossier_id == dossier, Document.seq == 2))
    report = run_checks(rt)
    [missing] = _failures(report, "metadata_missing")
    assert "题名" in missing["detail"] and "保管期限" in missing["detail"] and "日期" not in missing["detail"]
    assert _failures(report, "catalogue_entry_missing")[0]["dossiers"] == [dossier]
    assert "99" in _failures(report, "catalogue_range_invalid")[0]["detail"]


def test_a_dossier_waiting_for_review_is_not_held_to_archival_metadata(rt: Runtime) -> None:
    with rt.sessions.begin() as s:
        s.execute(update(Dossier).values(status="needs_review", title=None))
    assert run_checks(rt).ok


# -- usability ---------------------------------------------------------------------------------


def _replace_object(rt: Runtime, data: bytes, namespace: str, suffix: str) -> str:
    key = content_key(namespace, sha256_bytes(data), suffix)
    rt.store.put(key, data)
    return key


def test_undecodable_page_image(rt: Runtime) -> None:
    page = _pages(rt)[0]
    truncated = rt.store.get(page.image_key)[:5000]  # a JPEG cut short: the bytes are what was stored
    key = _replace_object(rt, truncated, "derived/pages", ".jpg")
    with rt.sessions.begin() as s:
        s.execute(update(Page).where(Page.id == page.id).values(image_key=key, image_sha256=sha256_bytes(truncated)))
    report = run_checks(rt)
    [failure] = report.failures
    assert (failure.property, failure.code, failure.key) == ("usability", "image_undecodable", key)


def test_searchable_pdf_without_text_layer(rt: Runtime) -> None:
    writer = PdfWriter()
    for _ in range(6):
        writer.add_blank_page(width=595, height=842)
    buf = io.BytesIO()
    writer.write(buf)
    key = _replace_object(rt, buf.getvalue(), "derived/pdf", ".pdf")
    dossier = _dossier(rt).id
    with rt.sessions.begin() as s:
        s.execute(update(Dossier).where(Dossier.id == dossier).values(searchable_pdf_key=key))
    [failure] = run_checks(rt).failures
    assert (failure.property, failure.code, failure.key, failure.page) == ("usability", "pdf_text_missing", key, 1)


def test_unreadable_searchable_pdf(rt: Runtime) -> None:
    key = _replace_object(rt, b"%PDF-1.7\nnot really a pdf", "derived/pdf", ".pdf")
    with rt.sessions.begin() as s:
        s.execute(update(Dossier).values(searchable_pdf_key=key))
    [failure] = run_checks(rt).failures
    assert (failure.code, failure.key) == ("pdf_unreadable", key)


def test_image_with_the_wrong_media_type(rt: Runtime) -> None:
    buf = io.BytesIO()
    Image.new("L", (64, 64), 200).save(buf, format="PNG")
    key = _replace_object(rt, buf.getvalue(), "derived/pages", ".png")
    page = _pages(rt)[0]
    with rt.sessions.begin() as s:
        s.execute(
            update(Page).where(Page.id == page.id).values(image_key=key, image_sha256=sha256_bytes(buf.getvalue()))
        )
    [failure] = run_checks(rt).failures
    assert (failure.code, failure.key) == ("image_type_mismatch", key)


# -- security ----------------------------------------------------------------------------------


def test_writable_object_file_is_caught(home: Path, rt: Runtime) -> None:
    key = _key(rt, "searchable_pdf")
    os.chmod(home / "objects" / key, 0o644)
    result = _cli(home, "--json")
    assert result.exit_code == 1
    [failure] = _json(result)["failures"]
    assert (failure["property"], failure["code"], failure["key"]) == ("security", "object_writable", key)
    assert "0644" in failure["detail"]


def test_archived_objects_are_held_to_the_retention_period(rt: Runtime) -> None:
    """Ingest archived the dossier, so every object it references is held by the store until its
    retention ends (a legal hold for 永久) and the dossier records the hold."""
    dossier = _dossier(rt)
    want = required_hold(dossier)
    assert dossier.hold_applied == marker(want)
    keys = [_key(rt, kind) for kind in ("original", "page_image", "ocr_result", "searchable_pdf")]
    for key in keys:
        assert rt.store.hold(key) == want, key


def test_removed_retention_setting_is_caught_and_reapplied(home: Path, rt: Runtime) -> None:
    key = _key(rt, "page_image")
    path = home / "objects" / key
    path.with_name(f".{path.name}.hold").unlink()  # the hold removed behind the product's back
    result = _cli(home, "--json")
    assert result.exit_code == 1
    [failure] = _json(result)["failures"]
    assert failure["property"] == "security" and failure["key"] == key
    assert failure["code"] in ("retention_short", "legal_hold_missing")
    get_settings.cache_clear()
    applied = CliRunner().invoke(retention, ["apply", "--all", "--json"], env={"ARCHIVE_HOME": str(home)})
    get_settings.cache_clear()
    assert applied.exit_code == 0, applied.output
    assert json.loads(applied.stdout)["dossiers"] == 1
    assert _cli(home).exit_code == 0


def _on_minio(rt: Runtime, holds: bool = True, **store_kwargs) -> None:
    """Move every object of the archive to a fresh MinIO bucket (with the holds ingest gave them, unless
    ``holds`` is false) and switch the runtime to it."""
    s3 = session_s3()
    minio = s3.store(**store_kwargs)
    for key in rt.store.keys(""):
        minio.put(key, rt.store.get(key))
        if holds:
            held = rt.store.hold(key)
            if held.retain_until or held.legal_hold:
                minio.retain(key, held.retain_until, legal_hold=held.legal_hold)
    rt.store = minio


def test_minio_store_with_the_dossiers_holds_passes(rt: Runtime) -> None:
    _on_minio(rt)
    report = run_checks(rt)
    assert report.ok, report.text_lines()
    assert report.by_property()["security"]["checked"] == 2 * 14 and report.objects_read == 14


def test_minio_store_with_legal_hold_only_passes(rt: Runtime) -> None:
    _on_minio(rt, holds=False, legal_hold=True)
    assert run_checks(rt).ok


def test_minio_objects_without_lock_are_caught(rt: Runtime) -> None:
    _on_minio(rt, holds=False)  # the bucket has object lock, but no version carries a retention or legal hold
    report = run_checks(rt)
    failures = _failures(report, "object_unlocked")
    assert len(failures) == 14 and all(f["property"] == "security" for f in failures)


def test_minio_retention_shorter_than_the_period_is_caught(rt: Runtime) -> None:
    _on_minio(rt, holds=False, retention=timedelta(days=1))  # locked, but only for a day
    report = run_checks(rt)
    codes = {f["code"] for f in report.to_json()["failures"]}
    assert len(report.failures) == 14 and codes <= {"retention_short", "legal_hold_missing"}, codes
    assert {f.property for f in report.failures} == {"security"}


@moto_only  # removing a lock needs moto's state (or a bypass the product never sends)
def test_minio_retention_removed_is_caught(rt: Runtime) -> None:
    _on_minio(rt)
    key = _key(rt, "page_image")
    (version,) = session_s3().moto_versions(rt.store.bucket, key)  # type: ignore[attr-defined]
    version.lock_mode = version.lock_until = None
    version.lock_legal_status = "OFF"
    report = run_checks(rt)
    [failure] = report.failures
    assert (failure.property, failure.code, failure.key) == ("security", "object_unlocked", key)
    assert failure.dossiers == (_dossier(rt).id,)


@moto_only
def test_minio_corruption_at_rest_is_caught(rt: Runtime) -> None:
    _on_minio(rt)
    key = _key(rt, "original")
    (version,) = session_s3().moto_versions(rt.store.bucket, key)  # type: ignore[attr-defined]
    data = bytearray(version.value)
    data[len(data) // 2] ^= 0x01
    version.value = bytes(data)
    [failure] = run_checks(rt).failures
    assert (failure.code, failure.key) == ("object_corrupt", key)


def test_replicated_store_is_checked_on_its_primary(home: Path, rt: Runtime, tmp_path: Path) -> None:
    """With a replica configured, the checks examine the archive's primary copy: an object the primary
    lost is missing even though the replica still serves it (whether the replica is in step is another check)."""
    from archive.storage.filesystem import FilesystemStore
    from archive.storage.replica import ReplicatedStore

    replica = FilesystemStore(tmp_path / "replica")
    for key in rt.store.keys(""):
        replica.put(key, rt.store.get(key))
    rt.store = ReplicatedStore(rt.store, replica, label="test-replica")
    assert run_checks(rt).ok
    key = _key(rt, "page_image")
    (home / "objects" / key).unlink()
    report = run_checks(rt)
    [failure] = report.failures
    assert (failure.code, failure.key) == ("object_missing", key) and "test-replica" in report.store


def test_replica_out_of_step_is_caught(rt: Runtime, tmp_path: Path) -> None:
    """双重备份: an object the replica lacks and one whose replica copy records another digest."""
    from archive.storage.filesystem import FilesystemStore
    from archive.storage.replica import ReplicatedStore

    replica = FilesystemStore(tmp_path / "replica")
    lacking, altered = _key(rt, "page_image"), _key(rt, "original")
    for key in rt.store.keys(""):
        if key != lacking:
            replica.put(key, rt.store.get(key))
    sidecar = tmp_path / "replica" / f"{altered}.sha256"
    size = sidecar.read_text().split()[1]
    sidecar.chmod(0o644)
    sidecar.write_text(f"{'0' * 64} {size}")
    rt.store = ReplicatedStore(rt.store, replica, label="test-replica")
    report = run_checks(rt)
    found = {(f.check, f.code, f.key) for f in report.failures}
    assert found == {
        ("replica_in_step", "replica_missing", lacking),
        ("replica_in_step", "replica_mismatch", altered),
    }


# -- PostgreSQL ------------------------------------------------------------------------------------


def test_fixity_records_on_postgresql(settings: Settings, ocr_pool, dev_data: Path) -> None:
    """The upsert of ``fixity_checks`` and the due query on PostgreSQL (SQLite: every test above)."""
    if settings.database_url is None:
        pytest.skip("SQLite is covered by the other tests of this module")
    rt = open_runtime(settings)
    try:
        source = str(dev_data / "dossiers" / DOSSIER)
        run_batch(rt, [source], office="370303", user="system:test", emit=lambda _: None, pool_factory=lambda: ocr_pool)
        first = run_checks(rt)
        assert first.ok, first.text_lines()
        assert run_checks(rt).objects_read == 0
        key = _key(rt, "page_image")
        _flip_byte(settings.objects_dir / key)
        report = run_checks(rt, CheckOptions(due_days=0))
        assert [f.key for f in report.failures] == [key]
        with rt.sessions() as s:
            row = s.get(FixityCheck, key)
        assert row is not None and not row.ok
    finally:
        rt.close()
