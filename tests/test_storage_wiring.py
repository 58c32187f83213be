"""``ARCHIVE_S3_ENDPOINT`` switches the whole runtime to the MinIO store (moto here): the API serves
page images from it through the same hash-checked reads, and the settings view hides secrets."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from archive.runtime import open_runtime
from archive.settings import Settings
from archive.storage.factory import open_store
from archive.storage.filesystem import FilesystemStore
from archive.storage.minio_store import MinioStore
from tests.api_client import running, token
from tests.api_seed import add_users, seed
from tests.contract.s3_server import moto_only, session_s3


def _on_s3(settings: Settings, **extra: object) -> Settings:
    """The settings with the objects on a fresh bucket of the session's S3 server (GOVERNANCE locks)."""
    s3 = session_s3()
    return settings.model_copy(
        update={
            "s3_endpoint": s3.endpoint,
            "s3_access_key": s3.access_key,
            "s3_secret_key": SecretStr(s3.secret_key),
            "s3_bucket": s3.new_bucket(),
            "s3_secure": s3.secure,
            "s3_region": s3.region,
            "s3_lock_mode": "GOVERNANCE",
            **extra,
        }
    )


def test_runtime_on_minio_serves_pages_and_hides_secrets(settings: Settings) -> None:
    on_s3 = _on_s3(settings)
    rt = open_runtime(on_s3)
    try:
        assert isinstance(rt.store, MinioStore)
        add_users(rt)
        data = seed(rt)
    finally:
        rt.close()
    assert not any(on_s3.objects_dir.glob("**/*.png")) if on_s3.objects_dir.exists() else True
    with running(on_s3, seeded=False) as (client, _):
        reviewer = token(client, "reviewer")  # served the scan as stored (caseworkers: watermarked)
        r1 = data.dossiers["r1"]
        image = client.get(f"/api/v1/dossiers/{r1}/pages/1/image", headers=reviewer)
        assert image.status_code == 200 and image.content == data.page_bytes[r1]
    es_secret = on_s3.model_copy(update={"es_url": "https://elastic:hunter2@es.example:9200"})
    with running(es_secret, seeded=False) as (client, _):
        shown = client.get("/api/v1/system/settings", headers=token(client, "admin")).json()["settings"]
    assert shown["es_url"] == "https://elastic:***@es.example:9200"
    assert shown["s3_secret_key"] == "**********" and "hunter2" not in str(shown)
    assert isinstance(open_runtime(settings).store, FilesystemStore)


@moto_only  # a real MinIO needs a KMS configured for SSE-S3
def test_settings_pass_server_side_encryption_through(settings: Settings) -> None:
    s3 = session_s3()
    on_s3 = _on_s3(settings, s3_sse="s3")
    store = open_store(on_s3)
    assert isinstance(store, MinioStore)
    store.put("enc/a", b"encrypted at rest")
    head = s3.client().stat_object(on_s3.s3_bucket, "enc/a")
    assert head.metadata["x-amz-server-side-encryption"] == "AES256"
    with pytest.raises(ValueError, match="ARCHIVE_S3_SSE_KMS_KEY"):
        open_store(on_s3.model_copy(update={"s3_sse": "kms", "s3_bucket": s3.new_bucket()}))
