"""``GET /api/v1/search``: scope inside the engine (office and role), the JSON contract, facets,
paging, approval making a dossier findable to caseworkers, logging and rate limiting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from archive.settings import Settings
from tests.api_client import api_settings, running, token
from tests.api_seed import OFFICE_B, PERSON_A, Seed
from tests.test_api import log_entries

API = "/api/v1"


@pytest.fixture
def app(settings: Settings) -> Iterator[tuple[TestClient, Seed, Settings]]:
    with running(settings, office_b_users=True) as (client, data):
        yield client, data, api_settings(settings)


def _found(client: TestClient, headers: dict, **params) -> tuple[dict, set[str]]:
    response = client.get(f"{API}/search", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return body, {h["dossier"] for h in body["hits"]}


def test_each_role_and_office_finds_only_its_scope(app) -> None:
    client, data, _ = app
    d = data.dossiers
    body, found = _found(client, token(client, "caseworker"), q="参保登记")
    assert found == {d["a1"], d["a2"], d["a3"]} and body["total"] == 3
    hit = body["hits"][0]
    assert set(hit) == {"dossier", "archive_number", "business_type", "page", "score", "snippet", "fuzzy"}
    assert hit["page"] == 1 and "【参保登记】" in hit["snippet"]
    assert _found(client, token(client, "caseworker_b"), q="参保登记")[1] == {d["b1"]}
    assert _found(client, token(client, "archivist"), q="参保登记")[1] == {d["r1"], d["x1"]}
    # Asking for another office or status narrows, never widens, the scope.
    assert _found(client, token(client, "caseworker"), q="参保登记", office=OFFICE_B)[0]["total"] == 0
    assert _found(client, token(client, "caseworker"), q="参保登记", status="needs_review")[0]["total"] == 0
    for role in ("auditor", "admin"):
        refused = client.get(f"{API}/search", params={"q": "参保登记"}, headers=token(client, role))
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden_role"
    assert client.get(f"{API}/search", params={"q": "参保登记"}).status_code == 401


def test_exact_id_facets_and_paging(app) -> None:
    client, data, _ = app
    d = data.dossiers
    caseworker = token(client, "caseworker")
    body, found = _found(client, caseworker, q=PERSON_A, facets="true")
    assert found == {d["a1"], d["a3"]}  # a2 has no person; r1 and b1 are out of scope
    assert body["facets"]["business_type"] == {"参保登记": 2}
    assert body["facets"]["office"] == {"370303": 2}
    first, seen = _found(client, caseworker, q="参保登记", limit=2)
    assert first["next"] and len(seen) == 2
    second, more = _found(client, caseworker, q="参保登记", limit=2, cursor=first["next"])
    assert second["next"] is None and seen | more == {d["a1"], d["a2"], d["a3"]} and not seen & more
    foreign = client.get(f"{API}/search", params={"q": "养老", "cursor": first["next"]}, headers=caseworker)
    assert foreign.status_code == 422 and foreign.json()["error"]["code"] == "search_bad_cursor"
    bad = client.get(f"{API}/search", params={"q": '"参保'}, headers=caseworker)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "search_unbalanced_quote"


def test_approval_makes_the_dossier_findable_and_every_search_is_logged(app) -> None:
    client, data, settings = app
    r1 = data.dossiers["r1"]
    caseworker, reviewer = token(client, "caseworker"), token(client, "reviewer")
    assert r1 not in _found(client, caseworker, q="参保登记")[1]
    assert client.post(f"{API}/review/{r1}/approve", headers=reviewer).status_code == 200
    body, found = _found(client, caseworker, q="参保登记 r1")
    assert found == {r1} and body["total"] == 1
    entries = [e for e in log_entries(settings, "search") if e.actor == "caseworker" and e.detail.get("query")]
    assert [e.detail["query"] for e in entries] == ["参保登记", "参保登记 r1"]
    assert entries[-1].detail["results"] == 1 and list(entries[-1].targets) == [r1]
    assert entries[-1].outcome == "allowed"


def test_search_is_rate_limited(settings: Settings) -> None:
    with running(settings, search_rate_per_minute=2) as (client, _):
        caseworker = token(client, "caseworker")
        codes = [client.get(f"{API}/search", params={"q": "参保"}, headers=caseworker).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
