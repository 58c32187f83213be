"""What every backend does the same way with a query before running it: validation, the
fingerprint binding a cursor to its query and scope, cursor encoding, the empty-scope answer."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from archive.errors import Invalid

from .base import ALL, FACET_FIELDS, MAX_LIMIT, Scope, SearchQuery, SearchResult
from .text import QueryTerm, parse_query

_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,512}")
_BAD_CURSOR = ("search_bad_cursor", "分页游标无效或与本次检索条件不符")


def checked_terms(query: SearchQuery) -> list[QueryTerm]:
    """The query's terms; ``Invalid`` for a bad limit, an inverted date range or a malformed text."""
    if not 1 <= query.limit <= MAX_LIMIT:
        raise Invalid("search_bad_limit", f"每页条数须在 1 到 {MAX_LIMIT} 之间")
    if query.date_from and query.date_to and query.date_from > query.date_to:
        raise Invalid("search_bad_date_range", "起始日期不能晚于截止日期")
    return parse_query(query.text)


def fingerprint(query: SearchQuery, scope: Scope) -> str:
    """Everything that decides the hit list; a cursor is valid only for the same fingerprint."""
    offices = "*" if scope.offices is ALL else sorted(scope.offices)  # type: ignore[arg-type]
    parts = [
        query.text, sorted(query.business_types), sorted(query.categories), sorted(query.offices),
        sorted(query.statuses), sorted(query.retentions), str(query.date_from), str(query.date_to),
        query.sort, query.fuzzy, offices, sorted(scope.statuses),
    ]  # fmt: skip
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()[:16]


def encode_cursor(state: dict[str, Any], print_: str) -> str:
    raw = json.dumps({**state, "f": print_}, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, print_: str) -> dict[str, Any]:
    """The backend's cursor state (without the fingerprint); ``Invalid`` when it is malformed or was
    made for another query or scope.  The backend checks the state's own fields (``bad_cursor``)."""
    try:
        if not _CURSOR.fullmatch(cursor):
            raise ValueError
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(data, dict) or data.pop("f", None) != print_:
            raise ValueError
    except (ValueError, TypeError):
        raise bad_cursor() from None
    return data


def bad_cursor() -> Invalid:
    return Invalid(*_BAD_CURSOR)


def empty_result(query: SearchQuery) -> SearchResult:
    """The answer for a caller who may see nothing."""
    return SearchResult(total=0, hits=[], facets={f: {} for f in FACET_FIELDS} if query.facets else {})
