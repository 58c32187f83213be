"""The object-store interface every backend implements, and its errors.

Contract (checked by ``tests/contract/test_object_store.py`` for every backend):
- ``put`` is write-once: the same body under an existing key is a no-op, a different body is
  refused with ``WriteOnceViolation``;
- writes are atomic: a reader sees the whole object or none;
- every read verifies the body against the SHA-256 recorded at write time (``IntegrityError``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 1 << 20


class StoreError(Exception):
    code = "store_error"


class ObjectNotFound(StoreError, KeyError):
    code = "object_not_found"


class WriteOnceViolation(StoreError):
    code = "write_once_violation"


class IntegrityError(StoreError):
    code = "object_corrupt"


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
