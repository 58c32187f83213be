"""Backup and restore of the records: database snapshots with a manifest, their check, and restore
with the search index rebuilt from the records (``archive backup``; see ``service``)."""

from .manifest import MANIFEST, Manifest, read_manifest
from .service import (
    CheckReport,
    CreateResult,
    Problem,
    RestoreResult,
    create_backup,
    missing_objects,
    restore_backup,
    verify_backup,
)

__all__ = [
    "MANIFEST",
    "CheckReport",
    "CreateResult",
    "Manifest",
    "Problem",
    "RestoreResult",
    "create_backup",
    "missing_objects",
    "read_manifest",
    "restore_backup",
    "verify_backup",
]
