"""kill -9 in the middle of a batch, then the same command again: nothing lost, nothing twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from archive.records.models import BatchFile, Dossier, Page
from tests.conftest import FIXTURES, settled

ROOT = Path(__file__).resolve().parents[1]


def _count_ingested(db: Path) -> int:
    if not db.exists():
        return 0
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return conn.execute(text("select count(*) from batch_files where status != 'pending'")).scalar_one()
    except Exception:
        return 0
    finally:
        engine.dispose()


def test_kill_minus_9_then_resume(tmp_path: Path) -> None:
    gen = tmp_path / "gen"
    subprocess.run(
        [sys.executable, "scripts/generate_fixtures.py", str(gen), "--count", "6", "--seed", "23"], check=True, cwd=ROOT
    )
    sources = sorted(str(p) for p in gen.glob("dossier-*.pdf"))
    expected_pages = sum(len(json.loads(Path(s).with_suffix(".json").read_text())["pages"]) for s in sources)
    home = tmp_path / "home"
    env = {
        **os.environ,
        "ARCHIVE_HOME": str(home),
        "ARCHIVE_OCR_WORKERS": "1",
        "ARCHIVE_OCR_THREADS": "2",
        "ARCHIVE_OCR_RECYCLE_PAGES": "3",
        "ARCHIVE_DATABASE_URL": "",
    }
    env.pop("ARCHIVE_DATABASE_URL")
    cmd = [sys.executable, "-m", "archive.cli", "ingest", *sources, "--report", str(tmp_path / "first.jsonl")]

    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    while _count_ingested(home / "archive.db") < 2:
        assert proc.poll() is None, "the batch ended before it could be interrupted"
        assert time.monotonic() < deadline, "no file was committed in time"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its OCR workers, without warning
    proc.wait()
    done_before = _count_ingested(home / "archive.db")
    assert 2 <= done_before < len(sources)

    second = tmp_path / "second.jsonl"
    subprocess.run([*cmd[:-1], str(second)], cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)

    lines = [json.loads(x) for x in second.read_text(encoding="utf-8").splitlines()]
    assert [x["source"] for x in lines] == sources  # every file reported once, in order
    assert all(settled(x) for x in lines)
    assert sum(len(x["pages"]) for x in lines) == expected_pages
    engine = create_engine(f"sqlite:///{home / 'archive.db'}")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Dossier)).scalar_one() == len(sources)
        assert conn.execute(select(func.count()).select_from(Page)).scalar_one() == expected_pages
        assert conn.execute(select(func.count(func.distinct(Page.image_sha256)))).scalar_one() == expected_pages
        assert conn.execute(select(func.count()).select_from(BatchFile)).scalar_one() == len(sources)
        statuses = conn.execute(text("select status from batches")).scalars().all()
    engine.dispose()
    assert statuses == ["completed"]  # the same batch was resumed, not a second one started
    originals = list((home / "objects" / "originals").rglob("*.pdf"))
    assert len(originals) == len(sources)


def test_fixture_truth_matches_sources() -> None:
    """The committed fixtures and their truth files agree (guards the tests that rely on them)."""
    batch = json.loads((FIXTURES / "synthetic" / "batch.json").read_text(encoding="utf-8"))
    for name in batch["dossiers"]:
        assert (FIXTURES / "synthetic" / name).is_file()
