"""Deny by default: every route of the app refuses an unauthenticated call (401), and every role
that lacks the route's permission (403).  New routes are covered without editing this test."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.routing import Mount

from api.app import API_PREFIX, OPERATOR_ROUTES, PUBLIC_ROUTES, ROUTERS
from api.deps import current_principal
from archive.identity.roles import Role, allowed
from archive.settings import Settings
from tests.api_client import running, token

SAMPLE = {
    "dossier_id": "01900000-0000-7000-8000-000000000000",
    "batch_id": "01900000-0000-7000-8000-000000000001",
    "number": "1",
    "name": "caseworker",
    "appraisal_id": "01900000-0000-7000-8000-000000000002",
    "register_id": "01900000-0000-7000-8000-000000000003",
    "code": "370303",
}


def _calls(dependant) -> list:
    out = [dependant.call]
    for sub in dependant.dependencies:
        out += _calls(sub)
    return out


def routes(client: TestClient) -> list[tuple[str, str, object]]:
    """(method, path, permission or 'any' for any signed-in user) of every non-public route.
    Checked against the OpenAPI document, so a route outside ``ROUTERS`` cannot slip past."""
    out, seen = [], set(PUBLIC_ROUTES)
    for module in ROUTERS:
        for route in module.router.routes:
            assert isinstance(route, APIRoute)
            calls = _calls(route.dependant)
            perms = [c.perm for c in calls if hasattr(c, "perm")]
            for method in route.methods:
                path = API_PREFIX + route.path
                seen.add((method, path))
                if (method, path) in PUBLIC_ROUTES:
                    continue
                assert perms or current_principal in calls, f"{method} {path} has no authorisation"
                out.append((method, path, perms[0] if perms else "any"))
    documented = {(m.upper(), p) for p, ops in client.app.openapi()["paths"].items() for m in ops}
    assert documented <= seen, f"routes not enumerated: {documented - seen}"
    return out


def fill(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], path)


@pytest.fixture
def client(settings: Settings):
    with running(settings) as (c, _):
        yield c


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_every_route_refuses_anonymous_and_wrong_roles(client: TestClient) -> None:
    found = routes(client)
    assert len(found) >= 20  # the enumeration really sees the app
    headers = {role: token(client, role.value) for role in Role}
    checked_403 = 0
    for method, path, perm in found:
        url = fill(path)
        anonymous = client.request(method, url, json={} if method == "POST" else None)
        assert anonymous.status_code == 401, f"{method} {path} answered {anonymous.status_code} without a token"
        assert anonymous.json()["error"]["code"] == "not_authenticated"
        forged = client.request(method, url, headers={"Authorization": "Bearer arc_forged"})
        assert forged.status_code == 401, f"{method} {path} accepted a forged token"
        if perm == "any":
            continue
        for role in Role:
            if allowed(role.value, perm):
                continue
            refused = client.request(method, url, headers=headers[role], json={} if method == "POST" else None)
            assert refused.status_code == 403, f"{method} {path} let {role.value} through ({refused.status_code})"
            assert refused.json()["error"]["code"] == "forbidden_role"
            checked_403 += 1
    assert checked_403 >= 60


def test_public_routes_are_only_sign_in_health_readiness_and_docs() -> None:
    assert {path for _, path in PUBLIC_ROUTES} == {
        "/api/v1/auth/token",
        "/api/v1/auth/session",
        "/api/v1/health",
        "/api/v1/ready",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
    }
    assert {("GET", "/metrics")} == OPERATOR_ROUTES  # the Prometheus scrape: its own token, no user


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_routes_on_the_app_itself_are_public_or_operator_routes(client: TestClient) -> None:
    """A route added on the app directly (not through ``ROUTERS`` or the web pages) must be listed
    here as public or operator; the operator route stays out of the OpenAPI document."""
    known = {path for _, path in PUBLIC_ROUTES | OPERATOR_ROUTES}
    direct = {
        route.path
        for route in client.app.routes
        if not isinstance(route, Mount) and getattr(route, "methods", None) and getattr(route, "path", None)
    }
    assert direct and direct <= known, f"unlisted routes on the app: {direct - known}"
    assert not {path for _, path in OPERATOR_ROUTES} & set(client.app.openapi()["paths"])


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_metrics_refuse_everyone_without_the_scrape_token(settings: Settings) -> None:
    """No user reaches /metrics, whatever their role: only the configured token does, and every
    refusal looks like a page that does not exist."""
    with running(settings, metrics_token=SecretStr("scrape-" + "x" * 32)) as (client, _):
        assert client.get("/metrics", headers={"Authorization": "Bearer scrape-" + "x" * 32}).status_code == 200
        tries = [{}, {"Authorization": "Bearer arc_forged"}, {"Authorization": "Bearer scrape-" + "x" * 31}]
        tries += [token(client, role.value) for role in Role]
        for headers in tries:
            refused = client.get("/metrics", headers=headers)
            assert refused.status_code == 404, headers
            assert refused.text == client.get("/no-such-page", headers=headers).text
