"""MinIO-specific behaviour of ``archive.storage.minio_store.MinioStore`` (the contract suite covers the rest).

Runs against the session's S3 server (``tests/contract/s3_server.py``): moto by default, a real MinIO
with ``ARCHIVE_S3_ENDPOINT``.  Everything goes through the real client over HTTP, nothing is mocked;
"raw" calls (a second ``Minio`` client writing around the product) stand for other tools and
attackers, and error answers come from a tiny HTTP server that replies with canned S3 errors.  What
moto does not check (checksums, COMPLIANCE retention) is tested only against a real server
(``needs_real_s3``); corruption at rest is simulated by editing moto's in-process state (``moto_only``).
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error
from minio.sse import SseCustomerKey, SseS3

from archive.storage import IntegrityError, ObjectInfo, ObjectNotFound, WriteOnceViolation
from archive.storage.base import StoreError
from archive.storage.minio_store import (
    BucketNotFound,
    BucketWithoutObjectLock,
    MinioStore,
    StoreAccessDenied,
    StoreRequestFailed,
    StoreUnavailable,
    make_client,
)
from tests.contract.s3_server import S3Target, moto_only, needs_real_s3, session_s3

MiB = 1 << 20


@pytest.fixture(scope="session")
def s3() -> S3Target:
    return session_s3()


@pytest.fixture
def store(s3: S3Target) -> MinioStore:
    return s3.store()


@pytest.fixture
def raw(s3: S3Target) -> Minio:
    """A second client, writing around the product."""
    return s3.client()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _versions(raw: Minio, bucket: str, key: str) -> list[Any]:
    """The key's versions, newest first (delete markers left out)."""
    return [
        obj
        for obj in raw.list_objects(bucket, prefix=key, include_version=True)
        if obj.object_name == key and not obj.is_delete_marker
    ]


def _raw_get(raw: Minio, bucket: str, key: str) -> bytes:
    """The current version's body, as any S3 tool would read it."""
    response = raw.get_object(bucket, key)
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


def _checksum_headers(data: bytes) -> dict[str, str]:
    digest = hashlib.sha256(data).digest()
    return {"x-amz-checksum-sha256": base64.b64encode(digest).decode(), "x-amz-sdk-checksum-algorithm": "SHA256"}


# -- bucket ------------------------------------------------------------------------------------


def test_bucket_created_with_object_lock_and_versioning(s3: S3Target, raw: Minio) -> None:
    bucket = s3.new_bucket()
    assert not raw.bucket_exists(bucket)
    MinioStore(raw, bucket)
    assert raw.bucket_exists(bucket)
    raw.get_object_lock_config(bucket)  # raises ObjectLockConfigurationNotFoundError without lock
    assert raw.get_bucket_versioning(bucket).status == "Enabled"
    # the existing, locked bucket is accepted, with or without create
    MinioStore(raw, bucket)
    MinioStore(raw, bucket, create=False).put("k", b"body")


def test_missing_bucket_is_not_created_without_create(s3: S3Target, raw: Minio) -> None:
    bucket = s3.new_bucket()
    with pytest.raises(BucketNotFound) as excinfo:
        MinioStore(raw, bucket, create=False)
    assert excinfo.value.code == "bucket_not_found"
    assert not raw.bucket_exists(bucket)


@pytest.mark.parametrize("create", [True, False])
def test_bucket_without_object_lock_is_refused(s3: S3Target, raw: Minio, create: bool) -> None:
    bucket = s3.new_bucket()
    raw.make_bucket(bucket)  # no object lock: it cannot be enabled later
    with pytest.raises(BucketWithoutObjectLock) as excinfo:
        MinioStore(raw, bucket, create=create)
    assert isinstance(excinfo.value, StoreError)
    assert excinfo.value.code == "bucket_without_object_lock"
    assert "对象锁定" in str(excinfo.value)


def test_constructor_validates_before_any_request() -> None:
    dead = make_client("127.0.0.1:9", "k", "s", secure=False, region="us-east-1", retries=0)
    with pytest.raises(ValueError):
        MinioStore(dead, "bucket-x", lock_mode="FOREVER")
    with pytest.raises(ValueError):
        MinioStore(dead, "bucket-x", part_size=MiB)
    with pytest.raises(ValueError):
        MinioStore(dead, "bucket-x", retention=timedelta(seconds=-1))
    with pytest.raises(ValueError):
        MinioStore(dead, "bucket-x", sse=SseCustomerKey(b"k" * 32))


def test_from_settings_values(s3: S3Target) -> None:
    common = dict(access_key=s3.access_key, secret_key=s3.secret_key, secure=s3.secure, region=s3.region)
    store = MinioStore.from_settings_values(endpoint=s3.endpoint, bucket=s3.new_bucket(), **common)
    assert store.put("a/b", b"body") == ObjectInfo("a/b", 4, _sha(b"body"))
    assert store.get("a/b") == b"body"
    if not s3.endpoint.startswith(("http://", "https://")):
        scheme = "https" if s3.secure else "http"
        url_store = MinioStore.from_settings_values(
            endpoint=f"{scheme}://{s3.endpoint}", bucket=store.bucket, create=False, **common
        )
        assert url_store.get("a/b") == b"body"
    with pytest.raises(ValueError):
        make_client("https://example.invalid:9000", "k", "s", secure=False)


# -- what is stored ----------------------------------------------------------------------------


def test_digest_recorded_as_metadata_and_sent_as_checksum(store: MinioStore, raw: Minio) -> None:
    data = b"scanned page" * 100
    store.put("pages/p.jpg", data)
    head = raw.stat_object(store.bucket, "pages/p.jpg", extra_headers={"x-amz-checksum-mode": "ENABLED"})
    assert head.metadata["x-amz-meta-sha256"] == _sha(data)
    assert head.metadata["x-amz-checksum-sha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_same_body_writes_no_new_version(store: MinioStore, raw: Minio, tmp_path: Path) -> None:
    first = store.put("k", b"body")
    assert store.put("k", b"body") == first
    src = tmp_path / "same.bin"
    src.write_bytes(b"body")
    assert store.put_file("k", src) == first
    assert len(_versions(raw, store.bucket, "k")) == 1


def test_retention_and_legal_hold_on_every_version(s3: S3Target, raw: Minio) -> None:
    store = s3.store(retention=timedelta(days=1), legal_hold=True)
    store.put("locked", b"archived")
    head = raw.stat_object(store.bucket, "locked")  # GetObjectRetention fails on moto; HEAD shows the lock
    assert head.metadata["x-amz-object-lock-mode"] == "GOVERNANCE"
    until = datetime.fromisoformat(head.metadata["x-amz-object-lock-retain-until-date"].replace("Z", "+00:00"))
    assert abs(until - (datetime.now(UTC) + timedelta(days=1))) < timedelta(minutes=5)
    assert head.metadata["x-amz-object-lock-legal-hold"] == "ON"
    with pytest.raises(S3Error):  # neither the legal hold nor GOVERNANCE lets the version go
        raw.remove_object(store.bucket, "locked", version_id=head.version_id)
    assert store.get("locked") == b"archived"


@moto_only  # a real MinIO needs a KMS configured for SSE-S3
def test_server_side_encryption_passed_through(s3: S3Target, raw: Minio, tmp_path: Path) -> None:
    store = s3.store(sse=SseS3(), part_size=5 * MiB)
    store.put("small", b"encrypted")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(6 * MiB))
    store.put_file("big", big)
    for key in ("small", "big"):
        assert raw.stat_object(store.bucket, key).metadata["x-amz-server-side-encryption"] == "AES256"
    assert store.get("small") == b"encrypted"


def test_multipart_roundtrip(store: MinioStore, raw: Minio, tmp_path: Path) -> None:
    data = os.urandom(40 * MiB + 4321)  # three parts of the default 16 MiB
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    info = store.put_file("big/file.bin", src)
    assert info == ObjectInfo("big/file.bin", len(data), _sha(data))
    head = raw.stat_object(store.bucket, "big/file.bin")
    assert head.etag.endswith("-3")  # really uploaded in parts
    assert head.metadata["x-amz-meta-sha256"] == _sha(data)
    assert store.stat("big/file.bin") == info
    assert store.get("big/file.bin") == data
    assert store.put_file("big/file.bin", src) == info
    assert len(_versions(raw, store.bucket, "big/file.bin")) == 1


class _ChangingStore(MinioStore):
    """Rewrites the source file after it was hashed, before the upload reads it."""

    replacement: bytes = b""
    source: Path

    def _upload(self, key: str, stream: Any, size: int, sha: str) -> str | None:
        self.source.write_bytes(self.replacement)  # same inode: the open handle reads the new bytes
        return super()._upload(key, stream, size, sha)


@pytest.mark.parametrize("size", [1000, 11 * MiB], ids=["single", "multipart"])
@pytest.mark.parametrize("change", ["flipped", "shorter"])
def test_file_changed_during_upload_is_not_stored(
    s3: S3Target, raw: Minio, tmp_path: Path, size: int, change: str
) -> None:
    data = os.urandom(size)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    store = _ChangingStore(s3.client(), s3.new_bucket(), part_size=5 * MiB)
    store.source = src
    store.replacement = data[:-1] + bytes([data[-1] ^ 1]) if change == "flipped" else data[: size // 2]
    with pytest.raises(IntegrityError):
        store.put_file("k", src)
    assert not store.exists("k")
    assert list(store.keys()) == []
    assert list(raw.list_objects(store.bucket, include_version=True)) == []


# -- the archived version ----------------------------------------------------------------------


def test_out_of_band_overwrite_does_not_replace_the_original(store: MinioStore, raw: Minio) -> None:
    original, forged = b"original dossier page", b"forged dossier page!!"
    info = store.put("pages/p.jpg", original)
    # A new version with a self-consistent digest and checksum, written around the product.
    meta = {"sha256": _sha(forged), **_checksum_headers(forged)}
    raw.put_object(store.bucket, "pages/p.jpg", io.BytesIO(forged), len(forged), metadata=meta)
    assert _raw_get(raw, store.bucket, "pages/p.jpg") == forged  # what a plain S3 read serves
    assert store.get("pages/p.jpg") == original
    assert store.stat("pages/p.jpg") == info
    assert store.verify("pages/p.jpg") is True
    assert list(store.keys()) == ["pages/p.jpg"]
    assert store.put("pages/p.jpg", original) == info
    with pytest.raises(WriteOnceViolation):
        store.put("pages/p.jpg", forged)
    with urllib.request.urlopen(store.presigned_get("pages/p.jpg", timedelta(minutes=1)), timeout=10) as resp:
        assert resp.read() == original


def test_delete_marker_does_not_hide_the_original(store: MinioStore, raw: Minio) -> None:
    info = store.put("a/b", b"kept")
    raw.remove_object(store.bucket, "a/b")  # without a version id: only a delete marker
    assert store.exists("a/b")
    assert store.stat("a/b") == info
    assert store.get("a/b") == b"kept"
    assert list(store.keys()) == ["a/b"]


def test_remembered_version_deleted_around_the_product(s3: S3Target, store: MinioStore, raw: Minio) -> None:
    """The store remembers each key's archived version; its deletion (possible without retention) is noticed."""
    store.put("k", b"first")
    assert store.get("k") == b"first"  # the version is remembered now
    (version,) = _versions(raw, store.bucket, "k")
    raw.remove_object(store.bucket, "k", version_id=version.version_id)
    # another process archives the key again; this store follows instead of holding on to the old version
    s3.store(bucket=store.bucket).put("k", b"second")
    assert store.get("k") == b"second"
    assert store.stat("k") == ObjectInfo("k", 6, _sha(b"second"))
    with pytest.raises(WriteOnceViolation):
        store.put("k", b"first")
    # and a key whose only version went away is absent, remembered or not
    store.put("gone", b"x")
    (version,) = _versions(raw, store.bucket, "gone")
    raw.remove_object(store.bucket, "gone", version_id=version.version_id)
    with pytest.raises(ObjectNotFound):
        store.get("gone")
    with pytest.raises(ObjectNotFound):
        store.stat("gone")
    assert not store.exists("gone")
    assert store.put("gone", b"again") == ObjectInfo("gone", 5, _sha(b"again"))
    assert store.get("gone") == b"again"


def test_object_without_recorded_digest(store: MinioStore, raw: Minio) -> None:
    raw.put_object(store.bucket, "foreign", io.BytesIO(b"no digest"), 9, metadata=_checksum_headers(b"no digest"))
    assert store.exists("foreign")
    with pytest.raises(IntegrityError):
        store.get("foreign")
    with pytest.raises(IntegrityError):
        store.stat("foreign")
    assert store.verify("foreign") is False
    with pytest.raises(WriteOnceViolation):
        store.put("foreign", b"no digest")


def test_keys_skip_what_is_not_an_object(store: MinioStore, raw: Minio) -> None:
    store.put("docs/one", b"1")
    raw.put_object(store.bucket, "docs/", io.BytesIO(b""), 0, metadata=_checksum_headers(b""))  # console folder
    raw.put_object(store.bucket, "docs/.hidden", io.BytesIO(b"x"), 1, metadata=_checksum_headers(b"x"))
    assert list(store.keys()) == ["docs/one"]
    assert list(store.keys("docs/")) == ["docs/one"]


def test_keys_ordered_like_the_filesystem_store(store: MinioStore) -> None:
    for key in ("a-c", "a/b", "a.d/e", "a/a/z"):
        store.put(key, b"x")
    # by path segments ("a" < "a-c" < "a.d"), not by S3's byte order ("a-c" < "a.d/e" < "a/a/z")
    assert list(store.keys()) == ["a/a/z", "a/b", "a-c", "a.d/e"]


@moto_only
@pytest.mark.parametrize("mode", ["same_length", "truncated", "appended"])
def test_corruption_at_rest_is_detected(store: MinioStore, s3: S3Target, mode: str) -> None:
    data = b"scanned page bytes " * 50
    store.put("pages/p.jpg", data)
    corrupt = {
        "same_length": data[:10] + bytes([data[10] ^ 0x01]) + data[11:],
        "truncated": data[: len(data) // 2],
        "appended": data + b"x",
    }[mode]
    (version,) = s3.moto_versions(store.bucket, "pages/p.jpg")
    version.value = corrupt  # the disk under the server rots; metadata stays
    with pytest.raises(IntegrityError):
        store.get("pages/p.jpg")
    assert store.verify("pages/p.jpg") is False


# -- concurrent writers ------------------------------------------------------------------------


class _RacingStore(MinioStore):
    """Waits until every writer has passed the existence check before uploading."""

    barrier: threading.Barrier

    def _upload(self, key: str, stream: Any, size: int, sha: str) -> str | None:
        self.barrier.wait(timeout=10)
        return super()._upload(key, stream, size, sha)


def _race(s3: S3Target, bucket: str, bodies: list[bytes], **kwargs: Any) -> list[ObjectInfo | Exception]:
    barrier = threading.Barrier(len(bodies))
    results: list[ObjectInfo | Exception] = [RuntimeError("did not finish")] * len(bodies)

    def write(i: int) -> None:
        store = _RacingStore(s3.client(), bucket, **kwargs)
        store.barrier = barrier
        try:
            results[i] = store.put("k", bodies[i])
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.mark.parametrize("retention", [None, timedelta(days=1)], ids=["unlocked", "retention"])
def test_concurrent_writers_of_different_bodies(s3: S3Target, raw: Minio, retention: timedelta | None) -> None:
    bucket = s3.new_bucket()
    MinioStore(raw, bucket)
    bodies = [b"writer one", b"writer two"]
    results = _race(s3, bucket, bodies, retention=retention)
    won = [i for i, r in enumerate(results) if isinstance(r, ObjectInfo)]
    lost = [i for i, r in enumerate(results) if isinstance(r, WriteOnceViolation)]
    assert len(won) == 1 and len(lost) == 1, results
    winner, loser = bodies[won[0]], bodies[lost[0]]
    store = MinioStore(raw, bucket)
    assert store.get("k") == winner
    assert store.stat("k") == results[won[0]]
    assert store.verify("k") is True
    versions = _versions(raw, bucket, "k")
    if retention is None:
        assert len(versions) == 1  # the loser removed its own version
    else:  # retention keeps the losing version, on top, where the product never reads
        assert len(versions) == 2
        assert _raw_get(raw, bucket, "k") == loser
    # later writers of the losing body are refused too
    with pytest.raises(WriteOnceViolation):
        store.put("k", loser)


def test_concurrent_writers_of_the_same_body(s3: S3Target, raw: Minio) -> None:
    bucket = s3.new_bucket()
    MinioStore(raw, bucket)
    results = _race(s3, bucket, [b"same body", b"same body"])
    assert results[0] == results[1] == ObjectInfo("k", 9, _sha(b"same body"))
    assert MinioStore(raw, bucket).get("k") == b"same body"


# -- presigned URLs ----------------------------------------------------------------------------


def test_presigned_get(store: MinioStore) -> None:
    store.put("pages/p.jpg", b"page image")
    url = store.presigned_get("pages/p.jpg", timedelta(minutes=15))
    assert "X-Amz-Expires=900" in url
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.read() == b"page image"
    for too_long_or_short in (timedelta(minutes=15, seconds=1), timedelta(hours=1), timedelta(0), timedelta(-1)):
        with pytest.raises(ValueError):
            store.presigned_get("pages/p.jpg", too_long_or_short)
    with pytest.raises(ObjectNotFound):
        store.presigned_get("pages/missing.jpg", timedelta(minutes=1))
    with pytest.raises(ValueError):
        store.presigned_get("../x", timedelta(minutes=1))


# -- unreachable servers -----------------------------------------------------------------------


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def hung_port() -> Iterator[int]:
    """A server that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def _client_at(port: int) -> Minio:
    return make_client(
        f"127.0.0.1:{port}",
        "k",
        "s",
        secure=False,
        region="us-east-1",
        connect_timeout=0.3,
        read_timeout=0.3,
        retries=0,
    )


@pytest.mark.parametrize("kind", ["refused", "hung"])
def test_unreachable_server_is_store_unavailable(
    kind: str, closed_port: int, hung_port: int, store: MinioStore, tmp_path: Path
) -> None:
    port = closed_port if kind == "refused" else hung_port
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as excinfo:
        MinioStore.from_settings_values(
            f"127.0.0.1:{port}",
            "k",
            "s",
            "bucket-x",
            False,
            "us-east-1",
            connect_timeout=0.5,
            read_timeout=0.5,
            retries=1,
        )
    assert excinfo.value.code == "store_unavailable"
    assert isinstance(excinfo.value, StoreError)
    # an open store whose server goes away
    store.put("k", b"body")
    store.client = _client_at(port)
    src = tmp_path / "f.bin"
    src.write_bytes(b"file")
    ops = {
        "get": lambda: store.get("k"),
        "stat": lambda: store.stat("k"),
        "exists": lambda: store.exists("k"),
        "verify": lambda: store.verify("k"),
        "keys": lambda: list(store.keys()),
        "put": lambda: store.put("new", b"x"),
        "put_file": lambda: store.put_file("new", src),
        "presigned_get": lambda: store.presigned_get("k", timedelta(minutes=1)),
    }
    for name, op in ops.items():
        if kind == "hung" and name not in ("get", "put"):  # each waits out the read timeout
            continue
        with pytest.raises(StoreUnavailable):
            op()
    assert time.monotonic() - started < 10


class _CannedHandler(http.server.BaseHTTPRequestHandler):
    """Answers every request with the server's canned status, content type and body."""

    def _answer(self) -> None:
        status, content_type, body = self.server.canned  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _s3_error(code: str) -> bytes:
    return f"<Error><Code>{code}</Code><Message>canned</Message><RequestId>1</RequestId></Error>".encode()


@pytest.mark.parametrize(
    ("status", "content_type", "body", "expected"),
    [
        (503, "application/xml", _s3_error("SlowDown"), StoreUnavailable),
        (500, "application/xml", _s3_error("InternalError"), StoreUnavailable),
        (502, "text/html", b"<html>bad gateway</html>", StoreUnavailable),
        (403, "application/xml", _s3_error("AccessDenied"), StoreAccessDenied),
        (403, "application/xml", _s3_error("SignatureDoesNotMatch"), StoreAccessDenied),
        (404, "application/xml", _s3_error("NoSuchBucket"), BucketNotFound),
        (400, "application/xml", _s3_error("XAmzContentChecksumMismatch"), IntegrityError),
        (400, "application/xml", _s3_error("InvalidArgument"), StoreRequestFailed),
        (418, "text/html", b"<html>teapot</html>", StoreRequestFailed),
    ],
    ids=["slow-down", "internal", "proxy-502", "denied", "signature", "no-bucket", "checksum", "invalid", "html-418"],
)
def test_server_errors_map_to_stable_codes(
    store: MinioStore, status: int, content_type: str, body: bytes, expected: type[StoreError]
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CannedHandler)
    server.canned = (status, content_type, body)  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        store.client = _client_at(server.server_address[1])
        for op in (lambda: store.exists("k"), lambda: list(store.keys())):
            with pytest.raises(expected) as excinfo:
                op()
            assert isinstance(excinfo.value, StoreError)
            assert excinfo.value.code == expected.code
    finally:
        server.shutdown()
        server.server_close()


# -- what moto does not check ------------------------------------------------------------------


@moto_only
def test_moto_does_not_verify_checksums(store: MinioStore) -> None:
    """Why ``test_server_refuses_a_body_that_does_not_match_its_checksum`` needs a real server."""
    store._upload("k", io.BytesIO(b"body"), 4, _sha(b"another body"))
    assert store.exists("k")


@needs_real_s3
def test_server_refuses_a_body_that_does_not_match_its_checksum(store: MinioStore) -> None:
    with pytest.raises(IntegrityError):
        store._upload("k", io.BytesIO(b"body"), 4, _sha(b"another body"))
    assert not store.exists("k")


@needs_real_s3
def test_compliance_retention_refuses_deletion(s3: S3Target, raw: Minio) -> None:
    store = s3.store(lock_mode="COMPLIANCE", retention=timedelta(seconds=30))
    store.put("k", b"archived")
    (version,) = _versions(raw, store.bucket, "k")
    assert raw.stat_object(store.bucket, "k").metadata["x-amz-object-lock-mode"] == "COMPLIANCE"
    errors = list(
        raw.remove_objects(store.bucket, [DeleteObject("k", version.version_id)], bypass_governance_mode=True)
    )
    assert errors, "a COMPLIANCE version was deleted"
    with pytest.raises(S3Error):
        raw.remove_object(store.bucket, "k", version_id=version.version_id)
    assert store.get("k") == b"archived"


@needs_real_s3
def test_multipart_versions_are_locked_too(s3: S3Target, raw: Minio, tmp_path: Path) -> None:
    """moto drops object-lock headers on CreateMultipartUpload; MinIO keeps them."""
    store = s3.store(retention=timedelta(minutes=5), part_size=5 * MiB)
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(11 * MiB))
    store.put_file("big", src)
    assert raw.stat_object(store.bucket, "big").metadata["x-amz-object-lock-mode"] == "GOVERNANCE"
