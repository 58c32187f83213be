"""Object storage behind one small interface."""

from archive.storage.base import (
    IntegrityError,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    WriteOnceViolation,
    content_key,
)

__all__ = [
    "IntegrityError",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "WriteOnceViolation",
    "content_key",
]
