"""The replica (双重备份): every archived object mirrored to a second store, ``archive replicate`` catching
up after an outage, ``archive restore`` rebuilding damaged primary objects, and the narrow ``repair``.

Ingest runs for real (PaddleOCR in-process, dev dossiers); one ingest with a healthy filesystem replica
is made once per module and copied for each test that damages it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import socket
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pydantic import SecretStr
from sqlalchemy import select

from archive.cli_replica import replicate_command, restore_command
from archive.pipeline.runner import NoProgress, run_batch
from archive.records.models import AccessLogEntry, Original, Page
from archive.runtime import Runtime, open_runtime
from archive.settings import Settings, get_settings
from archive.storage.base import (
    IntegrityError,
    ObjectNotFound,
    RepairRefused,
    RetentionActive,
    StoreError,
    WriteOnceViolation,
    content_digest,
    sha256_bytes,
)
from archive.storage.factory import open_store
from archive.storage.filesystem import FilesystemStore
from archive.storage.minio_store import MinioStore
from archive.storage.replica import ReplicatedStore
from archive.storage.resync import replicate, restore
from tests.conftest import DEV_DATA
from tests.contract.s3_server import moto_only, session_s3

SMALL = DEV_DATA / "dossiers" / "dossier-023.pdf"  # 2 pages
OTHER = DEV_DATA / "dossiers" / "dossier-001.pdf"  # 3 pages


# -- helpers --------------------------------------------------------------------------------------


def _settings(home: Path) -> Settings:
    return Settings(home=home, ocr_workers=0, ocr_threads=2, replica_dir=home / "replica")


def _ingest(rt: Runtime, pool, sources: list[Path], progress=None) -> list[dict]:
    lines: list[dict] = []
    run_batch(
        rt,
        [str(s) for s in sources],
        office="370303",
        user="system:test",
        emit=lines.append,
        progress=progress,
        pool_factory=lambda: pool,
    )
    return lines


def _pair(rt: Runtime) -> tuple[FilesystemStore, FilesystemStore]:
    assert isinstance(rt.store, ReplicatedStore)
    primary, replica = rt.store.primary, rt.store.replica_store()
    assert isinstance(primary, FilesystemStore) and isinstance(replica, FilesystemStore)
    return primary, replica


def _out_of_step(primary: FilesystemStore, replica: FilesystemStore) -> list[str]:
    """Primary objects the replica lacks or holds with another digest or a bad body."""
    keys = list(primary.keys())
    return [
        key
        for key in keys
        if not replica.exists(key) or replica.stat(key).sha256 != primary.stat(key).sha256 or not replica.verify(key)
    ]


def _flip(path: Path, at: int = 100) -> None:
    """Flip one byte of a stored (read-only) file, as bit rot or a careless hand would."""
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[at % len(data)] ^= 0x01
    path.write_bytes(bytes(data))
    os.chmod(path, 0o444)


def _cli(command, args: list[str], home: Path, monkeypatch: pytest.MonkeyPatch) -> Result:
    monkeypatch.setenv("ARCHIVE_HOME", str(home))
    monkeypatch.setenv("ARCHIVE_REPLICA_DIR", str(home / "replica"))
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(command, args)
    finally:
        get_settings.cache_clear()


def _log_entries(home: Path, action: str) -> list[AccessLogEntry]:
    rt = open_runtime(Settings(home=home))
    try:
        with rt.sessions() as session:
            return list(session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == action)))
    finally:
        rt.close()


@dataclass
class Ingested:
    home: Path
    keys: list[str]
    mirrored: int
    owed: int


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory, ocr_pool) -> Ingested:
    """One small real dossier ingested with a healthy filesystem replica (shared: copy before changing)."""
    home = tmp_path_factory.mktemp("replicated") / "home"
    rt = open_runtime(_settings(home))
    try:
        [line] = _ingest(rt, ocr_pool, [SMALL])
        assert line["status"] in ("archived", "needs_review")
        assert isinstance(rt.store, ReplicatedStore)
        counters = rt.store.counters
        keys = list(rt.store.primary.keys())
    finally:
        rt.close()
    return Ingested(home, keys, counters.mirrored, counters.owed)


@pytest.fixture
def home(ingested: Ingested, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(ingested.home, copy, symlinks=True)
    return copy


# -- ingest with a replica --------------------------------------------------------------------------


def test_ingest_puts_every_primary_object_in_the_replica(ingested: Ingested) -> None:
    assert ingested.owed == 0 and ingested.mirrored >= len(ingested.keys)
    assert any(k.startswith("originals/") for k in ingested.keys)
    assert any(k.startswith("derived/pages/") for k in ingested.keys)
    assert any(k.startswith("derived/ocr/") for k in ingested.keys)
    assert any(k.startswith("derived/pdf/") for k in ingested.keys)
    primary = FilesystemStore(ingested.home / "objects")
    replica = FilesystemStore(ingested.home / "replica")
    assert list(replica.keys()) == ingested.keys
    for key in ingested.keys:
        assert replica.stat(key).sha256 == primary.stat(key).sha256
        assert sha256_bytes((replica.root / key).read_bytes()) == primary.stat(key).sha256
    rt = open_runtime(_settings(ingested.home))
    try:
        with rt.sessions() as session:
            original = session.scalars(select(Original)).one()
            pages = session.scalars(select(Page)).all()
        assert replica.get(original.object_key) == SMALL.read_bytes()
        assert original.sha256 == sha256_bytes(SMALL.read_bytes())
        assert [sha256_bytes(replica.get(p.image_key)) for p in pages] == [p.image_sha256 for p in pages]
    finally:
        rt.close()


def test_replica_outage_during_ingest_then_replicate_catches_up(
    home: Path, ocr_pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    replica_root = home / "replica"
    parked = home / "replica-parked"

    class BreakReplicaAtFirstPage(NoProgress):
        """The replica's disk goes away in the middle of the file (its folder becomes a plain file)."""

        broken = False

        def page_done(self) -> None:
            if not self.broken:
                replica_root.rename(parked)
                replica_root.write_bytes(b"not a folder any more")
                self.broken = True

    rt = open_runtime(_settings(home))
    try:
        before = set(rt.store.primary.keys())  # type: ignore[attr-defined]
        progress = BreakReplicaAtFirstPage()
        [line] = _ingest(rt, ocr_pool, [OTHER], progress)
        assert progress.broken
        assert line["status"] in ("archived", "needs_review") and len(line["pages"]) == 3  # ingest succeeded
        assert isinstance(rt.store, ReplicatedStore)
        assert rt.store.counters.owed >= 1
        primary = rt.store.primary
        assert isinstance(primary, FilesystemStore)
        new_keys = set(primary.keys()) - before
        assert len(new_keys) >= 6  # the original, 3 page images, 3 OCR results, the searchable PDF
        for key in new_keys:  # every primary write stands
            assert primary.verify(key)
    finally:
        rt.close()

    replica_root.unlink()  # the replica comes back
    parked.rename(replica_root)
    owed = set(_out_of_step(FilesystemStore(home / "objects"), FilesystemStore(replica_root)))
    assert owed and owed <= new_keys

    result = _cli(replicate_command, ["--json"], home, monkeypatch)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["copied"] == len(owed) and report["failed"] == [] and report["ok"] is True
    assert report["checked"] == len(before | new_keys) and report["in_sync"] == len(before | new_keys) - len(owed)
    assert report["bytes"] == sum(FilesystemStore(home / "objects").stat(k).size for k in owed)
    assert _out_of_step(FilesystemStore(home / "objects"), FilesystemStore(replica_root)) == []

    again = _cli(replicate_command, ["--json"], home, monkeypatch)  # idempotent
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["copied"] == 0
    [first, second] = _log_entries(home, "replicate")
    assert first.detail["copied"] == len(owed) and first.detail["failed"] == 0
    assert second.detail["copied"] == 0


def test_replicate_repairs_a_corrupt_replica_copy_and_reports_a_corrupt_primary(
    home: Path, ingested: Ingested, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = [k for k in ingested.keys if k.startswith("derived/pages/")]
    bad_copy, bad_primary = pages[0], pages[1]
    _flip(home / "replica" / bad_copy)
    _flip(home / "objects" / bad_primary)
    (home / "replica" / bad_primary).unlink()  # the replica lacks it, and the primary cannot give it

    result = _cli(replicate_command, ["--json"], home, monkeypatch)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["repaired"] == 1 and report["copied"] == 0
    assert [(f["key"], f["code"]) for f in report["failed"]] == [(bad_primary, "primary_corrupt")]
    assert FilesystemStore(home / "replica").verify(bad_copy)
    assert not FilesystemStore(home / "replica").exists(bad_primary)  # nothing corrupt was copied
    [entry] = _log_entries(home, "replicate")
    assert entry.detail["failed_keys"] == [bad_primary]


# -- restore ----------------------------------------------------------------------------------------


def test_restore_all_rebuilds_missing_and_corrupt_objects_and_names_the_unrecoverable(
    home: Path, ingested: Ingested, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    missing = next(k for k in ingested.keys if k.startswith("derived/pages/"))
    corrupt = next(k for k in ingested.keys if k.startswith("originals/"))
    lost = next(k for k in ingested.keys if k.startswith("derived/ocr/"))
    healthy = next(k for k in ingested.keys if k.startswith("derived/pdf/"))
    objects = home / "objects"
    (objects / missing).unlink()
    (objects / (missing + ".sha256")).unlink()
    _flip(objects / corrupt)
    _flip(objects / lost)
    _flip(home / "replica" / lost)  # the replica's copy is corrupt too
    untouched = (objects / healthy).stat()

    rt = open_runtime(_settings(home))
    try:  # until restored, reads fail over to the replica's verified copy, loudly
        with caplog.at_level(logging.ERROR, logger="archive.storage.replica"):
            assert rt.store.get(missing) == (home / "replica" / missing).read_bytes()
            assert rt.store.get(corrupt) == SMALL.read_bytes()
            with pytest.raises(IntegrityError):
                rt.store.get(lost)
        fallbacks = [r for r in caplog.records if r.getMessage() == "replica_read_fallback"]
        assert [(r.key, r.reason) for r in fallbacks] == [(missing, "missing"), (corrupt, "corrupt")]  # type: ignore[attr-defined]
        assert rt.store.exists(missing) and rt.store.verify(missing) is False
    finally:
        rt.close()

    result = _cli(restore_command, ["--all", "--json"], home, monkeypatch)
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert sorted(report["restored"]) == sorted([missing, corrupt])
    assert [(f["key"], f["code"]) for f in report["failed"]] == [(lost, "replica_corrupt")]
    assert report["healthy"] == len(ingested.keys) - 3

    primary = FilesystemStore(objects)
    assert primary.verify(missing) and primary.verify(corrupt) and not primary.verify(lost)
    assert primary.get(corrupt) == SMALL.read_bytes()
    for key in (missing, corrupt):
        assert stat.S_IMODE((objects / key).stat().st_mode) == 0o444
    after = (objects / healthy).stat()
    assert (after.st_ino, after.st_mtime_ns) == (untouched.st_ino, untouched.st_mtime_ns)
    rt = open_runtime(_settings(home))
    try:
        with rt.sessions() as session:
            page = session.scalars(select(Page).where(Page.image_key == missing)).one()
        assert sha256_bytes(primary.get(missing)) == page.image_sha256
    finally:
        rt.close()

    [entry] = _log_entries(home, "restore")
    assert entry.detail["restored"] == 2 and entry.detail["failed"] == 1 and entry.detail["failed_keys"] == [lost]
    repaired = [
        json.loads(line)
        for line in (home / "logs" / "archive.jsonl").read_text(encoding="utf-8").splitlines()
        if '"object_repaired"' in line
    ]
    assert sorted(r["key"] for r in repaired) == sorted([missing, corrupt])

    again = _cli(restore_command, ["--all", "--json"], home, monkeypatch)
    assert again.exit_code == 1
    assert json.loads(again.stdout)["restored"] == []  # nothing healthy is ever rewritten


def test_restore_named_keys_checks_the_records_and_leaves_healthy_objects(
    home: Path, ingested: Ingested, monkeypatch: pytest.MonkeyPatch
) -> None:
    healthy = ingested.keys[0]
    checkpoint = "audit/checkpoints/000000000001-x.json"  # no record of it but the replica's own
    FilesystemStore(home / "replica").put(checkpoint, b'{"seq": 1}')
    result = _cli(restore_command, [healthy, checkpoint, "--json"], home, monkeypatch)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["healthy"] == 1 and report["restored"] == []
    assert [(f["key"], f["code"]) for f in report["failed"]] == [(checkpoint, "no_independent_record")]

    trusted = _cli(restore_command, [checkpoint, "--trust-replica", "--json"], home, monkeypatch)
    assert trusted.exit_code == 0, trusted.output
    assert json.loads(trusted.stdout)["restored"] == [checkpoint]
    assert FilesystemStore(home / "objects").get(checkpoint) == b'{"seq": 1}'

    usage = _cli(restore_command, [], home, monkeypatch)
    assert usage.exit_code == 2 and "--all" in usage.output
    bad = _cli(restore_command, ["../etc/passwd"], home, monkeypatch)
    assert bad.exit_code == 2


def test_restore_refuses_a_replica_copy_that_disagrees_with_the_records(
    home: Path, ingested: Ingested, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica copy that verifies against its own record but is not the archived body is not used."""
    key = next(k for k in ingested.keys if k.startswith("derived/pages/"))
    (home / "objects" / key).unlink()
    replica = FilesystemStore(home / "replica")
    (replica.root / key).unlink()
    (replica.root / (key + ".sha256")).unlink()
    replica.put(key, b"an impostor body")  # self-consistent, but not what the key and the records name
    result = _cli(restore_command, [key, "--json"], home, monkeypatch)
    assert result.exit_code == 1
    [failure] = json.loads(result.stdout)["failed"]
    assert failure["code"] == "replica_mismatch"
    assert not FilesystemStore(home / "objects").exists(key)


def test_commands_need_a_replica(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ARCHIVE_REPLICA_DIR", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(replicate_command, [])
        restored = CliRunner().invoke(restore_command, ["--all"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1 and "[replica_not_configured]" in result.output
    assert restored.exit_code == 1 and "[replica_not_configured]" in restored.output


# -- ReplicatedStore ----------------------------------------------------------------------------------


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[ReplicatedStore, FilesystemStore, FilesystemStore]]:
    primary, replica = FilesystemStore(tmp_path / "primary"), FilesystemStore(tmp_path / "replica")
    yield ReplicatedStore(primary, replica, retry_after_s=60), primary, replica


def test_a_failing_replica_never_fails_the_primary_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, pair
) -> None:
    store, primary, replica = pair
    shutil.rmtree(replica.root)
    replica.root.write_bytes(b"the replica's disk is gone")
    src = tmp_path / "src.bin"
    src.write_bytes(b"file body")
    with caplog.at_level(logging.WARNING, logger="archive.storage.replica"):
        assert store.put("a/one", b"first").sha256 == sha256_bytes(b"first")
        assert store.put_file("a/two", src).size == len(b"file body")
    assert primary.get("a/one") == b"first" and primary.get("a/two") == b"file body"
    owed = [r for r in caplog.records if r.getMessage() == "replica_write_owed"]
    assert [(r.key, r.reason) for r in owed] == [  # type: ignore[attr-defined]
        ("a/one", "replica_write_failed"),
        ("a/two", "replica_unavailable"),  # resting after the failure: not asked again at once
    ]
    assert owed[0].sha256 == sha256_bytes(b"first") and owed[0].code  # type: ignore[attr-defined]
    assert store.counters.owed == 2 and store.counters.mirrored == 0


def test_a_replica_that_cannot_open_does_not_stop_the_archive(tmp_path: Path) -> None:
    def unreachable() -> FilesystemStore:
        raise ConnectionRefusedError("replica host down")

    store = ReplicatedStore(FilesystemStore(tmp_path / "p"), open_replica=unreachable, retry_after_s=0)
    assert store.put("k", b"body").size == 4
    assert store.get("k") == b"body" and store.exists("k") and list(store.keys()) == ["k"]
    assert store.counters.owed == 1


def test_write_once_holds_across_the_pair(pair) -> None:
    store, primary, replica = pair
    replica.put("lost", b"archived body")  # the primary lost it; the replica still has it
    with pytest.raises(WriteOnceViolation):
        store.put("lost", b"another body")
    assert not primary.exists("lost")
    assert store.put("lost", b"archived body").sha256 == sha256_bytes(b"archived body")  # the same body: fine
    assert primary.get("lost") == b"archived body"


def test_holds_reach_the_replica_and_replicate_brings_owed_ones(tmp_path: Path) -> None:
    primary, replica = FilesystemStore(tmp_path / "p"), FilesystemStore(tmp_path / "r")
    down = {"now": True}

    def open_replica() -> FilesystemStore:
        if down["now"]:
            raise ConnectionRefusedError("replica host down")
        return replica

    store = ReplicatedStore(primary, open_replica=open_replica, retry_after_s=0)
    until = datetime(2045, 1, 1, tzinfo=UTC)
    store.put("a/held", b"kept 20 years")
    store.retain("a/held", until)  # the replica is down: its copy and hold are owed
    assert primary.hold("a/held").retain_until == until and not replica.exists("a/held")
    down["now"] = False
    store.put("a/perm", b"kept for ever")
    store.retain("a/perm", legal_hold=True)
    assert replica.hold("a/perm").legal_hold  # reachable: the hold goes with the object
    report = replicate(primary, replica, primary.keys())
    assert report.ok and report.copied == 1 and report.holds == 1
    assert replica.hold("a/held").retain_until == until
    assert replicate(primary, replica, primary.keys()).holds == 0  # nothing owed any more


def test_dispose_takes_the_replica_copy_first(tmp_path: Path) -> None:
    primary, replica = FilesystemStore(tmp_path / "p"), FilesystemStore(tmp_path / "r")
    store = ReplicatedStore(primary, replica)
    store.put("gone", b"destroyed after appraisal")
    replica.retain("gone", legal_hold=True)  # the replica's own lock still holds: nothing is deleted
    with pytest.raises(RetentionActive):
        store.dispose("gone")
    assert primary.exists("gone") and replica.exists("gone")

    def unreachable() -> FilesystemStore:
        raise ConnectionRefusedError("replica host down")

    store.put("also", b"x")
    cut_off = ReplicatedStore(primary, open_replica=unreachable)
    with pytest.raises(StoreError):  # the replica cannot be asked: the primary copy stays
        cut_off.dispose("also")
    assert primary.exists("also")
    assert store.dispose("also") is True and not primary.exists("also") and not replica.exists("also")


def test_reads_fail_over_only_to_a_verified_replica_copy(pair) -> None:
    store, primary, replica = pair
    store.put("p/a", b"page a" * 100)
    store.put("p/b", b"page b" * 100)
    _flip(primary.root / "p" / "a")
    assert store.get("p/a") == b"page a" * 100  # corrupt primary: the replica's copy
    assert store.verify("p/a") is False  # but the damage is not hidden
    _flip(replica.root / "p" / "a")
    with pytest.raises(IntegrityError):
        store.get("p/a")
    # a replica copy that verifies on its own but differs from the primary's record is refused
    (replica.root / "p" / "b").unlink()
    (replica.root / "p" / "b.sha256").unlink()
    replica.put("p/b", b"something else")
    _flip(primary.root / "p" / "b")
    with pytest.raises(IntegrityError):
        store.get("p/b")
    with pytest.raises(ObjectNotFound):
        store.get("p/none")
    assert store.counters.fallbacks == 1


# -- repair ---------------------------------------------------------------------------------------


def test_filesystem_repair_only_replaces_missing_or_corrupt_objects(tmp_path: Path) -> None:
    fs = FilesystemStore(tmp_path / "objects")
    body = b"archived page" * 50
    sha = sha256_bytes(body)
    fs.put("k", body)
    with pytest.raises(RepairRefused):  # healthy: write-once
        fs.repair("k", body, sha)
    _flip(fs.root / "k")
    with pytest.raises(IntegrityError):  # the body offered is not the expected one
        fs.repair("k", b"other", sha)
    with pytest.raises(RepairRefused):  # the sidecar records another digest than the one offered
        fs.repair("k", b"other", sha256_bytes(b"other"))
    assert fs.repair("k", body, sha).sha256 == sha
    assert fs.get("k") == body and stat.S_IMODE((fs.root / "k").stat().st_mode) == 0o444
    (fs.root / "k").unlink()
    assert fs.repair("k", body, sha).size == len(body)
    assert fs.verify("k")
    os.chmod(fs.root / "k.sha256", 0o644)
    (fs.root / "k.sha256").write_text("garbage")  # an unreadable record: the body cannot be trusted
    assert fs.repair("k", body, sha).sha256 == sha
    assert [p.name for p in fs.root.iterdir() if p.name.startswith(".tmp-")] == []


def test_minio_repair_only_replaces_missing_or_corrupt_objects() -> None:
    s3 = session_s3()
    store = s3.store(lock_mode="GOVERNANCE")
    body = b"archived page" * 50
    sha = sha256_bytes(body)
    store.put("k", body)
    with pytest.raises(RepairRefused):
        store.repair("k", body, sha)
    # a version whose body does not match its recorded digest (written around the product)
    bad = s3.new_bucket()
    corrupt = s3.store(bucket=bad, lock_mode="GOVERNANCE")
    _put_around(corrupt, "k", b"flipped", recorded=sha)
    with pytest.raises(IntegrityError):
        corrupt.get("k")
    assert corrupt.repair("k", body, sha).sha256 == sha
    assert corrupt.get("k") == body and corrupt.verify("k")
    # missing: every version removed around the product
    gone = s3.store(lock_mode="GOVERNANCE")
    gone.put("k", body)
    for obj in list(gone.client.list_objects(gone.bucket, prefix="k", include_version=True)):
        gone.client.remove_object(gone.bucket, "k", version_id=obj.version_id)
    assert gone.repair("k", body, sha).size == len(body)
    assert gone.get("k") == body
    # two versions: which one was archived needs a person
    _put_around(store, "k", b"overwrite", recorded="0" * 64)
    corrupt_two = s3.store(bucket=store.bucket, lock_mode="GOVERNANCE")
    with pytest.raises(RepairRefused):
        corrupt_two.repair("k", body, sha)


def _put_around(store: MinioStore, key: str, data: bytes, recorded: str) -> None:
    """A version written with the plain client, recording ``recorded`` as its digest whatever the body."""
    checksum = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
    metadata = {"sha256": recorded, "x-amz-checksum-sha256": checksum, "x-amz-sdk-checksum-algorithm": "SHA256"}
    store.client.put_object(store.bucket, key, BytesIO(data), len(data), metadata=metadata)  # type: ignore[arg-type]


# -- a MinIO replica through an outage --------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@moto_only
def test_minio_replica_outage_then_replicate_catches_up(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A second moto server (the same in-process state as the session's) is stopped and started again."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    s3 = session_s3()
    bucket = s3.new_bucket()
    endpoint = f"127.0.0.1:{port}"

    def open_replica() -> MinioStore:
        return MinioStore.from_settings_values(
            endpoint, "test", "test", bucket, False, "us-east-1", retries=0, connect_timeout=1, lock_mode="GOVERNANCE"
        )

    store = ReplicatedStore(FilesystemStore(tmp_path / "objects"), open_replica=open_replica, retry_after_s=0)
    try:
        store.put("a/before", b"mirrored at once")
        assert store.counters.mirrored == 1
        server.stop()
        with caplog.at_level(logging.WARNING, logger="archive.storage.replica"):
            store.put("a/during-1", b"written while the replica is down")
            store.put("a/during-2", b"this one too")
        assert store.counters.owed == 2
        assert {r.key for r in caplog.records if r.getMessage() == "replica_write_owed"} == {  # type: ignore[attr-defined]
            "a/during-1",
            "a/during-2",
        }
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        replica = store.replica_store()
        assert not replica.exists("a/during-1")
        report = replicate(store.primary, replica, list(store.primary.keys()))  # type: ignore[arg-type]
        assert (report.copied, report.in_sync, report.failed) == (2, 1, [])
        assert replica.get("a/during-2") == b"this one too"
        assert replicate(store.primary, replica, list(store.primary.keys())).copied == 0  # type: ignore[arg-type]
    finally:
        server.stop()


def test_restore_into_a_minio_primary_from_a_filesystem_replica(tmp_path: Path) -> None:
    s3 = session_s3()
    primary = s3.store(lock_mode="GOVERNANCE")
    replica = FilesystemStore(tmp_path / "replica")
    store = ReplicatedStore(primary, replica)
    body = b"scan" * 1000
    key = f"derived/pages/{sha256_bytes(body)[:2]}/{sha256_bytes(body)}.jpg"
    store.put(key, body)
    for obj in list(primary.client.list_objects(primary.bucket, prefix=key, include_version=True)):
        primary.client.remove_object(primary.bucket, key, version_id=obj.version_id)
    assert store.get(key) == body  # served by the replica meanwhile
    report = restore(primary, replica, [key])
    assert report.restored == [key] and report.failed == []
    assert primary.get(key) == body


# -- settings and wiring ----------------------------------------------------------------------------


def test_settings_choose_the_replica(tmp_path: Path) -> None:
    base = Settings(home=tmp_path / "home")
    assert isinstance(open_store(base), FilesystemStore)  # unset: no replica, as before
    on_disk = open_store(base.model_copy(update={"replica_dir": tmp_path / "copy"}))
    assert isinstance(on_disk, ReplicatedStore) and on_disk.label == str(tmp_path / "copy")
    with pytest.raises(ValueError):
        open_store(base.model_copy(update={"replica_dir": base.objects_dir}))
    with pytest.raises(ValueError):
        open_store(base.model_copy(update={"replica_dir": base.objects_dir / "inside"}))
    with pytest.raises(ValueError):
        open_store(base.model_copy(update={"replica_dir": tmp_path / "c", "replica_s3_endpoint": "minio:9000"}))
    with pytest.raises(ValueError):  # credentials are required
        open_store(base.model_copy(update={"replica_s3_endpoint": "minio:9000"}))
    s3 = session_s3()
    on_s3 = base.model_copy(
        update={
            "replica_s3_endpoint": s3.endpoint,
            "replica_s3_access_key": s3.access_key,
            "replica_s3_secret_key": SecretStr("hunter2"),
            "replica_s3_bucket": s3.new_bucket(),
            "replica_s3_secure": s3.secure,
            "replica_s3_region": s3.region,
            "replica_s3_lock_mode": "GOVERNANCE",
        }
    )
    store = open_store(on_s3)
    assert isinstance(store, ReplicatedStore) and "hunter2" not in store.label
    assert isinstance(store.replica_store(), MinioStore)
    assert on_s3.model_dump(mode="json")["replica_s3_secret_key"] == "**********"


def test_runtime_with_a_replica_still_sweeps_the_primary(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home")
    leftover = settings.objects_dir / "a" / ".tmp-killed"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a write")
    os.utime(leftover, (1, 1))
    rt = open_runtime(settings)
    try:
        assert isinstance(rt.store, ReplicatedStore)
        assert not leftover.exists()
    finally:
        rt.close()


def test_content_digest() -> None:
    sha = sha256_bytes(b"x")
    assert content_digest(f"derived/pages/{sha[:2]}/{sha}.jpg") == sha
    assert content_digest(f"originals/{sha[:2]}/{sha}") == sha
    assert content_digest(f"originals/zz/{sha}.pdf") is None
    assert content_digest("audit/checkpoints/000000000001-abc.json") is None
