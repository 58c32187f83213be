"""Full-text search of dossier pages behind one backend-neutral interface (see ``search.base``)."""

from .base import ALL, FACET_FIELDS, PageDoc, Scope, SearchHit, SearchIndex, SearchQuery, SearchResult

__all__ = ["ALL", "FACET_FIELDS", "PageDoc", "Scope", "SearchHit", "SearchIndex", "SearchQuery", "SearchResult"]
