"""``archive backup``: a real dossier backed up, lost and restored (embedded default and PostgreSQL),
and ``backup verify`` catching a damaged file, a manifest that does not match and a forged log."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import inspect, text

from archive import review
from archive.audit.log import AccessEvent, AccessLog
from archive.audit.verify import verify
from archive.backup.manifest import MANIFEST, POSTGRES_FILE, SQLITE_FILE
from archive.cli_backup import backup
from archive.cli_common import audit_event
from archive.identity import users
from archive.pipeline.runner import run_batch
from archive.records.models import Batch, Page
from archive.runtime import Runtime, open_runtime
from archive.settings import Settings
from search import ALL, Scope, SearchQuery
from search.text import normalize
from tests.api_seed import PASSWORD, seed
from tests.conftest import _reset_pg

EVERY = Scope(offices=ALL, statuses=frozenset({"needs_review", "archived", "rejected"}))
ARCHIVED = Scope(offices=ALL, statuses=frozenset({"archived"}))
# Compared row for row after a restore; the log is compared separately (the restore appends to it),
# the search outbox is settled by the rebuild.
SKIPPED = {"access_log", "access_log_head", "search_pending"}
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{4,}")
PG_TOOLS = shutil.which("pg_dump") is not None and shutil.which("pg_restore") is not None


def _settings(tmp_path: Path, url: str | None = None) -> Settings:
    return Settings(home=tmp_path / "home", database_url=url, ocr_workers=0, ocr_threads=2)


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The embedded default (SQLite, filesystem store, tantivy) under a fresh home."""
    settings = _settings(tmp_path)
    monkeypatch.setattr("archive.cli_backup.get_settings", lambda: settings)
    return settings


def _cli(*args: str | Path) -> Result:
    return CliRunner().invoke(backup, [str(a) for a in args])


def _ok(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def _ingest_and_approve(rt: Runtime, ocr_pool, dev_data: Path) -> str:
    """One real dossier (3 pages, PaddleOCR), sent to review and approved by a second person."""
    rt.settings.classify_threshold = 1.01  # every dossier waits for a person
    lines: list[dict] = []
    source = str(dev_data / "dossiers" / "dossier-001.pdf")
    run_batch(rt, [source], office="370303", user="system:archivist", emit=lines.append, pool_factory=lambda: ocr_pool)
    [line] = lines
    with rt.sessions.begin() as session:
        dossier = review.approve(session, line["dossier"], "system:reviewer")
        assert dossier.status == "archived"
    audit_event(rt, "dossier_open", (line["dossier"],))
    audit_event(rt, "search", (line["dossier"],), query="test")
    return line["dossier"]


def _needle(rt: Runtime) -> str:
    """Four characters from the middle of the longest Chinese run of the first page's OCR text."""
    with rt.sessions() as session:
        page_text = session.query(Page).order_by(Page.number).first().text
    run = max(_CJK_RUN.findall(normalize(page_text)), key=len)
    return run[len(run) // 2 - 2 : len(run) // 2 + 2]


def _hits(rt: Runtime, needle: str, scope: Scope = EVERY) -> tuple[int, set[tuple[str, int]]]:
    result = rt.search.search(SearchQuery(text=needle, limit=200, fuzzy=False), scope)
    return result.total, {(hit.dossier_id, hit.page) for hit in result.hits}


def _rows(rt: Runtime) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order."""
    out = {}
    with rt.db.connect() as conn:
        inspector = inspect(conn)
        for table in inspector.get_table_names():
            keys = inspector.get_pk_constraint(table)["constrained_columns"] or ["1"]
            order = ", ".join(f'"{k}"' if k != "1" else k for k in keys)
            out[table] = [tuple(row) for row in conn.execute(text(f'SELECT * FROM "{table}" ORDER BY {order}'))]
    return out


def _assert_restored(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> None:
    for table in sorted(set(before) - SKIPPED):
        assert after[table] == before[table], table
    log = before["access_log"]
    assert after["access_log"][: len(log)] == log  # every entry back, byte for byte
    [restore_entry] = after["access_log"][len(log) :]  # then the restore's own entry
    assert restore_entry[7] == "backup_restore" and restore_entry[10] == "allowed"


# -- the embedded default -------------------------------------------------------------------------


def test_round_trip_on_the_embedded_default(embedded: Settings, ocr_pool, dev_data: Path, tmp_path: Path) -> None:
    settings = embedded
    rt = open_runtime(settings)
    dossier_id = _ingest_and_approve(rt, ocr_pool, dev_data)
    needle = _needle(rt)
    hits = _hits(rt, needle)
    archived_hits = _hits(rt, needle, ARCHIVED)  # the approval is what makes it visible here
    assert (dossier_id, 1) in hits[1] and archived_hits == hits
    before = _rows(rt)
    rt.close()

    dest = tmp_path / "backups" / "nightly"
    made = _ok(_cli("create", dest, "--json"))
    manifest = json.loads((dest / MANIFEST).read_text(encoding="utf-8"))
    assert made["manifest"] == manifest and made["check"]["ok"] is True
    assert manifest["database"]["kind"] == "sqlite" and manifest["database"]["file"] == SQLITE_FILE
    assert manifest["database"]["revision"] == before["alembic_version"][0][0]
    assert manifest["tables"]["dossiers"] == 1 and manifest["tables"]["pages"] == 3
    assert manifest["tables"]["dossier_events"] == len(before["dossier_events"]) >= 2
    assert manifest["access_log"]["seq"] == manifest["access_log"]["entries"] == len(before["access_log"]) >= 2
    assert manifest["access_log"]["hash"] == before["access_log"][-1][13]
    # original, searchable PDF, 3 page images, 3 OCR results: referenced, present, not copied
    assert manifest["objects"]["referenced"] == 8 and manifest["objects"]["missing"] == 0
    assert manifest["objects"]["bytes"] > (dev_data / "dossiers" / "dossier-001.pdf").stat().st_size
    assert manifest["objects"]["copied"] is False
    assert sorted(p.name for p in dest.iterdir()) == [MANIFEST, SQLITE_FILE]
    assert json.loads(_cli("verify", dest, "--json").stdout)["ok"] is True

    # Things change after the backup, then the records and the index are lost.
    rt = open_runtime(settings)
    with rt.sessions.begin() as session:
        users.add_user(session, "late-user", "reviewer", "370303", PASSWORD, "system:test")
    audit_event(rt, "admin", (), change="user_add")
    rt.close()
    for path in settings.home.glob("archive.db*"):
        path.unlink()
    shutil.rmtree(settings.search_path)

    restored = _ok(_cli("restore", dest, "--json"))
    assert restored["ok"] is True and restored["missing"] == [] and restored["kept"] is None
    assert restored["pages_indexed"] == 3 and restored["objects_checked"] == 8
    assert restored["access_log"]["ok"] is True and restored["lost_entries"] == 0

    rt = open_runtime(settings)
    try:
        _assert_restored(before, _rows(rt))
        assert all(row[1] != "late-user" for row in _rows(rt)["users"])
        assert verify(rt).ok  # the chain, restore entry included
        assert _hits(rt, needle) == hits
        assert _hits(rt, needle, ARCHIVED) == archived_hits
        assert rt.indexer.check("tantivy").ok
    finally:
        rt.close()

    # The archive is not empty any more: a second restore changes nothing without --yes.
    refused = _cli("restore", dest)
    assert refused.exit_code == 1 and "[restore_target_not_empty]" in refused.output
    assert not list(settings.home.glob("archive.db.pre-restore-*"))
    # With --yes it goes ahead and keeps the database it replaces; a missing object fails it.
    rt = open_runtime(settings)
    with rt.sessions() as session:
        image_key = session.query(Page).order_by(Page.number).first().image_key
    rt.close()
    (settings.objects_dir / image_key).unlink()
    again = _cli("restore", dest, "--yes", "--json")
    assert again.exit_code == 1 and "[restore_objects_missing]" in again.output
    result = json.loads(again.stdout)
    assert result["missing"] == [image_key] and result["access_log"]["ok"] is True
    assert Path(result["kept"]).name.startswith("archive.db.pre-restore-") and Path(result["kept"]).is_file()


def _seeded_backup(settings: Settings, dest: Path) -> None:
    """A small archive without OCR (every referenced object present) and its backup."""
    rt = open_runtime(settings)
    seed(rt)  # stores every object the seeded records reference
    log = AccessLog(rt)
    log.append_many(
        [AccessEvent(actor="system:test", role="admin-cli", action="test", detail={"n": n}) for n in range(5)]
    )
    rt.close()
    _ok(_cli("create", dest, "--json"))


def _rehash(dest: Path) -> None:
    """What a forger would do after changing the copy: make the manifest's file hash match again."""
    import hashlib

    manifest = json.loads((dest / MANIFEST).read_text(encoding="utf-8"))
    data = (dest / SQLITE_FILE).read_bytes()
    manifest["files"][SQLITE_FILE] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    (dest / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def test_verify_catches_a_flipped_byte_a_manifest_mismatch_and_a_forged_log(embedded: Settings, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    _seeded_backup(embedded, dest)
    assert _ok(_cli("verify", dest, "--json"))["ok"] is True

    flipped = tmp_path / "flipped"
    shutil.copytree(dest, flipped)
    data = bytearray((flipped / SQLITE_FILE).read_bytes())
    data[len(data) // 2] ^= 0x01
    (flipped / SQLITE_FILE).write_bytes(bytes(data))
    result = _cli("verify", flipped, "--json")
    assert result.exit_code == 1 and "[backup_invalid]" in result.output
    assert "backup_hash_mismatch" in {p["code"] for p in json.loads(result.stdout)["problems"]}

    counted = tmp_path / "counted"
    shutil.copytree(dest, counted)
    manifest = json.loads((counted / MANIFEST).read_text(encoding="utf-8"))
    manifest["tables"]["dossiers"] += 1
    manifest["access_log"]["hash"] = "f" * 64
    (counted / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    result = _cli("verify", counted, "--json")
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    assert {p["code"] for p in problems} == {"backup_count_mismatch", "backup_head_mismatch"}
    assert any("dossiers" in p["message"] for p in problems)

    forged = tmp_path / "forged"  # an entry changed inside the copy, the file hash recomputed
    shutil.copytree(dest, forged)
    conn = sqlite3.connect(forged / SQLITE_FILE)
    conn.execute("DROP TRIGGER access_log_no_update")
    conn.execute("UPDATE access_log SET actor = 'someone-else' WHERE seq = 3")
    conn.commit()
    conn.close()
    _rehash(forged)
    result = _cli("verify", forged, "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [p["code"] for p in report["problems"]] == ["backup_chain_broken"]
    assert report["access_log"]["code"] == "entry_altered" and report["access_log"]["first_bad"] == 3

    # A forged copy is never restored: nothing is changed.
    before = (embedded.home / "archive.db").read_bytes()
    refused = _cli("restore", forged, "--yes")
    assert refused.exit_code == 1 and "[restore_backup_invalid]" in refused.output
    assert (embedded.home / "archive.db").read_bytes()[:100] == before[:100]
    assert not list(embedded.home.glob("archive.db.pre-restore-*"))

    missing = _cli("verify", tmp_path / "nowhere")
    assert missing.exit_code == 1 and "[backup_manifest_missing]" in missing.output


def test_restore_reports_log_entries_written_after_the_backup(embedded: Settings, tmp_path: Path) -> None:
    """The store's write-once checkpoints outlive a restore: entries past the backup are reported lost,
    and the restore record sets those checkpoints aside for ``archive audit verify``."""
    dest = tmp_path / "backup"
    _seeded_backup(embedded, dest)
    rt = open_runtime(embedded)
    log = AccessLog(rt)
    log.append_many([AccessEvent(actor="system:test", role="admin-cli", action="late") for _ in range(3)])
    log.checkpoint()
    rt.close()
    head = json.loads((dest / MANIFEST).read_text(encoding="utf-8"))["access_log"]["seq"]

    verified = _ok(_cli("verify", dest, "--json"))
    assert verified["later_entries"] >= 4  # backup_create + 3 (+ backup_verify) were checkpointed later

    restored = _ok(_cli("restore", dest, "--yes", "--json"))
    assert restored["lost_entries"] >= 4
    assert restored["access_log"]["entries"] == head
    kept = Path(restored["kept"])
    with sqlite3.connect(f"file:{kept}?mode=ro", uri=True) as conn:  # the lost entries are still there
        assert conn.execute("SELECT count(*) FROM access_log WHERE action = 'late'").fetchone()[0] == 3
    # The checkpoint past the head is superseded by the restore record the restore's entry names.
    assert restored["superseded"] == 1 and restored["restore_record"].startswith("audit/restores/")
    rt = open_runtime(embedded)
    try:
        result = verify(rt)
        assert result.ok and result.superseded == 1 and "1 个检查点因" in result.summary(), result.summary()
    finally:
        rt.close()


def test_backup_is_consistent_while_the_service_writes(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Access-log entries and batches are written all through ``create``: the backup is one moment."""
    if settings.database_url and not PG_TOOLS:
        pytest.skip("PostgreSQL client tools (pg_dump, pg_restore) are not on PATH")
    monkeypatch.setattr("archive.cli_backup.get_settings", lambda: settings)
    rt = open_runtime(settings)
    seed(rt)
    stop = threading.Event()
    written = [0]

    def service() -> None:
        log = AccessLog(rt)
        while not stop.is_set():
            n = written[0]
            log.append(AccessEvent(actor="system:api", role="reviewer", action="dossier_open", detail={"n": n}))
            with rt.sessions.begin() as session:
                session.add(Batch(created_by="system:api", office="370303", fingerprint=f"{n}", engine="none"))
            written[0] = n + 1

    thread = threading.Thread(target=service)
    thread.start()
    try:
        while written[0] < 5:
            time.sleep(0.05)
        made = CliRunner().invoke(backup, ["create", str(tmp_path / "backup"), "--json", "--skip-objects"])
    finally:
        stop.set()
        thread.join()
        rt.close()
    report = _ok(made)
    manifest = report["manifest"]
    assert report["check"]["ok"] is True, report["check"]["problems"]
    entries, batches = manifest["access_log"]["entries"], manifest["tables"]["batches"] - 2  # seed: 2
    assert 5 <= entries < written[0] and manifest["access_log"]["seq"] == entries  # writes went on after it
    assert batches in (entries, entries - 1)  # each round: an entry, then a batch, in that order


def test_restore_refuses_a_database_in_use(embedded: Settings, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    _seeded_backup(embedded, dest)
    holder = sqlite3.connect(embedded.home / "archive.db")
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("SELECT count(*) FROM dossiers").fetchone()  # a service holding the database open
    try:
        result = _cli("restore", dest, "--yes")
    finally:
        holder.close()
    assert result.exit_code == 1 and "[restore_database_busy]" in result.output
    assert not list(embedded.home.glob("archive.db.pre-restore-*"))


# -- PostgreSQL -----------------------------------------------------------------------------------


@pytest.mark.skipif(not PG_TOOLS, reason="PostgreSQL client tools (pg_dump, pg_restore) are not on PATH")
def test_round_trip_on_postgresql(
    pg_database: str, ocr_pool, dev_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _reset_pg(pg_database)
    settings = _settings(tmp_path, pg_database)
    monkeypatch.setattr("archive.cli_backup.get_settings", lambda: settings)
    rt = open_runtime(settings)
    dossier_id = _ingest_and_approve(rt, ocr_pool, dev_data)
    needle = _needle(rt)
    hits = _hits(rt, needle)
    assert (dossier_id, 1) in hits[1]
    before = _rows(rt)
    rt.close()

    dest = tmp_path / "backup"
    made = _ok(_cli("create", dest, "--json"))
    manifest = made["manifest"]
    assert manifest["database"]["kind"] == "postgresql" and (dest / POSTGRES_FILE).is_file()
    assert manifest["tables"]["pages"] == 3 and manifest["access_log"]["entries"] == len(before["access_log"])
    assert made["check"]["ok"] is True and made["check"]["access_log"]["ok"] is True
    assert manifest["objects"]["referenced"] == 8 and manifest["objects"]["missing"] == 0

    # Changes after the backup, and a lost index; the database is overwritten with --yes.
    rt = open_runtime(settings)
    with rt.sessions.begin() as session:
        users.add_user(session, "late-user", "reviewer", "370303", PASSWORD, "system:test")
    audit_event(rt, "admin", (), change="user_add")
    rt.close()
    shutil.rmtree(settings.search_path)
    refused = _cli("restore", dest)
    assert refused.exit_code == 1 and "[restore_target_not_empty]" in refused.output

    restored = _ok(_cli("restore", dest, "--yes", "--json"))
    assert restored["ok"] is True and restored["access_log"]["ok"] is True
    assert restored["pages_indexed"] == 3 and Path(restored["kept"]).is_file()

    rt = open_runtime(settings)
    try:
        after = _rows(rt)
        _assert_restored(before, after)
        assert all(row[1] != "late-user" for row in after["users"])
        assert verify(rt).ok
        assert _hits(rt, needle) == hits
        with rt.db.connect() as conn, pytest.raises(Exception, match="append-only"):  # still append-only
            conn.execute(text("DELETE FROM access_log"))
    finally:
        rt.close()

    flipped = tmp_path / "flipped"
    shutil.copytree(dest, flipped)
    data = bytearray((flipped / POSTGRES_FILE).read_bytes())
    data[len(data) // 2] ^= 0x01
    (flipped / POSTGRES_FILE).write_bytes(bytes(data))
    result = _cli("verify", flipped, "--json")
    assert result.exit_code == 1 and "backup_hash_mismatch" in result.stdout
