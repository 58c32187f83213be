"""Canonical serialisation and hashing of access-log entries.

Each entry's hash covers its canonical serialisation, which includes the previous entry's hash:
``hash = H(canonical(entry, prev))``.  SHA-256 by default; SM3 (GB/T 32905) for 国密
deployments, as DA/T 97-2023 cites it.

The canonical form is the entry's fields as text, in the fixed order of ``FIELDS`` and then
``prev``, joined by NUL and encoded as UTF-8.  ``targets`` and ``detail`` enter as the JSON text
the database stores (``json_text``: sorted keys, no spaces, no ASCII escaping), so verification
reads them as stored text and never parses or re-serialises JSON.

Why this is injective: no field of a genuine entry contains NUL (the appender refuses it, the
JSON text escapes it as ``\\u0000``, and PostgreSQL cannot store it at all), so the canonical
bytes of a genuine entry contain exactly ``len(FIELDS)`` NULs.  Any row with the same bytes
splits at the same places and so has the very same field texts: a changed row cannot keep the
hash.  A JSON column reformatted by the database (e.g. converted to JSONB, which re-spaces and
re-orders) changes the stored text and reads as altered; the columns are plain ``JSON``, which
PostgreSQL and SQLite both keep verbatim.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

GENESIS = "0" * 64
ALGORITHMS = ("sha256", "sm3")
FIELDS = ("seq", "id", "at", "actor", "role", "office", "client", "action", "targets", "reason", "outcome", "detail")
JSON_FIELDS = ("targets", "detail")
SEPARATOR = "\x00"


def digest_function(algorithm: str) -> Callable[[bytes], Any]:
    """The hash object constructor for ``algorithm``: ``digest_function(a)(data).hexdigest()``."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"不支持的日志哈希算法 {algorithm!r}；可选 {'、'.join(ALGORITHMS)}")
    if algorithm == "sha256":
        return hashlib.sha256
    hashlib.new("sm3")  # fails here, at start-up, where OpenSSL lacks SM3
    return partial(hashlib.new, "sm3")


def hasher(algorithm: str) -> Callable[[bytes], str]:
    """``data -> hex digest`` for ``algorithm``."""
    make = digest_function(algorithm)
    return lambda data: make(data).hexdigest()


def json_text(value: Any) -> str:
    """The exact JSON text stored for ``targets`` and ``detail`` (and hashed)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def canonical(entry: Mapping[str, Any], prev: str) -> bytes:
    """NUL-joined field texts in ``FIELDS`` order, then ``prev``; UTF-8.

    ``targets``/``detail`` may be given as stored JSON text (``str``) or as the decoded value
    (a list or dict), which is serialised with ``json_text`` first.
    """
    parts = []
    for name in FIELDS:
        value = entry[name]
        if name in JSON_FIELDS and not isinstance(value, str):
            value = json_text(value)
        parts.append(value if isinstance(value, str) else str(value))
    parts.append(prev)
    return SEPARATOR.join(parts).encode("utf-8")
