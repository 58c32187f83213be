"""The object store the settings name: MinIO/S3 when ``ARCHIVE_S3_ENDPOINT`` is set, else the
write-once filesystem store under the archive home."""

from __future__ import annotations

from archive.settings import Settings

from .base import ObjectStore
from .filesystem import FilesystemStore


def open_store(settings: Settings) -> ObjectStore:
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
        )
    return FilesystemStore(settings.objects_dir)
