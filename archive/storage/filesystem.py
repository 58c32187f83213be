"""Filesystem object store for the embedded default.

Each object is a read-only file ``<root>/<key>`` with a sidecar ``<root>/<key>.sha256`` holding its
digest and size.  Writes go to a temporary file in the same folder, are fsynced, and renamed into
place (the sidecar first, then the body, so a body never exists without its digest); the folder is
fsynced after the rename.  An object whose body is missing is treated as absent.  The check for an
existing object and the two renames happen under an exclusive lock on ``<root>/.lock``, so two
writers of different bodies under one key cannot interleave.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from archive.storage.base import (
    CHUNK,
    IntegrityError,
    ObjectInfo,
    ObjectNotFound,
    WriteOnceViolation,
    sha256_bytes,
    sha256_file,
    validate_key,
)

SIDECAR = ".sha256"


class FilesystemStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    # -- paths -----------------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        validate_key(key)
        if key.endswith(SIDECAR):
            raise ValueError(f"keys may not end in {SIDECAR}: {key!r}")
        return self.root / key

    def _recorded(self, path: Path) -> ObjectInfo | None:
        side = path.with_name(path.name + SIDECAR)
        if not path.exists() or not side.exists():
            return None
        sha, size = side.read_text(encoding="ascii").split()
        return ObjectInfo(key=str(path.relative_to(self.root)), size=int(size), sha256=sha)

    # -- writes ----------------------------------------------------------------------------
    def _temp(self, target: Path, writer) -> str:
        """Write a read-only, fsynced temporary file beside ``target``; returns its path."""
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise ValueError(f"对象键 {target.relative_to(self.root)} 与已有对象冲突") from exc
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                writer(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o444)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return tmp

    @contextlib.contextmanager
    def _locked(self):
        with open(self.root / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _fsync_dir(self, folder: Path) -> None:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _commit(self, key: str, sha: str, size: int, write_body) -> ObjectInfo:
        path = self._path(key)
        existing = self._recorded(path)
        if existing is not None:  # fast path without writing anything
            if existing.sha256 != sha:
                raise WriteOnceViolation(f"对象 {key} 已存在且内容不同，拒绝覆盖")
            return existing
        side = path.with_name(path.name + SIDECAR)
        body_tmp = self._temp(path, write_body)
        side_tmp = None
        try:
            side_tmp = self._temp(side, lambda fh: fh.write(f"{sha} {size}\n".encode("ascii")))
            with self._locked():
                existing = self._recorded(path)
                if existing is not None:
                    if existing.sha256 != sha:
                        raise WriteOnceViolation(f"对象 {key} 已存在且内容不同，拒绝覆盖")
                    return existing
                os.replace(side_tmp, side)
                side_tmp = None
                os.replace(body_tmp, path)
                body_tmp = None
                self._fsync_dir(path.parent)
        finally:
            for tmp in (body_tmp, side_tmp):
                if tmp is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(tmp)
        return ObjectInfo(key=key, size=size, sha256=sha)

    def put(self, key: str, data: bytes) -> ObjectInfo:
        return self._commit(key, sha256_bytes(data), len(data), lambda fh: fh.write(data))

    def put_file(self, key: str, path: Path) -> ObjectInfo:
        sha, size = sha256_file(path)

        def copy(fh) -> None:
            """Copy while hashing what is written; refuse before the rename if it is not what was hashed."""
            digest, written = hashlib.sha256(), 0
            with open(path, "rb") as src:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    written += len(chunk)
                    fh.write(chunk)
            if digest.hexdigest() != sha or written != size:
                raise IntegrityError(f"复制 {path} 时文件发生变化，未保存")

        return self._commit(key, sha, size, copy)

    # -- reads -----------------------------------------------------------------------------
    def stat(self, key: str) -> ObjectInfo:
        info = self._recorded(self._path(key))
        if info is None:
            raise ObjectNotFound(key)
        return info

    def exists(self, key: str) -> bool:
        return self._recorded(self._path(key)) is not None

    def get(self, key: str) -> bytes:
        info = self.stat(key)
        data = self._path(key).read_bytes()
        if len(data) != info.size or sha256_bytes(data) != info.sha256:
            raise IntegrityError(f"对象 {key} 校验失败：内容与记录的 SHA-256 不符")
        return data

    def verify(self, key: str) -> bool:
        info = self.stat(key)
        sha, size = sha256_file(self._path(key))
        return sha == info.sha256 and size == info.size

    def sweep_temporary(self, older_than_s: float = 3600.0) -> int:
        """Remove temporary files a killed writer left behind (only old ones: a live writer's are young)."""
        cutoff = time.time() - older_than_s
        removed = 0
        for path in self.root.rglob(".tmp-*"):
            with contextlib.suppress(FileNotFoundError):
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed

    def keys(self, prefix: str = "") -> Iterator[str]:
        for path in sorted(self.root.rglob("*")):
            name = path.name
            if path.is_file() and not name.endswith(SIDECAR) and not name.startswith("."):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key
