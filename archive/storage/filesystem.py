"""Filesystem object store for the embedded default.

Each object is a read-only file ``<root>/<key>`` with a sidecar ``<root>/<key>.sha256`` holding its
digest and size.  Writes go to a temporary file in the same folder, are fsynced, and renamed into
place (the sidecar first, then the body, so a body never exists without its digest); the folder is
fsynced after the rename.  An object whose body is missing is treated as absent.  The check for an
existing object and the two renames happen under an exclusive lock on ``<root>/.lock``, so two
writers of different bodies under one key cannot interleave.

Retention: ``retain`` writes the object's hold to a read-only file
``<folder>/.<name>.hold`` (JSON: ``retain_until``, ``legal_hold``; a dot name can never be a key), replaced
atomically under the lock and only ever strengthened.  ``dispose`` deletes body, sidecar and hold file
under the lock, and only when the hold is no longer active by the store's ``clock`` (UTC; the real time
unless a test passes its own).

``repair`` is the only path that replaces a file: under the same lock, and only when the body is
missing or no longer matches its sidecar (or the sidecar is unreadable), with a body whose SHA-256 is
the expected one and equal to the sidecar's digest where that is readable.  It writes both files
afresh (sidecar first, then body, as a put does) and logs ``object_repaired``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from archive.storage.base import (
    CHUNK,
    NO_HOLD,
    Hold,
    IntegrityError,
    ObjectInfo,
    ObjectNotFound,
    RepairRefused,
    RetentionActive,
    WriteOnceViolation,
    sha256_bytes,
    sha256_file,
    validate_key,
)

SIDECAR = ".sha256"
HEX = frozenset("0123456789abcdef")

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class FilesystemStore:
    def __init__(self, root: Path, clock: Callable[[], datetime] | None = None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.clock = clock or _utcnow

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

    def _install(self, path: Path, write_body, sidecar: str, check: Callable[[], ObjectInfo | None]):
        """Write body and sidecar to temporary files, then under the lock: ``check`` may refuse (raise) or
        answer instead (returns the object found); else the sidecar, then the body, are renamed into place
        and the folder fsynced.  Temporary files left over are removed whatever happens."""
        side = path.with_name(path.name + SIDECAR)
        body_tmp: str | None = self._temp(path, write_body)
        side_tmp: str | None = None
        try:
            side_tmp = self._temp(side, lambda fh: fh.write(sidecar.encode("ascii")))
            with self._locked():
                found = check()
                if found is not None:
                    return found
                os.replace(side_tmp, side)
                side_tmp = None
                os.replace(body_tmp, path)
                body_tmp = None
                self._fsync_dir(path.parent)
                return None
        finally:
            for tmp in (body_tmp, side_tmp):
                if tmp is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(tmp)

    def _commit(self, key: str, sha: str, size: int, write_body) -> ObjectInfo:
        path = self._path(key)

        def existing() -> ObjectInfo | None:
            found = self._recorded(path)
            if found is not None and found.sha256 != sha:
                raise WriteOnceViolation(f"对象 {key} 已存在且内容不同，拒绝覆盖")
            return found

        found = existing()  # the fast path, writing nothing
        if found is None:  # checked again under the lock: another writer may have committed meanwhile
            found = self._install(path, write_body, f"{sha} {size}\n", existing)
        return found or ObjectInfo(key=key, size=size, sha256=sha)

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

    # -- repair ----------------------------------------------------------------------------
    def _health(self, path: Path) -> tuple[str, str | None]:
        """("missing" | "healthy" | "corrupt", the sidecar's digest when it is readable)."""
        side = path.with_name(path.name + SIDECAR)
        if not path.exists():
            return "missing", None
        try:
            sha, size = side.read_text(encoding="ascii").split()
            if len(sha) != 64 or not set(sha) <= HEX:
                raise ValueError(sha)
            recorded, recorded_size = sha, int(size)
        except (OSError, ValueError, UnicodeDecodeError):
            return "corrupt", None  # a body whose digest cannot be read cannot be trusted
        actual, actual_size = sha256_file(path)
        if actual == recorded and actual_size == recorded_size:
            return "healthy", recorded
        return "corrupt", recorded

    def repair(self, key: str, data: bytes, expected_sha256: str) -> ObjectInfo:
        """Replace a missing or corrupt object with ``data`` (see the module docstring); never a healthy one."""
        path = self._path(key)
        sha = sha256_bytes(data)
        if sha != expected_sha256:
            raise IntegrityError(f"用于修复 {key} 的内容与期望的 SHA-256 不符，未写入")
        state = "missing"

        def damaged() -> None:
            nonlocal state
            state, recorded = self._health(path)
            if state == "healthy":
                raise RepairRefused(f"对象 {key} 完好，一次写入的对象不能覆盖")
            if recorded is not None and recorded != sha:
                raise RepairRefused(f"对象 {key} 记录的 SHA-256 为 {recorded}，与期望的 {sha} 不符，未修复")

        self._install(path, lambda fh: fh.write(data), f"{sha} {len(data)}\n", damaged)
        log.warning(
            "object_repaired", extra={"store": "filesystem", "key": key, "was": state, "sha256": sha, "size": len(data)}
        )
        return ObjectInfo(key=key, size=len(data), sha256=sha)

    # -- retention ---------------------------------------------------------------------------
    @staticmethod
    def _hold_path(path: Path) -> Path:
        return path.with_name(f".{path.name}.hold")

    def _read_hold(self, path: Path) -> Hold:
        try:
            raw = json.loads(self._hold_path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return NO_HOLD
        except (OSError, ValueError) as exc:  # unreadable: never taken for "no hold"
            raise IntegrityError(f"对象 {path.relative_to(self.root)} 的保留设置无法读取") from exc
        until = raw.get("retain_until")
        return Hold(datetime.fromisoformat(until) if until else None, bool(raw.get("legal_hold")))

    def hold(self, key: str) -> Hold:
        path = self._path(key)
        if not path.exists():
            raise ObjectNotFound(key)
        return self._read_hold(path)

    def retain(self, key: str, until: datetime | None = None, *, legal_hold: bool = False) -> Hold:
        """Strengthen the object's hold (see the module docstring); returns it."""
        if until is not None and until.tzinfo is None:
            raise ValueError("retain_until must be timezone-aware (UTC)")
        path = self._path(key)
        with self._locked():
            if not path.exists():
                raise ObjectNotFound(key)
            current = self._read_hold(path)
            later = until if current.retain_until is None or (until and until > current.retain_until) else None
            wanted = Hold(later or current.retain_until, current.legal_hold or legal_hold)
            if wanted == current:
                return current
            body = {
                "retain_until": wanted.retain_until.astimezone(UTC).isoformat() if wanted.retain_until else None,
                "legal_hold": wanted.legal_hold,
            }
            target = self._hold_path(path)
            tmp = self._temp(target, lambda fh: fh.write(json.dumps(body).encode("utf-8")))
            try:
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
            self._fsync_dir(path.parent)
        return wanted

    def dispose(self, key: str) -> bool:
        """Delete the object for good once its hold has run out; False when it was already gone."""
        path = self._path(key)
        side = path.with_name(path.name + SIDECAR)
        with self._locked():
            if not path.exists() and not side.exists():
                return False
            hold = self._read_hold(path)
            if hold.active(self.clock()):
                until = f"保留至 {hold.retain_until.isoformat()}" if hold.retain_until else ""
                why = "法律保留" if hold.legal_hold else until
                raise RetentionActive(f"对象 {key} 仍受保护（{why}），不能删除")
            for victim in (path, side, self._hold_path(path)):
                with contextlib.suppress(FileNotFoundError):
                    victim.unlink()
            self._fsync_dir(path.parent)
        log.warning("object_disposed", extra={"store": "filesystem", "key": key})
        return True

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
