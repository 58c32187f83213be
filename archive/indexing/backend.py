"""The search backend the settings name: Elasticsearch when ``ARCHIVE_ES_URL`` is set, else the
embedded tantivy index under the archive home."""

from __future__ import annotations

from typing import Any

from archive.settings import Settings
from search import SearchIndex


def open_search(settings: Settings) -> SearchIndex:
    if settings.es_url:
        from search.elastic import ElasticIndex

        options: dict[str, Any] = {}
        if settings.es_api_key:
            options["api_key"] = settings.es_api_key.get_secret_value()
        if settings.es_ca_certs:
            options["ca_certs"] = str(settings.es_ca_certs)
        return ElasticIndex.from_url(settings.es_url, settings.es_index, **options)
    from search.embedded import TantivyIndex

    return TantivyIndex(settings.search_path)


def backend_name(settings: Settings) -> str:
    return "elasticsearch" if settings.es_url else "tantivy"
