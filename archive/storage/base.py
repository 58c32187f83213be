"""The object-store interface every backend implements, and its errors.

Contract (checked by ``tests/contract/test_object_store.py`` for every backend):
- ``put`` is write-once: the same body under an existing key is a no-op, a different body is
  refused with ``WriteOnceViolation``;
- writes are atomic: a reader sees the whole object or none;
- every read verifies the body against the SHA-256 recorded at write time (``IntegrityError``).

Every store also keeps retention (the archive's 保管期限): ``retain``
sets retention until a moment and/or a legal hold and never shortens or lifts either; ``dispose``, the only
deletion there is, removes an object only when neither protects it any more (by the store's own clock),
else ``RetentionActive``.  Disposal is for approved destruction (``archive.disposition``) alone.

Stores that keep their own copies (filesystem, MinIO) also offer ``repair`` (``Repairable``): the one
deliberate way to replace an object, allowed only while the object is missing or fails its own hash,
and only with a body whose SHA-256 is the expected one.  ``archive restore`` and ``archive replicate``
use it to rebuild a damaged copy from the other store (``archive.storage.replica``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 1 << 20
_CONTENT_NAME = re.compile(r"([0-9a-f]{64})(?:\.[A-Za-z0-9]+)?")


class StoreError(Exception):
    code = "store_error"


class ObjectNotFound(StoreError, KeyError):
    code = "object_not_found"


class WriteOnceViolation(StoreError):
    code = "write_once_violation"


class IntegrityError(StoreError):
    code = "object_corrupt"


class RetentionActive(StoreError):
    """``dispose`` refused: the object is under retention (until a later date) or a legal hold."""

    code = "object_retained"


class RepairRefused(StoreError):
    """``repair`` found the object healthy, or its recorded digest not the expected one: nothing written."""

    code = "repair_refused"


@dataclass(frozen=True)
class Hold:
    """What protects an object from deletion: retention until a moment (UTC) and/or a legal hold."""

    retain_until: datetime | None = None
    legal_hold: bool = False

    def active(self, now: datetime) -> bool:
        return self.legal_hold or (self.retain_until is not None and self.retain_until > now)


NO_HOLD = Hold()


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    sha256: str


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_stream(stream: BinaryIO) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def sha256_file(path: Path) -> tuple[str, int]:
    with path.open("rb") as fh:
        return sha256_stream(fh)


def content_key(namespace: str, sha256: str, suffix: str = "") -> str:
    """The key of a content-addressed object: ``namespace/ab/abcdef…[suffix]``."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return f"{namespace}/{sha256[:2]}/{sha256}{suffix}"


def content_digest(key: str) -> str | None:
    """The SHA-256 a content-addressed key (``namespace/ab/<sha256>[.ext]``, see ``content_key``) names, or None."""
    parts = key.split("/")
    if len(parts) < 3:
        return None
    match = _CONTENT_NAME.fullmatch(parts[-1])
    if match is None or parts[-2] != match.group(1)[:2]:
        return None
    return match.group(1)


def validate_key(key: str) -> str:
    """Keys are relative slash-separated paths; no segment may be empty or start with a dot."""
    parts = key.split("/")
    if not key or "\\" in key or any(not p or p.startswith(".") for p in parts):
        raise ValueError(f"invalid object key: {key!r}")
    return key


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes) -> ObjectInfo: ...

    def put_file(self, key: str, path: Path) -> ObjectInfo: ...

    def get(self, key: str) -> bytes: ...

    def stat(self, key: str) -> ObjectInfo: ...

    def exists(self, key: str) -> bool: ...

    def verify(self, key: str) -> bool: ...

    def keys(self, prefix: str = "") -> Iterator[str]: ...

    # retention (the archive's 保管期限; see the module docstring)
    def retain(self, key: str, until: datetime | None = None, *, legal_hold: bool = False) -> Hold:
        """Protect ``key`` until ``until`` (UTC) and/or with a legal hold; returns the object's hold after.

        Never weakens: an earlier ``until`` than the one set leaves it, ``legal_hold=False`` leaves a hold on.
        ``ObjectNotFound`` when the object is absent.
        """
        ...

    def hold(self, key: str) -> Hold:
        """The object's protection now (``ObjectNotFound`` when absent)."""
        ...

    def dispose(self, key: str) -> bool:
        """Delete the object for good (every copy and version the store keeps); False when it was already gone.

        ``RetentionActive`` while retention runs (by the store's clock) or a legal hold is on: nothing deleted.
        """
        ...


class Repairable(Protocol):
    def repair(self, key: str, data: bytes, expected_sha256: str) -> ObjectInfo:
        """Write ``data`` under ``key`` only if the object there is missing or fails its own hash.

        ``IntegrityError`` when ``data`` does not hash to ``expected_sha256``; ``RepairRefused`` when the
        object is healthy (write-once: never replaced) or records another digest than ``expected_sha256``.
        """
        ...
