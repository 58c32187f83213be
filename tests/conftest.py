"""Shared fixtures: the read-only development data set next to the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

DEV_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "dev-dossiers"


@pytest.fixture(scope="session")
def dev_data() -> Path:
    """``../shared/data/dev-dossiers`` relative to the repository root.

    Nothing is skipped when it is missing: a test that needs the data fails loudly instead.
    """
    assert DEV_DATA.is_dir(), f"development data set not found at {DEV_DATA}"
    return DEV_DATA


# -- databases and runtimes ---------------------------------------------------------------------

import os  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402

from archive.runtime import Runtime, open_runtime  # noqa: E402
from archive.settings import Settings  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Where tests keep the Paddle model folders they prepare (shared by all test engines and pools).
OCR_CACHE = Path(os.environ.get("ARCHIVE_TEST_CACHE", "/tmp/archive-test-cache"))
PG_ADMIN_URL = os.environ.get("ARCHIVE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for the session (dropped afterwards), as an SQLAlchemy URL.

    Outside CI a missing server skips the PostgreSQL cases; in CI (CI=true) it fails them.
    """
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL not reachable")
    import psycopg

    name = f"archive_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _reset_pg(url: str) -> None:
    """Empty every table (the schema stays), so each test starts from nothing."""
    from sqlalchemy import create_engine, text

    from archive.records.models import Base

    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [t.name for t in Base.metadata.sorted_tables if engine.dialect.has_table(conn, t.name)]
        if tables:
            conn.execute(text("SET LOCAL session_replication_role = replica"))  # past the append-only triggers
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
        if "access_log" in tables:  # a test may have played a rogue DBA: drop a trigger, loosen a column
            conn.execute(text("ALTER TABLE access_log ALTER COLUMN detail SET NOT NULL"))
            conn.execute(
                text(
                    "CREATE OR REPLACE TRIGGER access_log_no_change BEFORE UPDATE OR DELETE ON access_log "
                    "FOR EACH ROW EXECUTE FUNCTION access_log_append_only()"
                )
            )
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for an empty archive on SQLite or PostgreSQL, OCR in-process (workers=0)."""
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_database")
        _reset_pg(url)
    return Settings(home=tmp_path / "home", database_url=url, ocr_workers=0, ocr_threads=2)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = open_runtime(settings)
    yield rt
    rt.close()


@pytest.fixture(scope="session")
def ocr_pool():
    """One in-process PaddleOCR engine for the whole session (loading it takes seconds)."""
    from ocr.pool import OcrPool
    from ocr.registry import EngineConfig

    pool = OcrPool(
        EngineConfig(name="paddle", threads=2, cache_dir=OCR_CACHE), workers=0, recycle=10**6, pixel_limit=10**9
    )
    return pool


def settled(line: dict) -> bool:
    """Issue 3's rule: archived exactly when there is no problem (and the type is certain)."""
    return line["status"] == ("needs_review" if line["problems"] else "archived")
