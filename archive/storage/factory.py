"""The object store the settings name: MinIO/S3 when ``ARCHIVE_S3_ENDPOINT`` is set, else the
write-once filesystem store under the archive home; mirrored to a replica (``ReplicatedStore``) when
``ARCHIVE_REPLICA_DIR`` or ``ARCHIVE_REPLICA_S3_ENDPOINT`` is set.  The replica is opened on first
use, so a replica that is down does not stop the archive from starting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from archive.settings import Settings

from .base import ObjectStore
from .filesystem import FilesystemStore


def server_side_encryption(settings: Settings):
    """The ``minio.sse`` object for ``ARCHIVE_S3_SSE`` (None: no encryption header is sent)."""
    from minio.sse import SseKMS, SseS3

    if settings.s3_sse == "s3":
        return SseS3()
    if settings.s3_sse == "kms":
        if not settings.s3_sse_kms_key:
            raise ValueError("ARCHIVE_S3_SSE=kms 须同时设置 ARCHIVE_S3_SSE_KMS_KEY")
        return SseKMS(settings.s3_sse_kms_key, None)
    return None


def _primary(settings: Settings) -> ObjectStore:
    if settings.s3_endpoint:
        from .minio_store import MinioStore

        if not settings.s3_access_key or settings.s3_secret_key is None:
            raise ValueError("ARCHIVE_S3_ACCESS_KEY 与 ARCHIVE_S3_SECRET_KEY 须与 ARCHIVE_S3_ENDPOINT 一同设置")
        return MinioStore.from_settings_values(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key.get_secret_value(),
            settings.s3_bucket,
            settings.s3_secure,
            settings.s3_region,
            lock_mode=settings.s3_lock_mode,
            sse=server_side_encryption(settings),
        )
    return FilesystemStore(settings.objects_dir)


def _overlaps(a: Path, b: Path) -> bool:
    a, b = a.resolve(), b.resolve()
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def _endpoint(value: str) -> str:
    return value.split("://", 1)[-1].rstrip("/").lower()


def replica_opener(settings: Settings) -> tuple[Callable[[], ObjectStore], str] | None:
    """(how to open the configured replica, a label for logs), or None when no replica is configured."""
    if settings.replica_dir is not None and settings.replica_s3_endpoint:
        raise ValueError("ARCHIVE_REPLICA_DIR 与 ARCHIVE_REPLICA_S3_ENDPOINT 只能设置其中一个")
    if settings.replica_dir is not None:
        folder = settings.replica_dir
        if not settings.s3_endpoint and _overlaps(folder, settings.objects_dir):
            raise ValueError(f"副本目录 {folder} 不能与主存储目录 {settings.objects_dir} 相同或相互包含")
        return (lambda: FilesystemStore(folder)), str(folder)
    if settings.replica_s3_endpoint:
        from .minio_store import MinioStore

        s = settings
        if not s.replica_s3_access_key or s.replica_s3_secret_key is None:
            raise ValueError(
                "ARCHIVE_REPLICA_S3_ACCESS_KEY 与 ARCHIVE_REPLICA_S3_SECRET_KEY 须与 ARCHIVE_REPLICA_S3_ENDPOINT 一同设置"
            )
        same_endpoint = bool(s.s3_endpoint) and _endpoint(s.s3_endpoint or "") == _endpoint(s.replica_s3_endpoint)
        if same_endpoint and s.s3_bucket == s.replica_s3_bucket:
            raise ValueError(f"副本存储桶 {s.replica_s3_bucket} 不能与主存储桶相同")
        access_key, secret_key = s.replica_s3_access_key, s.replica_s3_secret_key

        def open_minio() -> ObjectStore:
            return MinioStore.from_settings_values(
                s.replica_s3_endpoint or "",
                access_key,
                secret_key.get_secret_value(),
                s.replica_s3_bucket,
                s.replica_s3_secure,
                s.replica_s3_region,
                lock_mode=s.replica_s3_lock_mode,
                sse=server_side_encryption(s),
            )

        return open_minio, f"{_endpoint(s.replica_s3_endpoint)}/{s.replica_s3_bucket}"
    return None


def open_store(settings: Settings) -> ObjectStore:
    primary = _primary(settings)
    replica = replica_opener(settings)
    if replica is None:
        return primary
    from .replica import ReplicatedStore

    open_replica, label = replica
    return ReplicatedStore(
        primary, open_replica=open_replica, retry_after_s=settings.replica_retry_seconds, label=label
    )
