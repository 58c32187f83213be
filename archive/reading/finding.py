"""Full-text search for a caller: scope from role and office, answers in the search contract.

The scope goes into the engine query (``search.Scope``), never onto a page of hits afterwards, so
totals, facets and paging only ever count what the caller may see.
"""

from __future__ import annotations

import re
from typing import Any

from archive.identifiers import mask_numbers
from archive.identity.principal import Principal
from search import SearchIndex, SearchQuery, SearchResult
from search.base import MARK_CLOSE, MARK_OPEN

from .scope import visible_scope


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
