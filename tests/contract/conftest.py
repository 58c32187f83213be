"""An Elasticsearch-compatible server for the search tests.

By default one ``osmem-server`` (the in-memory OpenSearch-compatible server of the ``osmem_server``
dev dependency) is started per session on a free port.  With ``ARCHIVE_ES_URL`` set (optionally
``ARCHIVE_ES_API_KEY`` / ``ARCHIVE_ES_CA_CERTS``) the tests run against that real cluster instead,
and the tests marked ``real_es`` run too.  Every index a test creates gets its own alias (``t-<hex>``),
and everything created is deleted at the end of the session.

osmem answers 406 to the official client's versioned media type
(``application/vnd.elasticsearch+json; compatible-with=9``), so for osmem only, the client gets a
node class that sends plain ``application/json`` / ``application/x-ndjson``.  Product code never does.
"""

from __future__ import annotations

import atexit
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from elastic_transport import HttpHeaders, Urllib3HttpNode
from elastic_transport._node import NodeApiResponse
from elastic_transport.client_utils import DEFAULT, DefaultType
from elasticsearch import Elasticsearch

from search.elastic import ElasticIndex

REAL_ES_URL = os.environ.get("ARCHIVE_ES_URL")
_VERSIONED = re.compile(r"application/vnd\.elasticsearch\+([\w-]+)\s*;\s*compatible-with=\d+")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_es: needs a real Elasticsearch cluster (run only with ARCHIVE_ES_URL set)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if REAL_ES_URL:
        return
    skip = pytest.mark.skip(reason="needs a real Elasticsearch cluster: set ARCHIVE_ES_URL")
    for item in items:
        if "real_es" in item.keywords:
            item.add_marker(skip)


class PlainJsonNode(Urllib3HttpNode):
    """Test-only: rewrites the versioned media types osmem refuses to their plain equivalents."""

    def perform_request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        request_timeout: float | None | DefaultType = DEFAULT,
    ) -> NodeApiResponse:
        if headers:
            headers = headers.copy()
            for name in ("content-type", "accept"):
                if name in headers:
                    headers[name] = _VERSIONED.sub(r"application/\1", headers[name])
        return super().perform_request(method, target, body, headers, request_timeout)


@dataclass
class EsTarget:
    """Where the search tests send requests, and what they created there."""

    url: str
    node_class: type[Urllib3HttpNode]
    client_kwargs: dict[str, Any]
    real: bool
    aliases: list[str] = field(default_factory=list)

    def client(self, node_class: type[Urllib3HttpNode] | None = None, **kwargs: Any) -> Elasticsearch:
        """A client for the target; ``node_class`` must derive from ``self.node_class``."""
        return Elasticsearch(self.url, node_class=node_class or self.node_class, **self.client_kwargs, **kwargs)

    def new_alias(self) -> str:
        alias = f"t-{uuid.uuid4().hex[:16]}"
        self.aliases.append(alias)
        return alias

    def index(self, client: Elasticsearch | None = None, **kwargs: Any) -> ElasticIndex:
        """An ``ElasticIndex`` under a fresh alias (deleted at the end of the session)."""
        return ElasticIndex(client or self.client(), self.new_alias(), **kwargs)

    def cleanup(self) -> None:
        client = self.client()
        quiet = client.options(ignore_status=404)
        for alias in self.aliases:
            # By name: clusters refuse wildcard deletes (action.destructive_requires_name).
            for name in client.indices.get(index=f"{alias}-*", allow_no_indices=True):
                quiet.indices.delete(index=name)
            quiet.indices.delete_index_template(name=f"{alias}-template")
        client.close()


_TARGET: list[EsTarget] = []


def session_target() -> EsTarget:
    """The session's target, started on first use (also from ``tests/test_search_elastic.py``, which
    imports this so that one server serves both); osmem stops when the session's process exits."""
    if _TARGET:
        return _TARGET[0]
    if REAL_ES_URL:
        kwargs: dict[str, Any] = {"request_timeout": 60}
        if os.environ.get("ARCHIVE_ES_API_KEY"):
            kwargs["api_key"] = os.environ["ARCHIVE_ES_API_KEY"]
        if os.environ.get("ARCHIVE_ES_CA_CERTS"):
            kwargs["ca_certs"] = os.environ["ARCHIVE_ES_CA_CERTS"]
        target = EsTarget(REAL_ES_URL, Urllib3HttpNode, kwargs, real=True)
        atexit.register(target.cleanup)
    else:
        from osmem_server import OsmemServer

        server = OsmemServer.start(freeze=False, japanese=False)
        atexit.register(server.close)
        target = EsTarget(server.url, PlainJsonNode, {"request_timeout": 60}, real=False)
    _TARGET.append(target)
    return target


@pytest.fixture(scope="session")
def es_target() -> EsTarget:
    return session_target()


@pytest.fixture(scope="session")
def elastic_factory(es_target: EsTarget) -> Callable[..., ElasticIndex]:
    """``factory(**kwargs)`` → an ``ElasticIndex`` under a fresh alias on the session's server."""
    return es_target.index
