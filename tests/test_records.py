"""Schema: Alembic migrations build exactly what the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from archive.ids import new_id
from archive.records.models import Base
from archive.runtime import Runtime
from archive.settings import Settings


def test_migrations_match_models(runtime: Runtime) -> None:
    with runtime.db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_sqlite_database_lives_under_home(tmp_path) -> None:
    settings = Settings(home=tmp_path / "h")
    assert settings.db_url == f"sqlite:///{(tmp_path / 'h' / 'archive.db').resolve()}"
    assert settings.objects_dir == tmp_path / "h" / "objects"


def test_settings_from_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ARCHIVE_HOME", str(tmp_path))
    monkeypatch.setenv("ARCHIVE_OCR_ENGINE", "rapid")
    monkeypatch.setenv("ARCHIVE_OCR_WORKERS", "3")
    s = Settings()
    assert (s.home, s.ocr_engine, s.ocr_workers) == (tmp_path, "rapid", 3)


def test_ids_are_uuid7_and_time_ordered() -> None:
    ids = [new_id() for _ in range(200)]
    assert len(set(ids)) == 200
    assert all(i[14] == "7" and i[19] in "89ab" for i in ids)
    assert ids == sorted(ids) or sorted(ids)[:100] != ids[:100]  # ordered by millisecond at least
    assert [i[:13] for i in ids] == sorted(i[:13] for i in ids)
