"""The search interface every full-text backend implements (embedded tantivy now, Elasticsearch later).

Documents are PAGE-LEVEL: one document per page of a dossier, each carrying the dossier's fields.
Pages rather than whole dossiers because a hit must say which page to open and show a snippet from
that page's own text, and because small documents keep phrase matching, snippets and re-indexing
cheap (a dossier of 300 pages would otherwise be one huge document re-written on every change).
A dossier matches when any of its pages does; the dossier fields make every page filterable alone.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol, runtime_checkable

SortOrder = Literal["relevance", "date"]

# The facet names a search may return, in display order.
FACET_FIELDS: Final[tuple[str, ...]] = ("business_type", "office", "status", "category", "retention")

# Snippets mark every match inside the window with these brackets.
MARK_OPEN: Final = "【"
MARK_CLOSE: Final = "】"

MAX_LIMIT: Final = 200


class _All:
    """The ALL sentinel: every office."""

    _instance: _All | None = None

    def __new__(cls) -> _All:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ALL"


ALL: Final = _All()


@dataclass(frozen=True)
class PageDoc:
    """One page of a dossier, with the dossier's fields copied onto it."""

    dossier_id: str
    page: int
    text: str
    archive_number: str = ""
    business_type: str = ""
    category: str = ""
    office: str = ""
    status: str = ""
    retention: str = ""
    date_start: datetime.date | None = None
    date_end: datetime.date | None = None
    person_id_number: str = ""
    person_name: str = ""
    unit_uscc: str = ""
    unit_name: str = ""
    business_number: str = ""

    @property
    def key(self) -> str:
        """The upsert key: one document per (dossier_id, page)."""
        return f"{self.dossier_id}#{self.page}"


@dataclass(frozen=True)
class Scope:
    """What the caller may see; applied inside the engine query, never to a page of hits afterwards.

    ``offices`` is a set of office codes or ``ALL``; ``statuses`` is always an explicit set.  An empty
    set means nothing is visible.
    """

    offices: frozenset[str] | _All
    statuses: frozenset[str]

    def __post_init__(self) -> None:
        if not isinstance(self.offices, _All):
            object.__setattr__(self, "offices", frozenset(self.offices))
        object.__setattr__(self, "statuses", frozenset(self.statuses))

    @property
    def empty(self) -> bool:
        return not self.statuses or (not isinstance(self.offices, _All) and not self.offices)


@dataclass(frozen=True)
class SearchQuery:
    """One search.

    ``text``: whitespace-separated terms that must all match (AND); "double quotes" (or “ ”) keep a
    phrase together.  An empty text with filters lists every page in scope.
    Filters are sets (empty = no restriction).  ``date_from``/``date_to`` select dossiers whose
    [date_start, date_end] period overlaps the range.  ``fuzzy`` allows one wrong character in names
    and 18-character codes; fuzzy hits always rank below exact ones, and sort="date" turns it off.
    """

    text: str = ""
    business_types: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    offices: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()
    retentions: frozenset[str] = frozenset()
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    sort: SortOrder = "relevance"
    limit: int = 20
    cursor: str | None = None
    facets: bool = False
    fuzzy: bool = True

    def field_filters(self) -> list[tuple[str, frozenset[str]]]:
        """(indexed keyword field, allowed values) for every set filter, in a fixed order."""
        pairs = (
            ("business_type", self.business_types),
            ("category", self.categories),
            ("office", self.offices),
            ("status", self.statuses),
            ("retention", self.retentions),
        )
        return [(name, values) for name, values in pairs if values]


@dataclass(frozen=True)
class SearchHit:
    dossier_id: str
    page: int
    archive_number: str
    business_type: str
    office: str
    status: str
    score: float
    snippet: str
    # True when the page matched only through the one-wrong-character tolerance.
    fuzzy: bool = False


@dataclass(frozen=True)
class SearchResult:
    total: int
    hits: list[SearchHit]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    next_cursor: str | None = None


@runtime_checkable
class SearchIndex(Protocol):
    """A full-text index of dossier pages.  Writes become visible after ``commit()``."""

    def add(self, docs: Iterable[PageDoc]) -> None:
        """Insert or replace pages, keyed by (dossier_id, page)."""

    def delete_dossier(self, dossier_id: str) -> None: ...

    def replace_dossier(self, dossier_id: str, docs: Iterable[PageDoc]) -> None:
        """Drop every page of the dossier and index ``docs`` instead (e.g. after a status change)."""

    def commit(self) -> None: ...

    def search(self, query: SearchQuery, scope: Scope) -> SearchResult:
        """Raises ``archive.errors.Invalid`` for a malformed query or cursor."""

    def count(self) -> int: ...

    def dossier_ids(self) -> Iterator[str]:
        """Every dossier id present, for drift checks against the records database."""

    def pages_of(self, dossier_id: str) -> list[PageDoc]:
        """The indexed pages of one dossier, ordered by page, for drift checks.

        Each carries at least dossier_id, page, archive_number, business_type, office and status as
        indexed, and ``text`` as the backend stored it: ``search.text.normalize`` of the page text.
        """

    def rebuild(self, docs: Iterable[PageDoc]) -> int:
        """Replace the whole index with ``docs`` so that searches never see a half-built index.

        Searches keep answering from the old content until the new one is complete; returns the
        number of pages indexed.  Committed on return.
        """

    def advice(self) -> str | None:
        """A maintenance recommendation for the operator (Simplified Chinese), or None."""

    def close(self) -> None: ...
