"""Full-text search for a caller: scope from role and office, answers in the search contract.

The scope goes into the engine query (``search.Scope``), never onto a page of hits afterwards, so
totals, facets and paging only ever count what the caller may see.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from archive.identifiers import mask_numbers
from archive.identity.principal import Principal
from archive.records.models import Dossier, Page
from search import SearchHit, SearchIndex, SearchQuery, SearchResult
from search.base import MARK_CLOSE, MARK_OPEN

from .scope import dossier_clauses, visible_scope


def search_pages(index: SearchIndex, principal: Principal, query: SearchQuery) -> SearchResult:
    return index.search(query, visible_scope(principal))


_MARKS = (MARK_OPEN, MARK_CLOSE)
# A digit run cut by the snippet window ("…0307123" or "1101011990…"): maybe part of an ID number.
_CUT_HEAD = re.compile(r"^…([0-9]{5,17}[0-9Xx]?)(?![0-9A-Za-z])")
_CUT_TAIL = re.compile(r"([0-9]{6,18})…$")


def mask_snippet(snippet: str) -> str:
    """ID numbers masked as ``mask_numbers`` does, also when a highlight mark splits one or the
    window cuts one; the marks stay where they were."""
    marks = [(i, c) for i, c in enumerate(snippet) if c in _MARKS]
    plain = "".join(c for c in snippet if c not in _MARKS)
    plain = mask_numbers(plain)
    plain = _CUT_HEAD.sub(lambda m: "…" + "*" * (len(m.group(1)) - 4) + m.group(1)[-4:], plain)
    plain = _CUT_TAIL.sub(lambda m: m.group(1)[:4] + "*" * (len(m.group(1)) - 4) + "…", plain)
    out = list(plain)
    for i, mark in marks:  # positions in the original string, re-inserted in ascending order
        out.insert(i, mark)
    return "".join(out)


def to_contract(result: SearchResult) -> dict[str, Any]:
    """``{"total", "hits": [{"dossier", "archive_number", "business_type", "page", "score", "snippet"}]}``
    plus ``facets`` and ``next`` (the cursor of the following page).  ID numbers in snippets are
    masked as in every list; the opened (and logged) dossier shows them whole."""
    return {
        "total": result.total,
        "hits": [
            {
                "dossier": hit.dossier_id,
                "archive_number": hit.archive_number,
                "business_type": hit.business_type,
                "page": hit.page,
                "score": round(hit.score, 4),
                "snippet": mask_snippet(hit.snippet),
                "fuzzy": hit.fuzzy,
            }
            for hit in result.hits
        ],
        "facets": result.facets,
        "next": result.next_cursor,
    }


@dataclass(frozen=True)
class HitContext:
    """What a result list shows beside a hit that the index does not hold: the dossier's title and
    dates, and the matching page's upright size (for a thumbnail that does not jump)."""

    title: str | None
    date_start: date | None
    date_end: date | None
    page_count: int
    page_width: int | None
    page_height: int | None


def hit_context(session: Session, principal: Principal, hits: list[SearchHit]) -> dict[tuple[str, int], HitContext]:
    """Two small queries for a page of hits, within the caller's scope, keyed by (dossier, page)."""
    if not hits:
        return {}
    ids = sorted({h.dossier_id for h in hits})
    dossiers = {
        row.id: row
        for row in session.execute(
            select(Dossier.id, Dossier.title, Dossier.date_start, Dossier.date_end, Dossier.page_count).where(
                Dossier.id.in_(ids), *dossier_clauses(principal)
            )
        )
    }
    wanted = sorted({(h.dossier_id, h.page) for h in hits if h.dossier_id in dossiers})
    sizes: dict[tuple[str, int], tuple[int, int]] = {}
    if wanted:
        pairs = or_(*(and_(Page.dossier_id == d, Page.number == n) for d, n in wanted))
        for row in session.execute(select(Page.dossier_id, Page.number, Page.width, Page.height).where(pairs)):
            sizes[(row.dossier_id, row.number)] = (row.width, row.height)
    out: dict[tuple[str, int], HitContext] = {}
    for d, n in wanted:
        row = dossiers[d]
        width, height = sizes.get((d, n), (None, None))
        out[(d, n)] = HitContext(row.title, row.date_start, row.date_end, row.page_count, width, height)
    return out


_SPAN_SECONDS = 300.0
_spans: dict[tuple[str, ...], tuple[float, tuple[int, int] | None]] = {}
_spans_lock = threading.Lock()


def year_span(session: Session, principal: Principal) -> tuple[int, int] | None:
    """The first and last year of the dossiers the caller may see (for a search form's year
    choices), or None when none is dated.  Kept five minutes per scope: it only offers choices."""
    scope = visible_scope(principal)
    key = (str(session.get_bind().url), principal.office, *sorted(scope.statuses))
    now = time.monotonic()
    with _spans_lock:
        cached = _spans.get(key)
    if cached and now - cached[0] < _SPAN_SECONDS:
        return cached[1]
    first, last = session.execute(
        select(
            func.min(func.coalesce(Dossier.date_start, Dossier.date_end)),
            func.max(func.coalesce(Dossier.date_end, Dossier.date_start)),
        ).where(*dossier_clauses(principal))
    ).one()
    span = (_year(first), _year(last)) if first and last else None
    with _spans_lock:
        _spans[key] = (now, span)
    return span


def _year(value: date | str) -> int:
    return value.year if isinstance(value, date) else int(str(value)[:4])
