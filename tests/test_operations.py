"""Operations: the readiness probe, the Prometheus metrics (token, text format, counters, route
templates), and graceful shutdown: the batch thread finishes the file it is on (or, past the grace
period, stops where it is) and the next start resumes the batch with every page stored once, in
process and through a real ``archive serve`` stopped with SIGTERM."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import func, select

from api.metrics import UNMATCHED
from archive.records.models import AccessLogEntry, Batch, BatchFile, Dossier, Original, Page
from archive.runtime import Runtime, open_runtime
from archive.settings import Settings
from ocr.engine import PageOcr
from ocr.pool import PageOutcome
from scripts.live_server import _wait_healthy, add_users, free_port, server_env, serving, settings_of
from tests.api_client import running, token
from tests.api_seed import OFFICE_A, PASSWORD
from tests.test_web_archivist import BlankPool
from tests.web_client import sign_in

API = "/api/v1"
SYNTHETIC = Path(__file__).resolve().parent / "fixtures" / "synthetic"
SCRAPE_TOKEN = "scrape-token-" + "k" * 40
SCRAPE = {"Authorization": f"Bearer {SCRAPE_TOKEN}"}


def scrape(client: TestClient) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics, parsed by prometheus_client's own parser: (name, labels) → value."""
    answer = client.get("/metrics", headers=SCRAPE)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def access_log_size(client: TestClient) -> int:
    with client.app.state.archive.rt.sessions() as session:
        return session.scalar(select(func.count()).select_from(AccessLogEntry)) or 0


def upload(client: TestClient, *names: str) -> str:
    files = [("files", (name, (SYNTHETIC / name).read_bytes(), "application/pdf")) for name in names]
    created = client.post(f"{API}/batches", files=files, headers=token(client, "archivist"))
    assert created.status_code == 202, created.text
    return created.json()["id"]


def wait_for(client: TestClient, batch_id: str, done, timeout: float = 60.0) -> dict:
    headers = token(client, "archivist")
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"{API}/batches/{batch_id}", params={"detail": "false"}, headers=headers).json()
        if done(body["progress"]) or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def finished(progress: dict) -> bool:
    return progress["state"] in ("finished", "failed")


# -- readiness -----------------------------------------------------------------------------------


def test_ready_answers_200_when_every_part_answers_and_is_not_logged(settings: Settings) -> None:
    with running(settings) as (client, _):
        before = access_log_size(client)
        answer = client.get(f"{API}/ready")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["status"] == "ready" and body["failing"] == []
        assert list(body["checks"]) == ["database", "storage", "index", "worker"]
        assert all(c["ok"] and c["code"] == "ok" and c["message"] for c in body["checks"].values())
        assert access_log_size(client) == before  # a probe is not an access to the archive
        assert client.get(f"{API}/health").json()["status"] == "ok"  # liveness unchanged
        documented = client.app.openapi()["paths"][f"{API}/ready"]["get"]["responses"]
        assert {"200", "503"} <= set(documented)


def test_ready_answers_503_naming_a_stopped_worker(settings: Settings) -> None:
    with running(settings) as (client, _):
        assert client.app.state.archive.batches.stop() is True
        answer = client.get(f"{API}/ready")
        assert answer.status_code == 503
        body = answer.json()
        assert body["status"] == "not_ready" and body["failing"] == ["worker"]
        worker = body["checks"]["worker"]
        assert (
            worker["ok"] is False and worker["code"] == "worker_stopped" and "批次处理线程已停止" in worker["message"]
        )


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_ready_answers_503_for_a_broken_database_and_an_unreadable_store(settings: Settings, tmp_path: Path) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    with running(settings) as (client, _):
        rt: Runtime = client.app.state.archive.rt
        working = rt.sessions
        rt.sessions = sessionmaker(create_engine(f"sqlite:///{tmp_path / 'missing' / 'gone.db'}"))
        try:
            answer = client.get(f"{API}/ready")
        finally:
            rt.sessions = working
        assert answer.status_code == 503
        body = answer.json()
        assert body["failing"] == ["database"]
        database = body["checks"]["database"]
        assert database["code"] == "database_unavailable" and "数据库（SQLite）无法访问" in database["message"]
        assert str(tmp_path) not in answer.text  # no path, URL or detail leaves the server

        with rt.sessions() as session:  # the newest original gone from the store: unreadable
            newest = session.scalar(select(Original.object_key).order_by(Original.id.desc()).limit(1))
        (settings.objects_dir / newest).unlink()
        answer = client.get(f"{API}/ready")
        assert answer.status_code == 503 and answer.json()["failing"] == ["storage"]
        assert answer.json()["checks"]["storage"]["code"] == "storage_unreadable"


# -- metrics: protection -------------------------------------------------------------------------


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_metrics_are_404_without_a_configured_token(settings: Settings) -> None:
    with running(settings) as (client, _):
        for headers in ({}, {"Authorization": "Bearer "}, SCRAPE, token(client, "admin")):
            assert client.get("/metrics", headers=headers).status_code == 404
    with running(settings, seeded=False, metrics_token=SecretStr("")) as (client, _):  # empty: unset
        assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_metrics_need_the_exact_token(settings: Settings) -> None:
    with running(settings, metrics_token=SecretStr(SCRAPE_TOKEN)) as (client, _):
        wrong = [
            {},
            {"Authorization": SCRAPE_TOKEN},  # no scheme
            {"Authorization": f"Basic {SCRAPE_TOKEN}"},
            {"Authorization": f"Bearer {SCRAPE_TOKEN[:-1]}"},
            {"Authorization": f"Bearer {SCRAPE_TOKEN}x"},
            {"Authorization": "Bearer 令牌".encode()},  # not ASCII: still a plain refusal
            token(client, "admin"),
        ]
        for headers in wrong:
            answer = client.get("/metrics", headers=headers)
            assert answer.status_code == 404, headers
            assert "archive_" not in answer.text
        assert client.get("/metrics", headers={"Authorization": f"bearer {SCRAPE_TOKEN}"}).status_code == 200
        assert "/metrics" not in client.app.openapi()["paths"]
        shown = client.get(f"{API}/system/settings", headers=token(client, "admin")).json()["settings"]
        assert shown["metrics_token"] != SCRAPE_TOKEN and SCRAPE_TOKEN not in str(shown)


# -- metrics: what they count --------------------------------------------------------------------


def test_metrics_parse_and_move_after_an_upload(settings: Settings) -> None:
    with running(settings, pool_factory=BlankPool, metrics_token=SecretStr(SCRAPE_TOKEN)) as (client, data):
        before = scrape(client)
        for name in ("archive_pages_ocr_total", "archive_batches_total", "archive_errors_total"):
            assert not any(key[0] == name and v for key, v in before.items()), name
        assert value(before, "archive_batch_queue_depth") == 0
        assert value(before, "archive_search_pending") == 0

        assert client.get(f"{API}/dossiers").status_code == 401  # an error answered
        batch_id = upload(client, "dossier-001.pdf", "dossier-002.pdf")
        body = wait_for(client, batch_id, finished)
        assert body["progress"]["state"] == "finished" and body["progress"]["pages_done"] == 4
        opened = client.get(f"{API}/dossiers/{data.dossiers['a1']}", headers=token(client, "caseworker"))
        assert opened.status_code == 200

        after = scrape(client)
        assert value(after, "archive_pages_ocr_total") == 4
        assert value(after, "archive_page_seconds_count") == 4
        assert value(after, "archive_batches_total", outcome="finished") == 1
        assert value(after, "archive_batches_total", outcome="failed") == 0
        assert value(after, "archive_batch_seconds_count") == 1 and value(after, "archive_batch_seconds_sum") > 0
        assert value(after, "archive_batch_queue_depth") == 0
        assert value(after, "archive_errors_total", code="not_authenticated") == 1
        posted = {"method": "POST", "route": f"{API}/batches", "status": "202"}
        assert value(after, "archive_http_requests_total", **posted) == 1
        polled = {"method": "GET", "route": f"{API}/batches/{{batch_id}}", "status": "200"}
        assert value(after, "archive_http_requests_total", **polled) >= 1
        dossier = {"method": "GET", "route": f"{API}/dossiers/{{dossier_id}}", "status": "200"}
        assert value(after, "archive_http_requests_total", **dossier) == 1
        assert value(after, "archive_http_request_seconds_count", route=f"{API}/batches") == 1
        text = client.get("/metrics", headers=SCRAPE).text
        assert batch_id not in text and data.dossiers["a1"] not in text  # templates, never raw paths


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_the_middleware_labels_route_templates(settings: Settings) -> None:
    with running(settings, metrics_token=SecretStr(SCRAPE_TOKEN)) as (client, data):
        caseworker = token(client, "caseworker")
        dossier = data.dossiers["a1"]
        assert client.get(f"{API}/dossiers/{dossier}", headers=caseworker).status_code == 200
        assert client.get(f"{API}/dossiers/{dossier}/pages/1/text", headers=caseworker).status_code == 200
        assert client.get(f"/dossiers/{dossier}").status_code in (200, 303)  # the page, not the API route
        assert client.get("/static/css/app.css").status_code == 200
        for attempt in range(3):
            assert client.get(f"/no/such/path/{attempt}").status_code == 404
        assert client.get(f"{API}/dossiers", params={"q": "a\x01"}).json()["error"]["code"] == "invalid_characters"
        assert client.request("BREW", f"{API}/health").status_code == 405
        sign_in(client, "caseworker")  # a page answers an error in HTML: its code is counted all the same
        missing = client.get("/dossiers/01900000-0000-7000-8000-00000000ffff")
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
        samples = scrape(client)
        routes = {dict(labels)["route"] for name, labels in samples if name == "archive_http_requests_total"}
        assert {
            f"{API}/dossiers/{{dossier_id}}",
            f"{API}/dossiers/{{dossier_id}}/pages/{{number}}/text",
            "/dossiers/{dossier_id}",
            "/static/{path}",
            UNMATCHED,
        } <= routes
        assert not any(dossier in route or "/no/such" in route for route in routes)
        assert value(samples, "archive_http_requests_total", method="GET", route=UNMATCHED, status="404") == 3
        assert value(samples, "archive_errors_total", code="not_found") == 3
        assert value(samples, "archive_errors_total", code="invalid_characters") == 1
        assert value(samples, "archive_errors_total", code="dossier_not_found") == 1
        methods = {dict(labels)["method"] for name, labels in samples if name == "archive_http_requests_total"}
        assert "BREW" not in methods and "OTHER" in methods


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_each_app_has_its_own_registry(settings: Settings, tmp_path: Path) -> None:
    other = settings.model_copy(update={"home": tmp_path / "other"})
    with (
        running(settings, metrics_token=SecretStr(SCRAPE_TOKEN)) as (one, _),
        running(other, metrics_token=SecretStr(SCRAPE_TOKEN)) as (two, _),
    ):
        assert one.app.state.metrics.registry is not two.app.state.metrics.registry
        for _ in range(3):
            one.get(f"{API}/health")
        two.get(f"{API}/health")
        ok = {"method": "GET", "route": f"{API}/health", "status": "200"}
        assert value(scrape(one), "archive_http_requests_total", **ok) == 3
        assert value(scrape(two), "archive_http_requests_total", **ok) == 1


# -- graceful shutdown in process ----------------------------------------------------------------


class GatedPool:
    """Blank pages that come back only when ``gate`` opens: a batch held in the middle of OCR."""

    capacity = 2

    def __init__(self, gate: threading.Event) -> None:
        self.gate = gate

    def submit(self, data: bytes, image_key: str = "", raw=None) -> Future[PageOutcome]:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
        ocr = PageOcr(lines=[], rotation=0, width=width, height=height, engine="blank").to_json()
        future: Future[PageOutcome] = Future()

        def later() -> None:
            self.gate.wait()
            future.set_result(PageOutcome(None, ocr, None, 0.01, os.getpid(), 0.0))

        threading.Thread(target=later, daemon=True).start()
        return future

    def close(self, cancel: bool = False) -> None:
        return None


def stored_once(rt: Runtime, batch_id: str, pages_per_file: list[int]) -> None:
    """The batch completed, each file ingested as one dossier, each page stored once, in order."""
    with rt.sessions() as session:
        batch = session.get(Batch, batch_id)
        assert batch is not None and batch.status == "completed"
        files = session.scalars(select(BatchFile).where(BatchFile.batch_id == batch_id)).all()
        assert sorted(f.status for f in files) == ["ingested"] * len(pages_per_file)
        dossiers = session.scalars(select(Dossier).where(Dossier.batch_id == batch_id)).all()
        assert len(dossiers) == len(pages_per_file)
        assert len({d.original_id for d in dossiers}) == len(pages_per_file)  # one dossier per file
        originals = session.scalars(select(Original).where(Original.batch_id == batch_id)).all()
        assert len(originals) == len(pages_per_file)
        counts = []
        for dossier in dossiers:
            numbers = session.scalars(select(Page.number).where(Page.dossier_id == dossier.id)).all()
            assert sorted(numbers) == list(range(1, len(numbers) + 1)) and dossier.page_count == len(numbers)
            counts.append(len(numbers))
        assert sorted(counts) == sorted(pages_per_file)


def test_stop_lets_the_current_file_finish_then_the_next_start_resumes(settings: Settings) -> None:
    gate = threading.Event()
    with running(settings, pool_factory=lambda: GatedPool(gate), metrics_token=SecretStr(SCRAPE_TOKEN)) as (client, _):
        batch_id = upload(client, "dossier-001.pdf", "dossier-002.pdf")
        wait_for(client, batch_id, lambda p: p["pages_total"] > 0 and p["state"] == "running")
        assert value(scrape(client), "archive_batch_queue_depth") == 1  # the one being processed
        worker = client.app.state.archive.batches
        stopped: list[bool] = []
        stopping = threading.Thread(target=lambda: stopped.append(worker.stop(grace=30)))
        stopping.start()
        while not worker._stopping.is_set():
            time.sleep(0.01)
        gate.set()  # the pages come back: the first file finishes, then the thread stops
        stopping.join(30)
        assert stopped == [True] and not worker.alive
        with client.app.state.archive.rt.sessions() as session:
            assert session.get(Batch, batch_id).status == "running"  # resumable
            files = session.scalars(
                select(BatchFile).where(BatchFile.batch_id == batch_id).order_by(BatchFile.position)
            )
            assert [f.status for f in files] == ["ingested", "pending"]
        assert value(scrape(client), "archive_batches_total", outcome="interrupted") == 1
        assert client.get(f"{API}/ready").json()["failing"] == ["worker"]
    with running(settings, pool_factory=BlankPool, seeded=False) as (client, _):  # the next start
        body = wait_for(client, batch_id, finished)
        assert body["progress"]["state"] == "finished", body
        stored_once(client.app.state.archive.rt, batch_id, [2, 2])


def test_past_the_grace_period_the_batch_stops_mid_file_and_resumes(settings: Settings) -> None:
    gate = threading.Event()  # never opened while the first server runs: OCR hangs
    try:
        with running(settings, pool_factory=lambda: GatedPool(gate)) as (client, _):
            batch_id = upload(client, "dossier-003.pdf")
            wait_for(client, batch_id, lambda p: p["pages_total"] > 0 and p["state"] == "running")
            started = time.monotonic()
            assert client.app.state.archive.batches.stop(grace=0.2) is True
            assert time.monotonic() - started < 5
            with client.app.state.archive.rt.sessions() as session:
                assert session.get(Batch, batch_id).status == "running"
                [record] = session.scalars(select(BatchFile).where(BatchFile.batch_id == batch_id))
                assert record.status == "pending"  # not refused: the file is read again at the next start
    finally:
        gate.set()
    with running(settings, pool_factory=BlankPool, seeded=False) as (client, _):
        body = wait_for(client, batch_id, finished)
        assert body["progress"]["state"] == "finished", body
        stored_once(client.app.state.archive.rt, batch_id, [3])


# -- graceful shutdown of a real server (SIGTERM), real OCR ----------------------------------------


@pytest.fixture
def dev_scans(dev_data: Path) -> list[Path]:
    return [dev_data / "dossiers" / "dossier-001.pdf", dev_data / "dossiers" / "dossier-010.pdf"]  # 3 pages each


@pytest.mark.parametrize(
    ("grace", "first_run"),
    [("30", ["ingested", "pending"]), ("0", ["pending", "pending"])],
    ids=["file-finishes", "grace-over"],
)
def test_sigterm_during_a_batch_then_restart_stores_every_page_once(
    tmp_path: Path, dev_scans: list[Path], grace: str, first_run: list[str]
) -> None:
    home = tmp_path / "home"
    overrides = {"ocr_workers": "1", "shutdown_grace_seconds": grace}
    env = server_env(home, **overrides)
    add_users(settings_of(env), [("archivist", "archivist", OFFICE_A)], PASSWORD)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "archive.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with (home / "server.log").open("ab") as out:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_healthy(url, process, 60)
            with httpx.Client(base_url=url, timeout=30) as http:
                headers = _sign_in(http)
                files = [("files", (p.name, p.read_bytes(), "application/pdf")) for p in dev_scans]
                created = http.post(f"{API}/batches", files=files, headers=headers)
                assert created.status_code == 202, created.text
                batch_id = created.json()["id"]
                progress = _poll(http, headers, batch_id, lambda p: p["pages_total"] > 0)
                assert progress["state"] == "running" and progress["files_done"] == 0, progress
            process.send_signal(signal.SIGTERM)  # as systemd or Kubernetes stop it
            # uvicorn shuts down gracefully, then re-raises the signal it caught: exit status -SIGTERM
            assert process.wait(timeout=60) in (0, -signal.SIGTERM)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    settings = settings_of(env)
    rt = open_runtime(settings)
    try:
        with rt.sessions() as session:
            assert session.get(Batch, batch_id).status == "running"
            records = session.scalars(
                select(BatchFile).where(BatchFile.batch_id == batch_id).order_by(BatchFile.position)
            )
            assert [f.status for f in records] == first_run
    finally:
        rt.close()
    log = (home / "logs" / "archive.jsonl").read_text(encoding="utf-8")
    lines = [json.loads(line) for line in log.splitlines()]  # uvicorn's own lines are JSON too
    assert any(e["logger"] == "uvicorn.error" and e["event"] == "Application shutdown complete." for e in lines)
    served = [e for e in lines if e["logger"] == "uvicorn.access"]
    assert served and all("/api/v1/health" not in e["event"] for e in served)  # probes stay out
    assert "batch interrupted by shutdown" in log

    with serving(home, **overrides) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        headers = _sign_in(http)
        progress = _poll(http, headers, batch_id, finished)
        assert progress["state"] == "finished" and progress["pages_done"] == progress["pages_total"], progress
        assert http.get(f"{API}/ready").status_code == 200
    rt = open_runtime(settings)
    try:
        stored_once(rt, batch_id, [3, 3])
        assert rt.search.count() == 6  # indexed once too
        assert not any((home / "uploads").rglob("*.pdf"))  # kept in the store now
    finally:
        rt.close()


def _sign_in(http: httpx.Client) -> dict[str, str]:
    answer = http.post(f"{API}/auth/token", data={"username": "archivist", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _poll(http: httpx.Client, headers: dict[str, str], batch_id: str, done, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        progress = http.get(f"{API}/batches/{batch_id}", params={"detail": "false"}, headers=headers).json()["progress"]
        if done(progress) or time.monotonic() > deadline:
            return progress
        time.sleep(0.1)
