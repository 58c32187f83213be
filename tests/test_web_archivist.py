"""The archivist's pages: the upload page, the batch history and one batch's live status panel;
role and office refusals; and a real upload through the API from a web sign-in (OCR faked as
blank pages so the batch runs in moments), followed by the batch page and its status JSON."""

from __future__ import annotations

import io
import os
import re
import time
from concurrent.futures import Future
from pathlib import Path

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from archive.records.models import AccessLogEntry, Batch
from archive.settings import Settings
from ocr.engine import PageOcr
from ocr.pool import PageOutcome
from tests.api_client import running
from tests.api_seed import OFFICE_A, OFFICE_B
from tests.web_client import csrf_headers, sign_in

API = "/api/v1"
SYNTHETIC = Path(__file__).resolve().parent / "fixtures" / "synthetic"


class BlankPool:
    """An OCR pool that reads every page at once as a page without text (no model, no process)."""

    capacity = 2

    def submit(self, data: bytes, image_key: str = "", raw=None) -> Future[PageOutcome]:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
        ocr = PageOcr(lines=[], rotation=0, width=width, height=height, engine="blank").to_json()
        future: Future[PageOutcome] = Future()
        future.set_result(PageOutcome(None, ocr, None, 0.0, os.getpid(), 0.0))
        return future

    def close(self, cancel: bool = False) -> None:
        return None


def batch_ids(client: TestClient) -> dict[str, str]:
    """The seeded batches: office → batch id."""
    with client.app.state.archive.rt.sessions() as session:
        return {b.office: b.id for b in session.scalars(select(Batch))}


def log(client: TestClient, action: str) -> list[AccessLogEntry]:
    with client.app.state.archive.rt.sessions() as session:
        query = select(AccessLogEntry).where(AccessLogEntry.action == action).order_by(AccessLogEntry.seq)
        return list(session.scalars(query))


def no_inline_code(html: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert " style=" not in html and "<style" not in html, "inline style"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert "http://" not in html and "https://" not in html, "external URL"


def test_pages_render_for_the_archivist(settings: Settings) -> None:
    with running(settings) as (client, data):
        sign_in(client, "archivist")
        ids = batch_ids(client)

        upload = client.get("/batches/upload")
        assert upload.status_code == 200
        html = upload.text
        assert "上传扫描件" in html and "拖放" in html and "最近的批次" in html
        assert re.search(r'<label for="upload-files"', html) and 'id="upload-files"' in html
        assert 'type="file" multiple accept=".pdf,.tif,.tiff,.jpg,.jpeg,.png"' in html
        assert "<progress" in html and 'id="batch-panel-template"' in html  # the panel upload.js fills
        assert "/static/js/upload.js" in html and "/static/js/batch.js" in html and "/static/css/archivist.css" in html
        assert f'href="/batches/{ids[OFFICE_A]}"' in html and ids[OFFICE_B] not in html
        no_inline_code(html)

        history = client.get("/batches")
        assert history.status_code == 200
        assert "已分类案卷" in history.text and "待审核" in history.text and "已归档" in history.text
        assert f'href="/batches/{ids[OFFICE_A]}"' in history.text
        assert ids[OFFICE_B] not in history.text  # another office's batch is not listed
        no_inline_code(history.text)
        assert ids[OFFICE_A] in log(client, "batch_view")[-1].targets

        page = client.get(f"/batches/{ids[OFFICE_A]}")
        assert page.status_code == 200
        html = page.text
        for text in ("已识别页数", "已分类案卷", "已归档", "待审核", "问题", "处理完成", "aria-live"):
            assert text in html, text
        assert f'href="/dossiers/{data.dossiers["r1"]}"' in html  # the dossier awaiting review, in the viewer
        assert "low_confidence" in html and "低置信度" in html
        assert data.dossiers["a1"] not in html  # archived dossiers are counted, not listed
        assert f'data-batch-id="{ids[OFFICE_A]}"' in html and 'data-state="finished"' in html
        no_inline_code(html)
        entry = log(client, "batch_view")[-1]
        assert entry.outcome == "allowed" and entry.actor == "archivist"
        assert entry.targets == [ids[OFFICE_A], data.dossiers["r1"]]  # the dossier shown is in the log

        static = [client.get(f"/static/{p}") for p in ("js/upload.js", "js/batch.js", "css/archivist.css")]
        assert [s.status_code for s in static] == [200, 200, 200]


def test_a_reviewer_sees_batches_but_may_not_upload(settings: Settings) -> None:
    with running(settings) as (client, _):
        sign_in(client, "reviewer")
        ids = batch_ids(client)
        history = client.get("/batches")
        assert history.status_code == 200 and 'href="/batches/upload"' not in history.text.split("<main", 1)[1]
        assert client.get(f"/batches/{ids[OFFICE_A]}").status_code == 200
        refused = client.get("/batches/upload")
        assert refused.status_code == 403 and "无权访问" in refused.text


def test_a_caseworker_is_refused(settings: Settings) -> None:
    with running(settings) as (client, _):
        sign_in(client, "caseworker")
        ids = batch_ids(client)
        for path in ("/batches/upload", "/batches", f"/batches/{ids[OFFICE_A]}"):
            answer = client.get(path)
            assert answer.status_code == 403, path
            assert "无权访问" in answer.text and "forbidden_role" in answer.text
            assert "已识别页数" not in answer.text
        denied = [e for e in log(client, "batch_view") if e.outcome == "denied"]
        assert len(denied) == 2 and all(e.actor == "caseworker" for e in denied)
        assert [e for e in log(client, "page_view") if e.actor == "caseworker" and e.outcome == "denied"]


def test_not_signed_in_goes_to_sign_in(settings: Settings) -> None:
    with running(settings) as (client, _):
        ids = batch_ids(client)
        for path in ("/batches/upload", "/batches", f"/batches/{ids[OFFICE_A]}"):
            answer = client.get(path, follow_redirects=False)
            assert answer.status_code == 303, path
            assert answer.headers["location"] == "/login?next=" + path


def test_another_offices_batch_is_not_found(settings: Settings) -> None:
    with running(settings) as (client, _):
        sign_in(client, "archivist")
        other = batch_ids(client)[OFFICE_B]
        page = client.get(f"/batches/{other}")
        assert page.status_code == 404
        assert "批次不存在或不在您的查阅范围内" in page.text and "batch_not_found" in page.text
        assert "已识别页数" not in page.text
        entry = log(client, "batch_view")[-1]
        assert entry.outcome == "denied" and entry.targets == [other] and entry.detail["code"] == "batch_not_found"
        assert client.get(f"{API}/batches/{other}").status_code == 404  # the API draws the same line
        assert client.get("/batches/not-a-batch").status_code == 404


def test_history_pages_back_through_older_batches(settings: Settings) -> None:
    with running(settings) as (client, _):
        sign_in(client, "archivist")
        newest = batch_ids(client)[OFFICE_A]
        older = client.get("/batches", params={"before": newest})
        assert older.status_code == 200 and newest not in older.text and "没有更早的批次" in older.text
        assert client.get("/batches", params={"before": "x" * 37}).status_code == 422
        listed = client.get(f"{API}/batches", params={"before": newest}).json()["items"]
        assert listed == [] and client.get(f"{API}/batches").json()["items"][0]["id"] == newest


def _finished(client: TestClient, batch_id: str) -> dict:
    deadline = time.monotonic() + 120
    while True:
        status = client.get(f"{API}/batches/{batch_id}", params={"detail": "false"})
        assert status.status_code == 200, status.text
        body = status.json()
        if body["progress"]["state"] in ("finished", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_upload_from_the_web_session_then_the_batch_page(settings: Settings) -> None:
    with running(settings, pool_factory=BlankPool) as (client, _):
        csrf = sign_in(client, "archivist")
        seeded = batch_ids(client)[OFFICE_A]
        scan = (SYNTHETIC / "dossier-001.pdf").read_bytes()
        files = [
            ("files", ("扫描 001.pdf", scan, "application/pdf")),
            ("files", ("损坏.pdf", b"%PDF-1.4\nnot really a pdf\n", "application/pdf")),
        ]
        assert client.post(f"{API}/batches", files=files).json()["error"]["code"] == "csrf_failed"
        created = client.post(f"{API}/batches", files=files, headers=csrf_headers(csrf))
        assert created.status_code == 202, created.text
        batch_id = created.json()["id"]
        assert created.json()["files"] == 2 and len(batch_id) == 36

        light = _finished(client, batch_id)
        assert light["progress"]["state"] == "finished", light
        assert light["problems"] is None and light["review"] is None  # detail=false: counts only
        assert [f["status"] for f in light["files"]] == ["ingested", "rejected"]
        assert light["progress"]["pages_done"] == light["progress"]["pages_total"] == 2
        summary = light["summary"]
        assert summary["files_rejected"] == 1 and summary["dossiers_total"] == 1 and summary["pages_stored"] == 2
        assert light["dossiers"] == {"needs_review": 1}  # blank pages: nothing to classify, a reviewer looks

        full = client.get(f"{API}/batches/{batch_id}").json()
        assert full["files"] == light["files"] and full["summary"] == summary
        [dossier] = full["review"]
        assert dossier["file_name"].endswith("扫描_001.pdf") and dossier["problems"] >= 1
        codes = {p["code"] for p in full["problems"]}
        assert "blank_page" in codes or "no_text" in codes
        file_problem = [p for p in full["problems"] if p["dossier"] is None]
        assert len(file_problem) == 1 and file_problem[0]["file_position"] == 1
        assert summary["problems_total"] == len(full["problems"])
        assert log(client, "batch_view")[-1].targets == [batch_id, dossier["id"]]
        assert log(client, "ingest")[-1].detail["batch_id"] == batch_id

        page = client.get(f"/batches/{batch_id}")
        assert page.status_code == 200
        html = page.text
        assert "扫描_001.pdf" in html and "已入库" in html and "拒收" in html and "已完成" in html
        assert file_problem[0]["code"] in html
        assert f'href="/dossiers/{dossier["id"]}"' in html  # an archivist opens it in the viewer
        assert re.search(r'data-field="needs_review">1<', html)
        assert re.search(r'data-field="pages">2 / 2<', html)

        history = client.get("/batches").text
        assert f'href="/batches/{batch_id}"' in history
        assert history.index(batch_id) < history.index(seeded)  # newest first
