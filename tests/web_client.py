"""Signing in to the web pages in tests (the browser's way: the sign-in form and its cookies)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.deps import CSRF_COOKIE
from tests.api_seed import PASSWORD


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Sign ``client`` in through the form; returns the CSRF token page scripts and forms send."""
    client.cookies.clear()
    response = client.post("/login", data={"username": name, "password": password, "next": "/"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client.cookies.get(CSRF_COOKIE) or ""


def csrf_headers(csrf: str) -> dict[str, str]:
    return {"X-CSRF-Token": csrf}
