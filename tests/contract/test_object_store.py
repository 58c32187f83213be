"""The object-store contract, run against every backend.

To add a backend, add a factory to ``BACKENDS``; every test that takes the ``store`` fixture runs
against it.  Tests that need to reach behind the interface (corrupting bytes on disk, faking a
crash in the middle of a write, file modes) are filesystem-specific and live at the bottom; the MinIO
backend's own tests are in ``tests/test_minio_store.py``.

The ``minio`` backend runs on the session's S3 server (``tests/contract/s3_server.py``: moto by default,
a real MinIO with ``ARCHIVE_S3_ENDPOINT``), one fresh bucket per test.  The ``replicated-*`` backends are
``ReplicatedStore`` over a filesystem primary, with a filesystem replica and with a MinIO replica.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.storage import IntegrityError, ObjectInfo, ObjectNotFound, ObjectStore, WriteOnceViolation, content_key
from archive.storage.base import NO_HOLD, RetentionActive, StoreError
from archive.storage.filesystem import FilesystemStore
from archive.storage.replica import ReplicatedStore
from tests.contract.s3_server import session_s3


def _filesystem(tmp_path: Path) -> ObjectStore:
    return FilesystemStore(tmp_path / "objects")


def _minio(tmp_path: Path) -> ObjectStore:
    return session_s3().store()


def _replicated_fs(tmp_path: Path) -> ObjectStore:
    return ReplicatedStore(FilesystemStore(tmp_path / "objects"), FilesystemStore(tmp_path / "replica"))


def _replicated_minio(tmp_path: Path) -> ObjectStore:
    return ReplicatedStore(FilesystemStore(tmp_path / "objects"), session_s3().store())


BACKENDS: dict[str, Callable[[Path], ObjectStore]] = {
    "filesystem": _filesystem,
    "minio": _minio,
    "replicated-fs": _replicated_fs,
    "replicated-minio": _replicated_minio,
}


@pytest.fixture(params=list(BACKENDS))
def store(request, tmp_path: Path) -> ObjectStore:
    return BACKENDS[request.param](tmp_path)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- contract ---------------------------------------------------------------------------------


def test_put_get_roundtrip(store: ObjectStore) -> None:
    data = b"\x00\xffscan page\n" * 100
    info = store.put("pages/one.jpg", data)
    assert info == ObjectInfo(key="pages/one.jpg", size=len(data), sha256=_sha(data))
    assert store.get("pages/one.jpg") == data
    assert store.stat("pages/one.jpg") == info
    assert store.exists("pages/one.jpg")
    assert store.verify("pages/one.jpg") is True


def test_empty_body_roundtrip(store: ObjectStore) -> None:
    info = store.put("empty", b"")
    assert info.size == 0 and info.sha256 == _sha(b"")
    assert store.get("empty") == b""


def test_same_body_twice_is_a_noop(store: ObjectStore) -> None:
    data = b"the same body"
    first = store.put("a/b", data)
    second = store.put("a/b", data)
    assert second == first
    assert store.get("a/b") == data
    assert list(store.keys()) == ["a/b"]


def test_different_body_is_refused_and_original_kept(store: ObjectStore) -> None:
    original = b"original body"
    info = store.put("a/b", original)
    with pytest.raises(WriteOnceViolation) as excinfo:
        store.put("a/b", b"another body")
    assert isinstance(excinfo.value, StoreError)
    assert store.get("a/b") == original
    assert store.stat("a/b") == info
    assert store.verify("a/b") is True


def test_different_body_same_length_is_refused(store: ObjectStore) -> None:
    store.put("k", b"AAAA")
    with pytest.raises(WriteOnceViolation):
        store.put("k", b"AAAB")
    assert store.get("k") == b"AAAA"


def test_put_file_different_body_is_refused(store: ObjectStore, tmp_path: Path) -> None:
    store.put("k", b"first")
    other = tmp_path / "other.bin"
    other.write_bytes(b"second")
    with pytest.raises(WriteOnceViolation):
        store.put_file("k", other)
    assert store.get("k") == b"first"


def test_missing_key(store: ObjectStore) -> None:
    assert not store.exists("nope/missing")
    with pytest.raises(ObjectNotFound):
        store.get("nope/missing")
    with pytest.raises(ObjectNotFound):
        store.stat("nope/missing")
    with pytest.raises(KeyError):  # ObjectNotFound is also a KeyError
        store.get("nope/missing")


def test_put_file_multi_megabyte_roundtrip(store: ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(5 * 1024 * 1024 + 12345)  # several CHUNKs and a partial one
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    info = store.put_file("big/file.bin", src)
    assert info == ObjectInfo(key="big/file.bin", size=len(data), sha256=_sha(data))
    assert store.get("big/file.bin") == data
    assert store.verify("big/file.bin") is True
    # the same file again is a no-op
    assert store.put_file("big/file.bin", src) == info


@pytest.mark.parametrize("key", ["../x", "/abs", "a//b", "", "a/../b", "a/./b", "a/", "a\\b"])
def test_invalid_keys_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(ValueError):
        store.put(key, b"x")
    with pytest.raises(ValueError):
        store.get(key)
    with pytest.raises(ValueError):
        store.exists(key)


def test_invalid_key_writes_nothing(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        store.put("../escaped", b"x")
    assert list(store.keys()) == []
    assert not (tmp_path / "escaped").exists()


def test_keys_lists_what_was_put(store: ObjectStore) -> None:
    bodies = {"pages/aa/1.jpg": b"1", "pages/bb/2.png": b"22", "ocr/aa/1.json": b"{}", "top": b"t"}
    for key, data in bodies.items():
        store.put(key, data)
    assert sorted(store.keys()) == sorted(bodies)
    assert sorted(store.keys("pages/")) == ["pages/aa/1.jpg", "pages/bb/2.png"]
    assert list(store.keys("ocr/")) == ["ocr/aa/1.json"]
    assert list(store.keys("nothing/")) == []


def test_content_key_format() -> None:
    data = b"page image"
    sha = _sha(data)
    assert content_key("pages", sha) == f"pages/{sha[:2]}/{sha}"
    assert content_key("pages", sha, ".jpg") == f"pages/{sha[:2]}/{sha}.jpg"
    for bad in (sha.upper(), sha[:-1], sha + "0", "z" * 64, ""):
        with pytest.raises(ValueError):
            content_key("pages", bad)


def test_content_keys_are_valid_store_keys(store: ObjectStore) -> None:
    data = b"page image"
    key = content_key("pages", _sha(data), ".jpg")
    info = store.put(key, data)
    assert info.sha256 == _sha(data)
    assert store.get(key) == data
    assert list(store.keys("pages/")) == [key]


def test_every_accepted_key_is_listed(store: ObjectStore) -> None:
    """Keys whose segments start with a dot (where temp files live) are refused, so listing is exact."""
    with pytest.raises(ValueError):
        store.put("docs/.tmp-notes", b"kept")
    store.put("docs/tmp-notes", b"kept")
    assert list(store.keys()) == ["docs/tmp-notes"]


# -- retention ----------------------------------------------------------------------------------

LOCK_SECONDS = 2.0


def _close(a: datetime | None, b: datetime | None) -> bool:
    return a is not None and b is not None and abs((a - b).total_seconds()) < 1.0


def test_retain_sets_and_never_weakens_the_hold(store: ObjectStore) -> None:
    store.put("held/a", b"kept")
    assert store.hold("held/a") == NO_HOLD
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=400)
    assert _close(store.retain("held/a", until).retain_until, until)
    assert _close(store.retain("held/a", until - timedelta(days=30)).retain_until, until)  # earlier: kept
    later = until + timedelta(days=365)
    assert _close(store.retain("held/a", later).retain_until, later)
    held = store.retain("held/a", legal_hold=True)
    assert held.legal_hold and _close(held.retain_until, later)
    assert store.retain("held/a", legal_hold=False).legal_hold  # a hold is never lifted by retain
    assert store.hold("held/a").legal_hold and store.get("held/a") == b"kept"


def test_retain_and_hold_of_a_missing_key(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.retain("held/none", datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(ObjectNotFound):
        store.hold("held/none")
    assert store.dispose("held/none") is False


def test_dispose_waits_for_retention_then_deletes(store: ObjectStore) -> None:
    store.put("held/b", b"until soon")
    store.put("held/other", b"stays")
    store.retain("held/b", datetime.now(UTC) + timedelta(seconds=LOCK_SECONDS))
    with pytest.raises(RetentionActive):
        store.dispose("held/b")
    assert store.get("held/b") == b"until soon"  # nothing deleted by the refusal
    time.sleep(LOCK_SECONDS + 0.5)
    assert store.dispose("held/b") is True
    assert not store.exists("held/b") and "held/b" not in list(store.keys("held/"))
    with pytest.raises(ObjectNotFound):
        store.get("held/b")
    assert store.dispose("held/b") is False
    assert store.get("held/other") == b"stays"
    store.put("held/b", b"a new body may take a disposed key")


def test_legal_hold_blocks_dispose(store: ObjectStore) -> None:
    store.put("held/c", b"permanent")
    store.retain("held/c", legal_hold=True)
    with pytest.raises(RetentionActive):
        store.dispose("held/c")
    assert store.get("held/c") == b"permanent"


def test_unheld_object_can_be_disposed(store: ObjectStore) -> None:
    store.put("held/d", b"no period")
    assert store.dispose("held/d") is True and not store.exists("held/d")


# -- filesystem-specific ----------------------------------------------------------------------


@pytest.fixture
def fs_store(tmp_path: Path) -> FilesystemStore:
    return FilesystemStore(tmp_path / "objects")


def _overwrite(path: Path, data: bytes) -> None:
    os.chmod(path, 0o644)
    path.write_bytes(data)


@pytest.mark.parametrize("mode", ["same_length", "truncated", "appended"])
def test_fs_corruption_is_detected(fs_store: FilesystemStore, mode: str) -> None:
    data = b"scanned page bytes " * 50
    fs_store.put("pages/p.jpg", data)
    body = fs_store.root / "pages" / "p.jpg"
    assert body.read_bytes() == data
    corrupt = {
        "same_length": data[:10] + bytes([data[10] ^ 0x01]) + data[11:],
        "truncated": data[: len(data) // 2],
        "appended": data + b"x",
    }[mode]
    _overwrite(body, corrupt)
    with pytest.raises(IntegrityError):
        fs_store.get("pages/p.jpg")
    assert fs_store.verify("pages/p.jpg") is False


def test_fs_stored_files_are_read_only(fs_store: FilesystemStore, tmp_path: Path) -> None:
    fs_store.put("a/b.bin", b"body")
    src = tmp_path / "src.bin"
    src.write_bytes(b"file body")
    fs_store.put_file("a/c.bin", src)
    for name in ("b.bin", "c.bin"):
        body = fs_store.root / "a" / name
        side = fs_store.root / "a" / (name + ".sha256")
        assert stat.S_IMODE(body.stat().st_mode) == 0o444
        assert stat.S_IMODE(side.stat().st_mode) == 0o444


def test_fs_layout_and_sidecar(fs_store: FilesystemStore) -> None:
    data = b"layout"
    fs_store.put("x/y/z", data)
    assert (fs_store.root / "x" / "y" / "z").read_bytes() == data
    sha, size = (fs_store.root / "x" / "y" / "z.sha256").read_text(encoding="ascii").split()
    assert (sha, int(size)) == (_sha(data), len(data))


def test_fs_same_body_does_not_rewrite(fs_store: FilesystemStore) -> None:
    fs_store.put("k", b"body")
    before = (fs_store.root / "k").stat()
    fs_store.put("k", b"body")
    after = (fs_store.root / "k").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_fs_keys_skip_sidecars_and_temp_files(fs_store: FilesystemStore) -> None:
    fs_store.put("a/one", b"1")
    fs_store.put("a/two", b"2")
    (fs_store.root / "a" / ".tmp-abc123").write_bytes(b"half a write")
    (fs_store.root / "a" / "orphan.sha256").write_text("0" * 64 + " 1\n")
    assert list(fs_store.keys()) == ["a/one", "a/two"]
    assert list(fs_store.keys("a/")) == ["a/one", "a/two"]


def test_fs_sidecar_suffix_is_not_a_key(fs_store: FilesystemStore) -> None:
    with pytest.raises(ValueError):
        fs_store.put("a/b.sha256", b"x")


def _fail_on_body_rename(monkeypatch: pytest.MonkeyPatch, body: Path) -> list[str]:
    real_replace = os.replace
    calls: list[str] = []

    def replace(src, dst, *args, **kwargs):
        calls.append(os.fspath(dst))
        if Path(dst) == body:
            raise OSError(28, "No space left on device (simulated)")
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    return calls


def test_fs_interrupted_write_leaves_nothing_visible_and_retry_succeeds(
    fs_store: FilesystemStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"page that failed to land"
    body = fs_store.root / "pages" / "p.jpg"
    calls = _fail_on_body_rename(monkeypatch, body)
    with pytest.raises(OSError):
        fs_store.put("pages/p.jpg", data)
    assert os.fspath(body) in calls  # the failure really hit the body rename
    monkeypatch.undo()

    assert not fs_store.exists("pages/p.jpg")
    with pytest.raises(ObjectNotFound):
        fs_store.get("pages/p.jpg")
    assert list(fs_store.keys()) == []
    leftovers = [p.name for p in body.parent.iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []
    assert not body.exists()

    info = fs_store.put("pages/p.jpg", data)
    assert info == ObjectInfo("pages/p.jpg", len(data), _sha(data))
    assert fs_store.get("pages/p.jpg") == data
    assert list(fs_store.keys()) == ["pages/p.jpg"]


def test_fs_interrupted_write_then_other_body(fs_store: FilesystemStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash leaves a digest without a body; a later put of another body must still be consistent."""
    body = fs_store.root / "k"
    _fail_on_body_rename(monkeypatch, body)
    with pytest.raises(OSError):
        fs_store.put("k", b"first attempt")
    monkeypatch.undo()
    fs_store.put("k", b"second attempt")
    assert fs_store.get("k") == b"second attempt"
    assert fs_store.verify("k") is True


def test_fs_concurrent_different_bodies(fs_store: FilesystemStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second writer arriving between the first writer's two renames waits, then is refused."""
    body = fs_store.root / "k"
    real_replace = os.replace
    state: dict = {"raced": False, "error": None}

    def second_writer() -> None:
        try:
            fs_store.put("k", b"writer two")
        except WriteOnceViolation as exc:
            state["error"] = exc

    def replace(src, dst, *args, **kwargs):
        if Path(dst) == body and not state["raced"]:
            state["raced"] = True
            state["thread"] = threading.Thread(target=second_writer)
            state["thread"].start()
            state["thread"].join(timeout=0.5)  # it must not finish while the first holds the lock
            state["finished_early"] = not state["thread"].is_alive()
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    fs_store.put("k", b"writer one")
    state["thread"].join(timeout=10)
    monkeypatch.undo()
    assert state["raced"] and not state["finished_early"]
    assert isinstance(state["error"], WriteOnceViolation)
    assert fs_store.verify("k") is True
    assert fs_store.get("k") == b"writer one"


def test_fs_sweep_removes_only_old_temporary_files(fs_store: FilesystemStore) -> None:
    fs_store.put("a/b", b"kept")
    old = fs_store.root / "a" / ".tmp-old"
    young = fs_store.root / "a" / ".tmp-young"
    old.write_bytes(b"left by a killed writer")
    young.write_bytes(b"a live writer's")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert fs_store.sweep_temporary(older_than_s=3600) == 1
    assert not old.exists() and young.exists()
    assert fs_store.get("a/b") == b"kept"
