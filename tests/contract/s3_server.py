"""An S3 server for the object-store tests: moto's threaded server, or a real MinIO.

By default one ``moto.server.ThreadedMotoServer`` (the ``moto[server]`` dev dependency) is started per
session, in this process, on a free port of 127.0.0.1, the first time a test asks for it; both
``tests/contract/test_object_store.py`` and ``tests/test_minio_store.py`` use it through
``session_s3()``.  With ``ARCHIVE_S3_ENDPOINT`` set (``host:port`` or an ``http(s)://`` URL, with
``ARCHIVE_S3_ACCESS_KEY`` / ``ARCHIVE_S3_SECRET_KEY``, optionally ``ARCHIVE_S3_SECURE=1`` and
``ARCHIVE_S3_REGION``) the tests run against that server instead, no moto, and the tests marked
``needs_real_s3`` run too.  Every test gets its own bucket (``t-<hex>``); on a real server the session
removes what it created at exit, as far as retention allows.

What moto (5.2) does not check, measured: signatures; ``Content-MD5``, ``x-amz-content-sha256`` and
``x-amz-checksum-*`` against the body (it stores whatever checksum it is sent); COMPLIANCE retention (it
treats it like GOVERNANCE); object-lock headers on CreateMultipartUpload are dropped; GetObjectRetention
fails (read the ``x-amz-object-lock-*`` headers of a HEAD instead).  It does refuse a locked PutObject
that carries neither ``Content-MD5`` nor ``x-amz-sdk-checksum-algorithm``, and a version delete under
GOVERNANCE retention without the bypass header.  Tests that need the missing checks use
``needs_real_s3``; tests that reach into moto's in-process state use ``moto_only``.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from minio import Minio
from minio.deleteobjects import DeleteObject

from archive.storage.minio_store import MinioStore, make_client

REAL_S3_ENDPOINT = os.environ.get("ARCHIVE_S3_ENDPOINT")

needs_real_s3 = pytest.mark.skipif(
    not REAL_S3_ENDPOINT, reason="needs a real MinIO/S3 server (moto does not check this): set ARCHIVE_S3_ENDPOINT"
)
moto_only = pytest.mark.skipif(bool(REAL_S3_ENDPOINT), reason="reaches into moto's in-process state")


@dataclass
class S3Target:
    """Where the object-store tests send requests, and the buckets they created there."""

    endpoint: str
    access_key: str
    secret_key: str
    secure: bool
    region: str | None
    real: bool
    buckets: list[str] = field(default_factory=list)

    def client(self, **kwargs: Any) -> Minio:
        return make_client(
            self.endpoint, self.access_key, self.secret_key, secure=self.secure, region=self.region, **kwargs
        )

    def new_bucket(self) -> str:
        name = f"t-{uuid.uuid4().hex[:20]}"
        self.buckets.append(name)
        return name

    def store(self, bucket: str | None = None, **kwargs: Any) -> MinioStore:
        """A ``MinioStore`` on a fresh bucket (or ``bucket``), created with object lock by the store."""
        return MinioStore(self.client(), bucket or self.new_bucket(), **kwargs)

    def moto_versions(self, bucket: str, key: str) -> list[Any]:
        """moto's in-process ``FakeKey`` objects of ``key``, oldest first (moto only)."""
        assert not self.real, "moto's state is only reachable with the in-process moto server"
        from moto.s3.models import s3_backends

        for account in s3_backends.values():
            for backend in account.values():
                if bucket in backend.buckets:
                    return list(backend.buckets[bucket].keys.getlist(key))
        raise KeyError(bucket)

    def cleanup(self) -> None:
        """Best effort on a real server: lift legal holds, delete every version (bypassing GOVERNANCE),
        remove the bucket.  Versions under COMPLIANCE retention stay until it ends."""
        client = self.client(retries=1)
        for bucket in self.buckets:
            with contextlib.suppress(Exception):
                versions = list(client.list_objects(bucket, recursive=True, include_version=True))
                for obj in versions:
                    if not obj.is_delete_marker:
                        with contextlib.suppress(Exception):
                            client.disable_object_legal_hold(bucket, obj.object_name, obj.version_id)
                todo = [DeleteObject(obj.object_name, obj.version_id) for obj in versions]
                for _error in client.remove_objects(bucket, todo, bypass_governance_mode=True):
                    pass
                client.remove_bucket(bucket)


_TARGET: list[S3Target] = []


def session_s3() -> S3Target:
    """The session's target, started on first use; moto stops when the session's process exits."""
    if _TARGET:
        return _TARGET[0]
    if REAL_S3_ENDPOINT:
        target = S3Target(
            endpoint=REAL_S3_ENDPOINT,
            access_key=os.environ.get("ARCHIVE_S3_ACCESS_KEY", ""),
            secret_key=os.environ.get("ARCHIVE_S3_SECRET_KEY", ""),
            secure=REAL_S3_ENDPOINT.startswith("https://") or os.environ.get("ARCHIVE_S3_SECURE", "") in ("1", "true"),
            region=os.environ.get("ARCHIVE_S3_REGION") or None,
            real=True,
        )
        atexit.register(target.cleanup)
    else:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        atexit.register(server.stop)
        host, port = server.get_host_and_port()
        # moto accepts any credentials; a fixed region spares the client a GetBucketLocation request.
        target = S3Target(f"{host}:{port}", "test", "test", secure=False, region="us-east-1", real=False)
    _TARGET.append(target)
    return target
