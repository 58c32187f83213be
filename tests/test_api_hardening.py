"""Hardening: security headers, upload limits and types, path traversal, rate limits, no stack
traces; and a real upload through the API, OCR'd in the background with live progress."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from api.batches import safe_name
from archive.settings import Settings
from tests.api_client import running, token
from tests.api_seed import PASSWORD
from tests.conftest import OCR_CACHE

API = "/api/v1"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "synthetic"
sqlite_only = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


@sqlite_only
def test_security_headers_and_error_shape(settings: Settings) -> None:
    with running(settings) as (client, _):
        response = client.get(f"{API}/health")
        assert response.status_code == 200
        for name in ("x-content-type-options", "x-frame-options", "content-security-policy", "referrer-policy"):
            assert name in response.headers
        assert response.headers["cache-control"] == "no-store"
        missing = client.get(f"{API}/no-such-route")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


@sqlite_only
def test_unexpected_errors_carry_no_stack_trace(settings: Settings, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("secret internal detail /srv/archive")

    monkeypatch.setattr("archive.reading.dossiers.open_dossier", boom)
    with running(settings) as (client, data):
        response = client.get(f"{API}/dossiers/{data.dossiers['a1']}", headers=token(client, "caseworker"))
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "internal_error"
        assert "secret" not in response.text and "Traceback" not in response.text


@sqlite_only
def test_path_traversal_is_impossible(settings: Settings) -> None:
    assert safe_name("../../etc/passwd.pdf", 3) == "0003-passwd.pdf"
    assert safe_name("..\\..\\x.tif", 0) == "0000-x.tif"
    assert "/" not in safe_name("a/b/../../c.pdf", 1) and not safe_name("...", 2).startswith(".")
    with running(settings) as (client, _):
        headers = token(client, "caseworker")
        for path in (
            f"{API}/dossiers/..%2F..%2Farchive.db/pages/1/image",
            f"{API}/dossiers/../../archive.db",
            f"{API}/dossiers/%2e%2e/pdf?reason=test",
        ):
            response = client.get(path, headers=headers)
            assert response.status_code in (404, 422), path
            assert not response.content.startswith(b"SQLite")


@sqlite_only
def test_upload_refuses_wrong_types_and_oversized_files(settings: Settings) -> None:
    with running(settings, max_file_bytes=100_000, upload_max_files=2) as (client, _):
        headers = token(client, "archivist")
        fake = client.post(
            f"{API}/batches", files={"files": ("scan.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")}, headers=headers
        )
        assert fake.status_code == 422 and fake.json()["error"]["code"] == "unsupported_file_type"
        exe = client.post(
            f"{API}/batches", files={"files": ("run.exe", b"%PDF-1.4", "application/pdf")}, headers=headers
        )
        assert exe.status_code == 422 and exe.json()["error"]["code"] == "unsupported_file_type"
        big = (FIXTURES / "dossier-001.pdf").read_bytes()
        too_big = client.post(f"{API}/batches", files={"files": ("big.pdf", big, "application/pdf")}, headers=headers)
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] in ("too_large", "file_too_large")
        many = [("files", (f"{i}.png", b"\x89PNG\r\n\x1a\n", "image/png")) for i in range(3)]
        assert client.post(f"{API}/batches", files=many, headers=headers).json()["error"]["code"] == "too_many_files"
        uploads = settings.home / "uploads"
        assert not uploads.exists() or not any(uploads.iterdir())  # refused uploads leave nothing behind


@sqlite_only
def test_login_and_search_are_rate_limited(settings: Settings) -> None:
    with running(settings, login_rate_per_minute=4, search_rate_per_minute=2) as (client, _):
        headers = token(client, "caseworker")
        codes = [
            client.post(f"{API}/auth/token", data={"username": "x", "password": "y"}).status_code for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        refused = client.post(f"{API}/auth/token", data={"username": "caseworker", "password": PASSWORD})
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
        codes = [client.get(f"{API}/dossiers", params={"q": "张"}, headers=headers).status_code for _ in range(3)]
        assert codes == [200, 200, 429]


def one_worker_pool():
    """A pool of one OCR process, as the server runs it: a Paddle predictor must stay on the thread
    that made it, so the in-process session engine cannot be handed to the batch thread."""
    from ocr.pool import OcrPool
    from ocr.registry import EngineConfig

    return OcrPool(
        EngineConfig(name="paddle", threads=1, cache_dir=OCR_CACHE), workers=1, recycle=10**6, pixel_limit=10**9
    )


def test_upload_is_ingested_in_the_background_with_progress(settings: Settings) -> None:
    with running(settings, pool_factory=one_worker_pool) as (client, _):
        headers = token(client, "archivist")
        source = FIXTURES / "dossier-001.pdf"
        created = client.post(
            f"{API}/batches",
            files={"files": ("../扫描 001.pdf", source.read_bytes(), "application/pdf")},
            headers=headers,
        )
        assert created.status_code == 202, created.text
        batch_id = created.json()["id"]
        deadline = time.monotonic() + 300
        while True:
            status = client.get(f"{API}/batches/{batch_id}", headers=headers).json()
            if status["progress"]["state"] in ("finished", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert status["progress"]["state"] == "finished", status
        assert status["status"] == "completed" and status["created_by"] == "archivist"
        assert status["progress"]["pages_done"] == status["progress"]["pages_total"] == 2
        assert [f["status"] for f in status["files"]] == ["ingested"]
        assert sum(status["dossiers"].values()) == 1
        assert client.get(f"{API}/batches/{batch_id}", headers=token(client, "caseworker")).status_code == 403
        listed = client.get(f"{API}/batches", headers=token(client, "reviewer")).json()["items"]
        assert batch_id in [b["id"] for b in listed]
        uploads = settings.home / "uploads"
        assert not any(uploads.rglob("*.pdf"))  # kept in the store now; the upload copy is gone
