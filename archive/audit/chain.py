"""Canonical serialisation and hashing of access-log entries.

Each entry's hash covers its canonical serialisation, which includes the previous entry's hash:
``hash = H(canonical(entry with prev))``.  SHA-256 by default; SM3 (GB/T 32905) for 国密
deployments, as DA/T 97-2023 cites it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

GENESIS = "0" * 64
ALGORITHMS = ("sha256", "sm3")
FIELDS = ("seq", "id", "at", "actor", "role", "office", "client", "action", "targets", "reason", "outcome", "detail")


def hasher(algorithm: str) -> Callable[[bytes], str]:
    if algorithm not in ALGORITHMS:
        raise ValueError(f"不支持的日志哈希算法 {algorithm!r}；可选 {'、'.join(ALGORITHMS)}")
    if algorithm == "sha256":
        return lambda data: hashlib.sha256(data).hexdigest()
    hashlib.new("sm3")  # fails here, at start-up, where OpenSSL lacks SM3
    return lambda data: hashlib.new("sm3", data).hexdigest()


def canonical(entry: dict, prev: str) -> bytes:
    """Sorted keys, no spaces, UTF-8: the same bytes for the same entry on every machine."""
    body = {name: entry[name] for name in FIELDS}
    body["prev"] = prev
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
