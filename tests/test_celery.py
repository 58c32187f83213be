"""Ingest on Celery workers (ARCHIVE_BROKER_URL): real `archive worker` processes on the local Redis,
real OCR, and the same report as the in-process pool; a worker killed mid-batch loses nothing and
duplicates nothing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr
from pypdf import PdfReader
from sqlalchemy import func, select

from archive.cli import main as cli
from archive.pipeline.finishing import finish_file
from archive.pipeline.runner import run_batch
from archive.pipeline.work import FileWork, PageWork, Problem
from archive.quality.page import PageQuality
from archive.records.models import BatchFile, Dossier, OcrResult, Page, SearchPending, TaskFailure
from archive.runtime import Runtime, open_runtime
from archive.settings import Settings
from scripts.local_workers import local_workers, worker_env
from tests.conftest import FIXTURES, _reset_pg

REDIS_URL = os.environ.get("ARCHIVE_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
SYNTH = FIXTURES / "synthetic"
# Small limits so a dead worker's task is handed on within seconds (production: an hour).
FAST_RECOVERY = {"task_visibility_seconds": 20.0, "task_ocr_seconds": 15.0, "task_file_seconds": 18.0}


@pytest.fixture
def broker() -> Iterator[str]:
    """The local Redis (one database of it, emptied before and after), or a skip outside CI."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required in CI and not reachable at {REDIS_URL}")
        pytest.skip("Redis not reachable")
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


def _searchable(rt: Runtime, expected: int) -> int:
    """Pages in the index as this process sees it: the workers' commits reach its reader within a
    second or so (tantivy watches the index's meta file)."""
    deadline = time.monotonic() + 15
    while (count := rt.search.count()) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return count


def _comparable(lines: list[dict]) -> list[dict]:
    """A report without what differs between any two runs (ids, PDF bytes with their timestamps, times)."""
    drop = {"dossier", "batch_id", "searchable_pdf", "seconds", "duplicate_of"}
    return [{k: v for k, v in line.items() if k not in drop} for line in lines]


def _sources(tmp_path: Path, dev_data: Path) -> list[str]:
    """Three dossiers, a batch with separator sheets, a copy of the first file, and a broken file."""
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n% not really a PDF\n")
    dossiers = sorted((dev_data / "dossiers").glob("*.pdf"))[:3]
    copy = tmp_path / "copy-of-first.pdf"
    shutil.copyfile(dossiers[0], copy)
    return [*map(str, dossiers), str(SYNTH / "batch.pdf"), str(copy), str(broken)]


def test_celery_workers_give_the_same_report_as_the_in_process_pool(
    tmp_path: Path, broker: str, dev_data: Path, ocr_pool
) -> None:
    sources = _sources(tmp_path, dev_data)
    local = Settings(home=tmp_path / "local", ocr_workers=0, ocr_threads=2)
    rt = open_runtime(local)
    expected: list[dict] = []
    run_batch(rt, sources, office="370303", user="system:test", emit=expected.append, pool_factory=lambda: ocr_pool)
    rt.close()

    remote = Settings(home=tmp_path / "remote", broker_url=broker, ocr_threads=2, **FAST_RECOVERY)
    got: list[dict] = []
    with local_workers(remote, count=1, concurrency=2):
        rt = open_runtime(remote)
        summary = run_batch(rt, sources, office="370303", user="system:test", emit=got.append)
        try:
            assert _comparable(got) == _comparable(expected)
            assert {line["status"] for line in got} >= {"archived", "rejected", "duplicate"}
            assert summary.pages_ocred == sum(len(line["pages"]) for line in got if line["status"] != "duplicate")
            # Chained indexing ran on the workers: every page is searchable, nothing left queued.
            with rt.sessions() as session:
                assert session.scalar(select(func.count()).select_from(SearchPending)) == 0
                pages = session.scalar(select(func.count()).select_from(Page))
            assert _searchable(rt, pages) == pages > 0
            # Run again: every page was kept by content hash, so nothing is read or recorded twice.
            again: list[dict] = []
            run_batch(rt, sources, office="370303", user="system:test", emit=again.append)
            assert {line["status"] for line in again} == {"duplicate", "rejected"}
            with rt.sessions() as session:
                assert session.scalar(select(func.count()).select_from(Page)) == pages
        finally:
            rt.close()


def test_a_worker_killed_mid_batch_loses_and_duplicates_no_page(
    tmp_path: Path, broker: str, dev_data: Path, pg_database: str
) -> None:
    _reset_pg(pg_database)
    settings = Settings(
        home=tmp_path / "home", database_url=pg_database, broker_url=broker, ocr_threads=1, **FAST_RECOVERY
    )
    sources = [str(p) for p in sorted((dev_data / "dossiers").glob("*.pdf"))[:5]]
    page_counts = {Path(s).name: len(PdfReader(s).pages) for s in sources}
    rt = open_runtime(settings)
    import redis

    queue = redis.Redis.from_url(broker)
    lines: list[dict] = []
    failed: list[BaseException] = []

    def coordinator() -> None:
        try:
            run_batch(rt, sources, office="370303", user="system:test", emit=lines.append)
        except BaseException as exc:  # noqa: BLE001 — reported by the test thread
            failed.append(exc)

    try:
        with local_workers(settings, count=2, concurrency=1) as (victim, survivor):
            thread = threading.Thread(target=coordinator, daemon=True)
            thread.start()
            deadline = time.monotonic() + 120
            while True:  # wait until OCR is well under way, then kill a worker that holds a task
                with rt.sessions() as session:
                    read = session.scalar(select(func.count()).select_from(OcrResult))
                if read >= 4 and queue.hlen("unacked") >= 2:
                    break
                assert time.monotonic() < deadline and thread.is_alive(), "the batch did not get going"
                time.sleep(0.1)
            os.killpg(victim.pid, signal.SIGKILL)  # the worker and its task process, mid-task
            victim.wait()
            thread.join(300)
            assert not thread.is_alive(), "the batch did not finish after a worker died"
            assert not failed, failed
            assert survivor.poll() is None
        with rt.sessions() as session:
            files = session.scalars(select(BatchFile)).all()
            assert [f.status for f in files] == ["ingested"] * len(sources)
            dossiers = session.scalars(select(Dossier)).all()
            assert len(dossiers) == len(sources)  # one dossier each, none twice
            pages = session.scalars(select(Page)).all()
            by_dossier = {d.id: d for d in dossiers}
            per_file: dict[str, list[int]] = {}
            for page in pages:
                original = by_dossier[page.dossier_id].original_id
                per_file.setdefault(original, []).append(page.number)
            assert sorted(len(numbers) for numbers in per_file.values()) == sorted(page_counts.values())
            for numbers in per_file.values():
                assert sorted(numbers) == list(range(1, len(numbers) + 1))  # each page once, none missing
            assert session.scalar(select(func.count()).select_from(OcrResult)) == len({p.image_sha256 for p in pages})
            assert session.scalar(select(func.count()).select_from(SearchPending)) == 0
            assert session.scalar(select(func.count()).select_from(TaskFailure)) == 0
        assert len(lines) == len(sources) and all(line["status"] == "archived" or line["problems"] for line in lines)
        assert _searchable(rt, len(pages)) == len(pages)
    finally:
        rt.close()


def test_failed_tasks_are_kept_and_retried_from_the_command_line(
    tmp_path: Path, broker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archive.distributed.app import FINISH_TASK, make_app

    settings = Settings(home=tmp_path / "home", broker_url=broker, **FAST_RECOVERY)
    for name, value in worker_env(settings).items():
        if name.startswith("ARCHIVE_"):
            monkeypatch.setenv(name, value)
    from archive.settings import get_settings

    get_settings.cache_clear()
    ghost = FileWork(position=0, source="ghost.pdf", record_id="no-such-file").to_json()
    batch = {"batch_id": "b", "office": "370303", "user": "system:test", "engine": "paddle-ppocrv4-mobile"}
    with local_workers(settings, count=1, concurrency=1):
        app = make_app(settings)
        result = app.send_task(FINISH_TASK, args=[batch, ghost])
        with pytest.raises(LookupError):
            result.get(timeout=60)
        runner = CliRunner()
        listed = runner.invoke(cli, ["tasks", "failed", "--json"])
        assert listed.exit_code == 0, listed.output
        (failure,) = json.loads(listed.output)
        assert failure["task"] == FINISH_TASK and "no-such-file" in failure["error"]
        assert failure["args"] == [batch, ghost]
        retried = runner.invoke(cli, ["tasks", "retry", failure["id"]])
        assert retried.exit_code == 0, retried.output
        deadline = time.monotonic() + 60
        rt = open_runtime(settings)
        try:
            while True:  # the same task ran again, with the same arguments, and failed again
                with rt.sessions() as session:
                    rows = session.scalars(select(TaskFailure).order_by(TaskFailure.failed_at)).all()
                if len(rows) == 2:
                    break
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert rows[0].retried_at is not None and rows[0].retry_task_id == rows[1].task_id
            assert rows[1].args == [batch, ghost] and rows[1].retried_at is None
        finally:
            rt.close()
        again = runner.invoke(cli, ["tasks", "retry", failure["id"]])
        assert again.exit_code != 0 and "task_not_retryable" in again.output
    get_settings.cache_clear()


# -- without a broker: the pieces the tasks are made of ---------------------------------------------


def test_a_file_finished_twice_is_recorded_once(runtime: Runtime, dev_data: Path, ocr_pool) -> None:
    """A finishing task handed out twice (its worker presumed dead) commits once; the second run
    answers with what the first recorded."""
    from archive.pipeline import runner

    source = str(sorted((dev_data / "dossiers").glob("*.pdf"))[0])
    kept: list[FileWork] = []
    real_finish = runner.finish_file

    def finish_and_keep(ctx, work):  # noqa: ANN001, ANN202
        kept.append((ctx, FileWork.from_json(work.to_json())))  # the state a task would receive
        return real_finish(ctx, work)

    runner.finish_file = finish_and_keep
    try:
        flow_lines: list[dict] = []
        run_batch(
            runtime,
            [source],
            office="370303",
            user="system:test",
            emit=flow_lines.append,
            pool_factory=lambda: ocr_pool,
        )
    finally:
        runner.finish_file = real_finish
    ((ctx, copy),) = kept
    assert finish_file(ctx, copy) == "ingested"
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Dossier)) == 1
        assert session.scalar(select(func.count()).select_from(Page)) == len(PdfReader(source).pages)


def test_file_work_travels_as_json_unchanged() -> None:
    quality = PageQuality(
        dpi=199.96,
        dpi_source="pdf",
        colour_mode="grey",
        red_share=0.00012345678,
        red_content=False,
        seal_without_colour=False,
        ink_share=0.0123456789,
        blank=False,
        skew_degrees=None,
        skew_corrected=False,
    )
    page = PageWork(
        3,
        "derived/pages/ab/x.jpg",
        "ab" * 32,
        "image/jpeg",
        1654,
        2339,
        199.96,
        quality,
        ocr_key="derived/ocr/cd/y.json",
        separator=None,
        seconds=0.8,
        worker_pid=12,
        worker_rss_mb=900.5,
    )
    work = FileWork(
        position=2,
        source="a.pdf",
        record_id="r",
        started=1.5,
        sha256="ef" * 32,
        size=10,
        media_type="application/pdf",
        original_key="originals/ef/z.pdf",
        pages=[page],
        problems=[Problem("empty_dossier", "空卷")],
    )
    back = FileWork.from_json(json.loads(json.dumps(work.to_json())))
    assert back == work
    assert back.pages[0].quality.dpi == 199.96  # full precision: the same thresholds decide


def test_the_visibility_timeout_must_outlast_every_task() -> None:
    with pytest.raises(ValueError, match="ARCHIVE_TASK_VISIBILITY_SECONDS"):
        Settings(task_visibility_seconds=600, task_file_seconds=1800)
    assert Settings(task_visibility_seconds=1900, task_file_seconds=1800).task_visibility_seconds == 1900


def test_worker_refuses_to_start_without_a_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    from archive.settings import get_settings

    monkeypatch.delenv("ARCHIVE_BROKER_URL", raising=False)
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["worker"])
    get_settings.cache_clear()
    assert result.exit_code != 0 and "broker_not_configured" in result.output


# -- the API with a broker: uploads go to the workers; readiness, metrics and status show them --------


def test_the_api_sends_uploads_to_the_workers_and_reports_them(tmp_path: Path, broker: str) -> None:
    from tests.api_client import running, token
    from tests.test_operations import API, SCRAPE, SCRAPE_TOKEN, finished, scrape, upload, wait_for

    settings = Settings(home=tmp_path / "home", broker_url=broker, ocr_threads=1, **FAST_RECOVERY)
    with running(settings, metrics_token=SecretStr(SCRAPE_TOKEN)) as (client, _):
        admin = token(client, "admin")
        status = client.get(f"{API}/system/status", headers=admin).json()
        (ocr,) = [part for part in status["parts"] if part["key"] == "ocr"]
        assert ocr["status"] == "error" and "没有在线的工作节点" in ocr["message"]  # none started yet
        with local_workers(settings, count=1, concurrency=1):
            batch_id = upload(client, "dossier-001.pdf", "batch.pdf")
            body = wait_for(client, batch_id, finished, timeout=240)
            assert body["progress"]["state"] == "finished", body
            ready = client.get(f"{API}/ready").json()
            assert ready["status"] == "ready" and ready["checks"]["broker"]["ok"]
            status = client.get(f"{API}/system/status", headers=admin).json()
            (ocr,) = [part for part in status["parts"] if part["key"] == "ocr"]
            assert ocr["status"] == "ok" and len(ocr["facts"]["nodes"]) == 1, ocr
        samples = scrape(client)
        assert samples[("archive_task_queue_messages", frozenset({("queue", "archive.pages")}))] == 0
        detail = client.get(f"{API}/batches/{batch_id}", headers=token(client, "archivist")).json()
        stored = len(PdfReader(SYNTH / "dossier-001.pdf").pages) + 10 - 3  # the batch's separator sheets are not stored
        assert detail["summary"]["dossiers_total"] == 4 and detail["summary"]["pages_stored"] == stored
        assert [f["status"] for f in detail["files"]] == ["ingested", "ingested"]
        assert samples[("archive_pages_ocr_total", frozenset())] >= stored  # pages read on a worker are counted
        assert client.get("/metrics", headers=SCRAPE).status_code == 200


def test_readiness_names_a_broker_that_does_not_answer_and_settings_hide_its_password(tmp_path: Path) -> None:
    from tests.api_client import running, token
    from tests.test_operations import API

    settings = Settings(home=tmp_path / "home", broker_url="redis://:sekret-pw@127.0.0.1:1/0")
    with running(settings) as (client, _):
        answer = client.get(f"{API}/ready")
        assert answer.status_code == 503
        assert answer.json()["failing"] == ["broker"]
        assert answer.json()["checks"]["broker"]["code"] == "broker_unavailable"
        shown = client.get(f"{API}/system/settings", headers=token(client, "admin"))
        assert shown.status_code == 200 and "sekret-pw" not in shown.text
        assert shown.json()["settings"]["broker_url"].startswith("redis://")


def test_a_stopped_batch_or_a_fault_is_not_a_refusal_of_the_file_in_hand() -> None:
    """A file's task failing for good, or the broker going away, stops the batch (resumable); it must
    not be recorded as the refusal of whichever file was being opened at that moment.  On a worker,
    database and store faults propagate so that Celery retries the task."""
    from archive.pipeline.finishing import refusals
    from archive.pipeline.work import BatchStopped

    work = FileWork(position=0, source="a.pdf", record_id="r")
    with pytest.raises(BatchStopped), refusals(work):
        raise BatchStopped("任务队列无法写入")
    with pytest.raises(OSError), refusals(work, faults=(OSError,)):
        raise OSError("store unreachable")
    assert work.rejection is None
    with refusals(work):
        raise OSError("store unreachable")
    assert work.rejection is not None and work.rejection.code == "internal_error"  # in-process: as before


def test_a_page_that_kills_its_process_fails_for_good_after_a_few_starts(broker: str) -> None:
    """Late acknowledgement hands a page back each time its process dies; counted per task id, the
    fourth start past the retries fails instead of holding the batch forever."""
    import types

    import redis

    from archive.distributed.tasks import PageKillsWorker, _count_delivery

    client = redis.Redis.from_url(broker)
    task = types.SimpleNamespace(
        app=types.SimpleNamespace(backend=types.SimpleNamespace(client=client)),
        request=types.SimpleNamespace(id="ocr-poison-1"),
        max_retries=3,
    )
    for _ in range(6):
        _count_delivery(task)
    with pytest.raises(PageKillsWorker):
        _count_delivery(task)
    task.request.id = "ocr-other"
    _count_delivery(task)  # counted per task
