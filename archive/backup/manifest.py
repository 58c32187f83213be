"""The backup manifest (``manifest.json``): what a backup folder holds and what it must check out to.

A backup folder holds one database file (``records.sqlite3`` made with SQLite's online backup API,
or ``records.pgdump`` made with ``pg_dump --format=custom``) and this manifest, written last, so a
folder with a manifest is a finished backup.  Objects and the search index are not in it: objects
are write-once in the object store (and replicated there), the index is rebuilt from the records.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from archive.errors import Invalid, NotFound

FORMAT = "shebao-archive-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "records.sqlite3"
POSTGRES_FILE = "records.pgdump"
DATABASE_FILES = {"sqlite": SQLITE_FILE, "postgresql": POSTGRES_FILE}
MISSING_KEYS_KEPT = 100  # missing object keys listed in the manifest (all are counted)


@dataclass(frozen=True)
class FileEntry:
    sha256: str
    size: int


@dataclass(frozen=True)
class LogHead:
    """The access-log chain head in the backup: a restore is checked against it."""

    seq: int
    hash: str
    entries: int
    algorithm: str | None


@dataclass(frozen=True)
class ObjectSummary:
    """Objects the records reference; they are not copied into the backup."""

    store: str  # filesystem|s3
    location: str
    checked: bool  # whether the store was asked for each object (false: --skip-objects)
    bytes: int | None  # None: not checked
    missing: int
    missing_keys: list[str] = field(default_factory=list)
    copied: bool = False


@dataclass(frozen=True)
class Snapshot:
    """What a database copy holds, as far as the manifest records it."""

    tables: dict[str, int]
    revision: str | None
    head: LogHead
    referenced_objects: int


@dataclass(frozen=True)
class Manifest:
    created_at: str  # ISO 8601, UTC
    created_by: str
    host: str
    database_kind: str  # sqlite|postgresql
    database_version: str
    files: dict[str, FileEntry]
    snapshot: Snapshot
    objects: ObjectSummary
    search_backend: str
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    @property
    def database_file(self) -> str:
        return DATABASE_FILES[self.database_kind]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "format_version": self.format_version,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "host": self.host,
            "database": {
                "kind": self.database_kind,
                "file": self.database_file,
                "revision": self.snapshot.revision,
                "version": self.database_version,
            },
            "files": {name: asdict(entry) for name, entry in sorted(self.files.items())},
            "tables": dict(sorted(self.snapshot.tables.items())),
            "access_log": asdict(self.snapshot.head),
            "objects": {"referenced": self.snapshot.referenced_objects, **asdict(self.objects)},
            "search": {"backend": self.search_backend, "copied": False},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        """Raises ``Invalid`` (``backup_manifest_invalid``) for anything that is not a manifest we can read."""
        try:
            if data["format"] != FORMAT:
                raise ValueError(f"format {data['format']!r}")
            if int(data["format_version"]) > FORMAT_VERSION:
                raise ValueError(f"format_version {data['format_version']} 高于本程序支持的 {FORMAT_VERSION}")
            database, log, objects = data["database"], data["access_log"], data["objects"]
            if database["kind"] not in DATABASE_FILES:
                raise ValueError(f"database.kind {database['kind']!r}")
            snapshot = Snapshot(
                tables={str(k): int(v) for k, v in data["tables"].items()},
                revision=database["revision"],
                head=LogHead(int(log["seq"]), str(log["hash"]), int(log["entries"]), log["algorithm"]),
                referenced_objects=int(objects["referenced"]),
            )
            return cls(
                format=data["format"],
                format_version=int(data["format_version"]),
                created_at=str(data["created_at"]),
                created_by=str(data["created_by"]),
                host=str(data.get("host", "")),
                database_kind=database["kind"],
                database_version=str(database.get("version", "")),
                files={str(k): FileEntry(str(v["sha256"]), int(v["size"])) for k, v in data["files"].items()},
                snapshot=snapshot,
                objects=ObjectSummary(
                    store=str(objects["store"]),
                    location=str(objects.get("location", "")),
                    checked=bool(objects.get("checked", False)),
                    bytes=None if objects.get("bytes") is None else int(objects["bytes"]),
                    missing=int(objects.get("missing", 0)),
                    missing_keys=[str(k) for k in objects.get("missing_keys", [])],
                ),
                search_backend=str(data.get("search", {}).get("backend", "")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise Invalid("backup_manifest_invalid", f"备份清单 {MANIFEST} 无法识别：{exc}") from exc


def read_manifest(dest: Path) -> Manifest:
    path = dest / MANIFEST
    if not path.is_file():
        raise NotFound("backup_manifest_missing", f"{dest} 中没有备份清单 {MANIFEST}（不是备份目录，或备份未完成）")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Invalid("backup_manifest_invalid", f"备份清单 {MANIFEST} 无法读取：{exc}") from exc
    if not isinstance(data, dict):
        raise Invalid("backup_manifest_invalid", f"备份清单 {MANIFEST} 不是 JSON 对象")
    return Manifest.from_json(data)


def write_manifest(dest: Path, manifest: Manifest) -> Path:
    """Written to a temporary name, fsynced and renamed: a manifest is never half there."""
    path = dest / MANIFEST
    partial = dest / (MANIFEST + ".partial")
    with partial.open("w", encoding="utf-8") as fh:
        json.dump(manifest.to_json(), fh, ensure_ascii=False, indent=1)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, path)
    fsync_dir(dest)
    return path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
