"""S3/MinIO object store for production, through the official ``minio`` client.

The bucket has object lock (hence versioning) enabled: an overwrite of a key can only ever add a new
version, never destroy the bytes already archived.  On top of that the product enforces the same
contract as the filesystem store (``archive.storage.base``) itself, without trusting the server:

- **The oldest version of a key is the object.**  ``stat``/``get``/``verify``/``exists`` and presigned
  URLs resolve a key to its oldest version (ListObjectVersions with the key as prefix), then make their
  request pinned to that version id.  A later version, whether from a writer that lost a race or from an
  out-of-band overwrite with any client, can therefore never replace what was archived first; delete
  markers are ignored (the archive never deletes).  Nothing can become older than the oldest version, so
  the store remembers it per key (bounded LRU): a read costs one listing request the first time a
  process meets a key, then the single pinned request; if the remembered version was deleted around the
  product (retention bypassed), the pinned request fails and the key is looked up again.  ``exists``,
  ``verify``, presigned URLs and the check after an upload always list afresh.
- **Write-once.**  ``put``/``put_file`` look the key up first: the same SHA-256 is a no-op returning the
  existing object, a different one is refused with ``WriteOnceViolation``.  Otherwise the body is
  uploaded and the key is looked up again: if the oldest version is not the one just written and holds
  another digest, a concurrent writer won; the losing version is removed when the server lets us (it is
  our own, just written; retention may forbid it, then it stays behind the winner and is never read) and
  ``WriteOnceViolation`` is raised.  Two writers of the same body both succeed.  (S3's conditional
  ``If-None-Match: *`` would close the race on the server, and MinIO, AWS and moto support it, but
  minio-py 7.2 offers no public way to send that header on PutObject/CompleteMultipartUpload.)
- **Digests.**  The SHA-256 is recorded at write time as user metadata ``x-amz-meta-sha256`` on the
  version (version metadata cannot be changed afterwards), and every read re-hashes the body against it
  (``IntegrityError``).  A single-request upload also sends ``x-amz-checksum-sha256`` (base64 of the raw
  digest) with ``x-amz-sdk-checksum-algorithm: SHA256``, so the server refuses a body that does not match.
  A multipart upload (bodies larger than ``part_size``) cannot carry a whole-object SHA-256 checksum
  (S3 allows SHA-256 only as per-part checksums, which minio-py 7.2 cannot send); each part is still
  verified by the server through minio-py's transport checks (``Content-MD5`` over HTTPS, the signed
  ``x-amz-content-sha256`` over HTTP), and ``put_file`` re-hashes the file as it is read for upload and
  aborts before the upload completes if it no longer matches what was hashed.
- **Repair.**  ``repair`` is the one deliberate way to replace what a key holds, for ``archive restore`` and
  ``archive replicate``: it writes only when the key has no version (deleted around the product), or a
  single version that fails its recorded digest (or has none) while recording nothing other than the
  expected digest; that version is removed first (refused by the server under retention: then nothing
  changes and reads keep failing over to the replica), and the body is uploaded like a put.  A key with
  several versions is refused: which one was archived needs a person.
- **Retention per object**.  ``retain`` puts every version of a key under ``lock_mode``
  retention until the given moment (only where that is later than what the version has) and/or a legal
  hold; ``hold`` reads the archived version's ``x-amz-object-lock-*`` headers from a HEAD request (moto
  cannot answer GetObjectRetention).  ``dispose`` deletes every version and delete marker of a key, after
  checking the headers against ``clock`` itself; the server refuses as well while a lock holds (it never
  gets the governance-bypass header), and either refusal is ``RetentionActive``.
- **Locking at write.**  With ``retention`` set, every version is written with ``lock_mode`` retention until
  ``now + retention``; with ``legal_hold``, with a legal hold.  Either is applied in the same request as
  the upload, so no version is ever unprotected.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast
from urllib.parse import urlsplit

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE, ENABLED, GOVERNANCE
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.helpers import MIN_PART_SIZE
from minio.retention import Retention
from minio.sse import Sse, SseCustomerKey
from minio.versioningconfig import VersioningConfig
from urllib3 import BaseHTTPResponse

from archive.storage.base import (
    CHUNK,
    Hold,
    IntegrityError,
    ObjectInfo,
    ObjectNotFound,
    RepairRefused,
    RetentionActive,
    StoreError,
    WriteOnceViolation,
    sha256_file,
    validate_key,
)

log = logging.getLogger(__name__)

MiB = 1 << 20
SHA_META = "sha256"  # user metadata: sent and returned as x-amz-meta-sha256
MAX_PRESIGN = timedelta(minutes=15)
KNOWN_VERSIONS = 50_000  # archived version ids remembered per store (about 330 bytes each: ~16 MB)
LOCK_MODES = (GOVERNANCE, COMPLIANCE)

# S3 error codes for a body the server found not to match the checksum sent with it.
_CHECKSUM_CODES = frozenset(
    {"BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch", "XAmzContentSHA256Mismatch", "InvalidChecksum"}
)
_UNAVAILABLE_CODES = frozenset(
    {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "XMinioServerNotInitialized"}
)
_DENIED_CODES = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"}
)

T = TypeVar("T")


class StoreUnavailable(StoreError):
    """The object store cannot be reached or cannot serve now; the operation may be retried."""

    code = "store_unavailable"


class BucketWithoutObjectLock(StoreError):
    code = "bucket_without_object_lock"


class BucketNotFound(StoreError):
    code = "bucket_not_found"


class StoreAccessDenied(StoreError):
    code = "store_access_denied"


class StoreRequestFailed(StoreError):
    """Any other error answer of the server; ``s3_code`` holds the server's code."""

    code = "store_request_failed"

    def __init__(self, message: str, s3_code: str | None = None) -> None:
        super().__init__(message)
        self.s3_code = s3_code


def make_client(
    endpoint: str,
    access_key: str,
    secret_key: str,
    *,
    secure: bool,
    region: str | None = None,
    connect_timeout: float = 5.0,
    read_timeout: float = 60.0,
    retries: int = 3,
    ca_certs: str | None = None,
) -> Minio:
    """A ``Minio`` client with bounded timeouts and retries (the client's defaults wait minutes).

    ``endpoint`` is ``host[:port]``; an ``http://`` or ``https://`` URL is accepted too, and its scheme
    must agree with ``secure``.
    """
    if "://" in endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or parts.path.strip("/") or not parts.netloc:
            raise ValueError(f"invalid object store endpoint: {endpoint!r}")
        if (parts.scheme == "https") != secure:
            raise ValueError(f"endpoint scheme {parts.scheme!r} contradicts secure={secure}")
        endpoint = parts.netloc
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
        maxsize=10,
        cert_reqs="CERT_REQUIRED",
        ca_certs=ca_certs or os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=urllib3.Retry(
            total=retries, connect=retries, read=retries, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
        ),
    )
    return Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region, http_client=http)


@dataclass(frozen=True, slots=True)
class _Version:
    version_id: str | None
    size: int


class _VerifyingReader:
    """Reads exactly ``size`` bytes of ``fh`` for an upload, hashing them; refuses (before the upload
    can complete: the client reads the whole body, or the last part, before sending it) when they are
    not what was hashed before."""

    def __init__(self, fh: BinaryIO, size: int, sha: str, source: Path) -> None:
        self._fh, self._left, self._sha, self._source = fh, size, sha, source
        self._digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        if self._left == 0:
            return b""
        want = self._left if n is None or n < 0 else min(n, self._left)
        chunk = self._fh.read(want)
        if not chunk:
            raise IntegrityError(f"上传 {self._source} 时文件变短，未保存")
        self._digest.update(chunk)
        self._left -= len(chunk)
        if self._left == 0 and self._digest.hexdigest() != self._sha:
            raise IntegrityError(f"上传 {self._source} 时文件发生变化，未保存")
        return chunk


class MinioStore:
    """The object-store interface on an S3-compatible server with object lock (MinIO, AWS S3)."""

    def __init__(
        self,
        client: Minio,
        bucket: str,
        *,
        lock_mode: str = GOVERNANCE,
        retention: timedelta | None = None,
        legal_hold: bool = False,
        create: bool = True,
        part_size: int = 16 * MiB,
        sse: Sse | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if lock_mode not in LOCK_MODES:
            raise ValueError(f"lock_mode must be one of {LOCK_MODES}, not {lock_mode!r}")
        if retention is not None and retention <= timedelta(0):
            raise ValueError("retention must be positive")
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        if isinstance(sse, SseCustomerKey):
            raise ValueError("SSE-C is not supported (every read would need the key): use SseS3 or SseKMS")
        self.client = client
        self.bucket = bucket
        self.lock_mode = lock_mode
        self.retention = retention
        self.legal_hold = legal_hold
        self.part_size = part_size
        self.sse = sse
        self.clock = clock or (lambda: datetime.now(UTC))
        self._known: OrderedDict[str, _Version] = OrderedDict()
        self._lock = threading.Lock()
        self._prepare_bucket(create)

    @classmethod
    def from_settings_values(
        cls,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool,
        region: str | None,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        retries: int = 3,
        ca_certs: str | None = None,
        **kw: Any,
    ) -> MinioStore:
        client = make_client(
            endpoint,
            access_key,
            secret_key,
            secure=secure,
            region=region,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries=retries,
            ca_certs=ca_certs,
        )
        return cls(client, bucket, **kw)

    # -- errors ----------------------------------------------------------------------------
    def _translate(self, exc: Exception, key: str | None) -> StoreError:
        where = f"对象 {key}" if key else f"存储桶 {self.bucket}"
        if isinstance(exc, S3Error):
            code = exc.code or ""
            status = getattr(exc.response, "status", 0) or 0
            if code in ("NoSuchKey", "NoSuchVersion") and key is not None:
                return ObjectNotFound(key)
            if code == "NoSuchBucket":
                return BucketNotFound(f"存储桶 {self.bucket} 不存在")
            if code in _CHECKSUM_CODES:
                return IntegrityError(f"对象存储拒绝了{where}：内容与校验和不符")
            if code in _DENIED_CODES:
                return StoreAccessDenied(f"对象存储拒绝访问{where}（{code}）")
            if code in _UNAVAILABLE_CODES or status >= 500:
                return StoreUnavailable(f"对象存储暂时不可用（{code or status}）")
            return StoreRequestFailed(f"对象存储请求失败：{where}（{code or status}）", code or None)
        if isinstance(exc, ServerError):
            return StoreUnavailable(f"对象存储暂时不可用（HTTP {exc.status_code}）")
        if isinstance(exc, InvalidResponseError):
            return StoreRequestFailed(f"对象存储返回了无法识别的响应：{where}")
        return StoreUnavailable(f"无法连接对象存储：{exc.__class__.__name__}")

    @contextlib.contextmanager
    def _errors(self, key: str | None = None) -> Iterator[None]:
        """Server and connection errors → ``StoreError`` subclasses with stable codes."""
        try:
            yield
        except (S3Error, ServerError, InvalidResponseError, urllib3.exceptions.HTTPError, ConnectionError) as exc:
            raise self._translate(exc, key) from exc

    def _call(self, key: str | None, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._errors(key):
            return fn(*args, **kwargs)

    # -- bucket ----------------------------------------------------------------------------
    def _prepare_bucket(self, create: bool) -> None:
        """Create the bucket with object lock, or check that the existing one has it; versioning on."""
        with self._errors():
            if not self.client.bucket_exists(self.bucket):
                if not create:
                    raise BucketNotFound(f"存储桶 {self.bucket} 不存在")
                try:
                    # Object lock can only be enabled when a bucket is created.
                    self.client.make_bucket(self.bucket, object_lock=True)
                except S3Error as exc:
                    if exc.code != "BucketAlreadyOwnedByYou":  # a concurrent creator is fine
                        raise
            try:
                self.client.get_object_lock_config(self.bucket)
            except S3Error as exc:
                if exc.code == "ObjectLockConfigurationNotFoundError":
                    raise BucketWithoutObjectLock(
                        f"存储桶 {self.bucket} 未启用对象锁定（只能在创建存储桶时启用），拒绝使用"
                    ) from exc
                raise
            if self.client.get_bucket_versioning(self.bucket).status != ENABLED:
                self.client.set_bucket_versioning(self.bucket, VersioningConfig(ENABLED))

    # -- lookups ---------------------------------------------------------------------------
    def _versions(self, key: str) -> list[_Version]:
        """The key's versions, newest first, delete markers left out (one listing request)."""
        found: list[_Version] = []
        with self._errors(key):
            for obj in self.client.list_objects(self.bucket, prefix=key, include_version=True):
                if obj.is_delete_marker or obj.is_dir:
                    continue
                if obj.object_name != key:
                    break  # versions come sorted by name and the key sorts first among names it prefixes
                found.append(_Version(obj.version_id, obj.size or 0))
        return found

    def _remember(self, key: str, version: _Version) -> None:
        with self._lock:
            self._known[key] = version
            self._known.move_to_end(key)
            while len(self._known) > KNOWN_VERSIONS:
                self._known.popitem(last=False)

    def _oldest(self, key: str, *, fresh: bool = False) -> _Version | None:
        """The archived (oldest) version of ``key``; remembered once seen, since a version older than the
        oldest can never appear (only a delete of it, around the product, changes it: see ``_pinned``)."""
        validate_key(key)
        if not fresh:
            with self._lock:
                known = self._known.get(key)
                if known is not None:
                    self._known.move_to_end(key)
                    return known
        versions = self._versions(key)
        if not versions:
            with self._lock:
                self._known.pop(key, None)
            return None
        self._remember(key, versions[-1])
        return versions[-1]

    def _pinned(self, key: str, request: Callable[[_Version], T], version: _Version | None = None) -> T:
        """``request`` on the archived version; looks the version up again if the remembered one is gone."""
        version = version or self._oldest(key)
        if version is None:
            raise ObjectNotFound(key)
        try:
            return request(version)
        except ObjectNotFound:
            version = self._oldest(key, fresh=True)
            if version is None:
                raise
            return request(version)

    @staticmethod
    def _recorded_sha(headers: Mapping[str, str]) -> str | None:
        sha = headers.get(f"x-amz-meta-{SHA_META}")
        if sha is None or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            return None
        return sha

    def _head(self, key: str, version: _Version) -> tuple[_Version, str | None]:
        head = self._call(key, self.client.stat_object, self.bucket, key, version_id=version.version_id)
        return version, self._recorded_sha(head.metadata or {})

    def _info(self, key: str) -> ObjectInfo | None:
        """The archived object under ``key``, or None; IntegrityError when it has no recorded digest."""
        try:
            version, sha = self._pinned(key, lambda v: self._head(key, v))
        except ObjectNotFound:
            return None
        if sha is None:
            raise IntegrityError(f"对象 {key} 没有记录的 SHA-256，无法校验")
        return ObjectInfo(key=key, size=version.size, sha256=sha)

    # -- writes ----------------------------------------------------------------------------
    def _existing(self, key: str, sha: str) -> ObjectInfo | None:
        try:
            existing = self._info(key)
        except IntegrityError as exc:  # an object the product did not write occupies the key
            raise WriteOnceViolation(f"对象 {key} 已存在且无法确认内容，拒绝覆盖") from exc
        if existing is not None and existing.sha256 != sha:
            raise WriteOnceViolation(f"对象 {key} 已存在且内容不同，拒绝覆盖")
        return existing

    def _upload(self, key: str, stream: BinaryIO, size: int, sha: str) -> str | None:
        """Upload one new version; returns its version id."""
        metadata: dict[str, str] = {SHA_META: sha}
        if size <= self.part_size:  # one PutObject: the server checks the body against the digest
            metadata["x-amz-checksum-sha256"] = base64.b64encode(bytes.fromhex(sha)).decode("ascii")
            metadata["x-amz-sdk-checksum-algorithm"] = "SHA256"
        retention = None
        if self.retention is not None:
            retention = Retention(self.lock_mode, datetime.now(UTC) + self.retention)
        result = self._call(
            key,
            self.client.put_object,
            self.bucket,
            key,
            stream,
            size,
            metadata=metadata,
            sse=self.sse,
            part_size=self.part_size,
            retention=retention,
            legal_hold=self.legal_hold,
        )
        return result.version_id

    def _settle(self, key: str, sha: str, size: int, version_id: str | None) -> ObjectInfo:
        """After an upload: is the archived (oldest) version ours, or one with our digest?"""
        oldest = self._oldest(key, fresh=True)
        if oldest is None:
            raise StoreRequestFailed(f"对象 {key} 上传后未能在存储中找到")
        if version_id is not None and oldest.version_id == version_id:
            return ObjectInfo(key=key, size=size, sha256=sha)
        if self._head(key, oldest)[1] == sha:  # a concurrent writer stored the same body first
            return ObjectInfo(key=key, size=oldest.size, sha256=sha)
        if version_id is not None:
            try:  # our own losing version, never read; retention may keep it
                self._call(key, self.client.remove_object, self.bucket, key, version_id=version_id)
            except StoreError as exc:
                log.warning("losing version %s of %s left in place: %s", version_id, key, exc)
        raise WriteOnceViolation(f"对象 {key} 已由另一写入者以不同内容写入，拒绝覆盖")

    def put(self, key: str, data: bytes) -> ObjectInfo:
        validate_key(key)
        sha = hashlib.sha256(data).hexdigest()
        existing = self._existing(key, sha)
        if existing is not None:
            return existing
        version_id = self._upload(key, BytesIO(data), len(data), sha)
        return self._settle(key, sha, len(data), version_id)

    def put_file(self, key: str, path: Path) -> ObjectInfo:
        validate_key(key)
        sha, size = sha256_file(path)
        existing = self._existing(key, sha)
        if existing is not None:
            return existing
        with open(path, "rb") as fh:
            version_id = self._upload(key, cast(BinaryIO, _VerifyingReader(fh, size, sha, path)), size, sha)
        return self._settle(key, sha, size, version_id)

    def repair(self, key: str, data: bytes, expected_sha256: str) -> ObjectInfo:
        """Replace a missing or corrupt object with ``data`` (see the module docstring); never a healthy one."""
        validate_key(key)
        sha = hashlib.sha256(data).hexdigest()
        if sha != expected_sha256:
            raise IntegrityError(f"用于修复 {key} 的内容与期望的 SHA-256 不符，未写入")
        versions = self._versions(key)
        state = "missing"
        if len(versions) > 1:
            raise RepairRefused(f"对象 {key} 有 {len(versions)} 个版本，无法确定归档版本，需人工处理")
        if versions:
            recorded, actual = self._digest(key, versions[0], None)
            if recorded is not None and actual == recorded:
                raise RepairRefused(f"对象 {key} 完好，一次写入的对象不能覆盖")
            if recorded is not None and recorded != sha:
                raise RepairRefused(f"对象 {key} 记录的 SHA-256 为 {recorded}，与期望的 {sha} 不符，未修复")
            try:
                self._call(key, self.client.remove_object, self.bucket, key, version_id=versions[0].version_id)
            except StoreError as exc:
                raise RepairRefused(f"对象 {key} 的损坏版本无法删除（可能受保留策略保护）：{exc}") from exc
            state = "corrupt"
        with self._lock:
            self._known.pop(key, None)
        version_id = self._upload(key, BytesIO(data), len(data), sha)
        info = self._settle(key, sha, len(data), version_id)
        log.warning(
            "object_repaired",
            extra={"store": "minio", "bucket": self.bucket, "key": key, "was": state, "sha256": sha, "size": len(data)},
        )
        return info

    # -- reads -----------------------------------------------------------------------------
    def stat(self, key: str) -> ObjectInfo:
        info = self._info(key)
        if info is None:
            raise ObjectNotFound(key)
        return info

    def exists(self, key: str) -> bool:
        return self._oldest(key, fresh=True) is not None

    def _open(self, key: str, version: _Version) -> BaseHTTPResponse:
        return self._call(key, self.client.get_object, self.bucket, key, version_id=version.version_id)

    def _digest(self, key: str, version: _Version | None, keep: list[bytes] | None) -> tuple[str | None, str]:
        """(recorded digest, digest of the body) of the archived version; ``keep`` collects the body."""
        response = self._pinned(key, lambda v: self._open(key, v), version)
        digest = hashlib.sha256()
        try:
            with self._errors(key):
                for chunk in response.stream(CHUNK):
                    digest.update(chunk)
                    if keep is not None:
                        keep.append(chunk)
        finally:
            response.close()
            response.release_conn()
        return self._recorded_sha(response.headers), digest.hexdigest()

    def get(self, key: str) -> bytes:
        body: list[bytes] = []
        recorded, actual = self._digest(key, None, body)
        if recorded is None:
            raise IntegrityError(f"对象 {key} 没有记录的 SHA-256，无法校验")
        if actual != recorded:
            raise IntegrityError(f"对象 {key} 校验失败：内容与记录的 SHA-256 不符")
        return b"".join(body)

    def verify(self, key: str) -> bool:
        """Re-hash the archived version (looked up afresh, not remembered)."""
        versions = self._versions(validate_key(key))
        if not versions:
            raise ObjectNotFound(key)
        if len(versions) > 1:  # a lost race under retention, or an overwrite around the product
            log.warning("object %s has %d versions; the oldest is the archived one", key, len(versions))
        self._remember(key, versions[-1])
        recorded, actual = self._digest(key, versions[-1], None)
        return recorded is not None and actual == recorded

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Keys under ``prefix``, ordered like the filesystem store's (by path segments)."""
        names: set[str] = set()
        with self._errors():
            for obj in self.client.list_objects(self.bucket, prefix=prefix, recursive=True, include_version=True):
                if obj.is_delete_marker or not obj.object_name:
                    continue
                try:
                    names.add(validate_key(obj.object_name))
                except ValueError:  # written around the product (e.g. a console's "folder/"): not an object
                    continue
        yield from sorted(names, key=lambda name: name.split("/"))

    # -- retention ---------------------------------------------------------------------------
    def _lock_of(self, key: str, version_id: str | None) -> tuple[str | None, Hold]:
        """(object-lock mode, hold) of one version, from its ``x-amz-object-lock-*`` headers."""
        head = self._call(key, self.client.stat_object, self.bucket, key, version_id=version_id)
        lowered = {k.lower(): v for k, v in (head.metadata or {}).items()}
        mode = lowered.get("x-amz-object-lock-mode")
        until = None
        if mode and lowered.get("x-amz-object-lock-retain-until-date"):
            with contextlib.suppress(ValueError):
                until = datetime.fromisoformat(lowered["x-amz-object-lock-retain-until-date"].replace("Z", "+00:00"))
        return mode, Hold(until, lowered.get("x-amz-object-lock-legal-hold", "").upper() == "ON")

    def _version_hold(self, key: str, version_id: str | None) -> Hold:
        return self._lock_of(key, version_id)[1]

    def lock_state(self, key: str) -> tuple[str | None, Hold]:
        """The archived (oldest) version's object-lock mode and hold (``ObjectNotFound`` when absent)."""
        version = self._oldest(validate_key(key), fresh=True)
        if version is None:
            raise ObjectNotFound(key)
        return self._lock_of(key, version.version_id)

    def hold(self, key: str) -> Hold:
        """The archived (oldest) version's retention and legal hold."""
        return self.lock_state(key)[1]

    def retain(self, key: str, until: datetime | None = None, *, legal_hold: bool = False) -> Hold:
        """Strengthen the hold of every version of ``key`` (never shortened, never lifted); returns the
        archived version's hold."""
        if until is not None and until.tzinfo is None:
            raise ValueError("retain_until must be timezone-aware (UTC)")
        versions = self._versions(validate_key(key))
        if not versions:
            raise ObjectNotFound(key)
        for version in versions:
            current = self._version_hold(key, version.version_id)
            if until is not None and (current.retain_until is None or until > current.retain_until):
                config = Retention(self.lock_mode, until.astimezone(UTC))
                self._call(key, self.client.set_object_retention, self.bucket, key, config, version.version_id)
            if legal_hold and not current.legal_hold:
                self._call(key, self.client.enable_object_legal_hold, self.bucket, key, version.version_id)
        return self._version_hold(key, versions[-1].version_id)

    def dispose(self, key: str) -> bool:
        """Delete every version and delete marker of ``key`` once no lock holds any version."""
        validate_key(key)
        entries: list[tuple[str | None, bool]] = []
        with self._errors(key):
            for obj in self.client.list_objects(self.bucket, prefix=key, include_version=True):
                if obj.object_name != key:
                    if obj.object_name and obj.object_name > key:
                        break
                    continue
                entries.append((obj.version_id, bool(obj.is_delete_marker)))
        if not any(not marker for _, marker in entries):
            for version_id, _ in entries:  # only delete markers left: tidy them away
                self._call(key, self.client.remove_object, self.bucket, key, version_id=version_id)
            return False
        now = self.clock()
        for version_id, marker in entries:
            if not marker:
                found = self._version_hold(key, version_id)
                if found.active(now):
                    why = "法律保留" if found.legal_hold else f"保留至 {found.retain_until.isoformat()}"
                    raise RetentionActive(f"对象 {key} 仍受保护（{why}），不能删除")
        for version_id, _ in entries:
            try:
                self._call(key, self.client.remove_object, self.bucket, key, version_id=version_id)
            except (StoreAccessDenied, StoreRequestFailed) as exc:  # the server's lock still holds
                raise RetentionActive(f"对象存储拒绝删除 {key}（对象锁定仍有效）：{exc}") from exc
        with self._lock:
            self._known.pop(key, None)
        log.warning("object_disposed", extra={"store": "minio", "bucket": self.bucket, "key": key})
        return True

    # -- links -----------------------------------------------------------------------------
    def presigned_get(self, key: str, expires: timedelta) -> str:
        """A URL that fetches the archived version for ``expires`` (at most 15 minutes).

        The URL bypasses the product's digest check and authorisation: the caller authorises and logs
        first.
        """
        if not timedelta(seconds=1) <= expires <= MAX_PRESIGN:
            raise ValueError(f"预签名链接有效期须在 1 秒到 {int(MAX_PRESIGN.total_seconds() // 60)} 分钟之间")
        version = self._oldest(key, fresh=True)  # a URL cannot look again
        if version is None:
            raise ObjectNotFound(key)
        return self._call(
            key,
            self.client.presigned_get_object,
            self.bucket,
            key,
            expires=expires,
            version_id=version.version_id,
        )
