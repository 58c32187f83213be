"""Running the app in tests: a TestClient over a seeded archive, and signing in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from api.app import create_app
from archive.runtime import open_runtime
from archive.settings import Settings
from tests.api_seed import OFFICE_B, PASSWORD, Seed, add_users, seed


def api_settings(settings: Settings, **overrides) -> Settings:
    base = {"cookie_secure": False, "login_rate_per_minute": 1000, "search_rate_per_minute": 1000}
    return settings.model_copy(update={**base, **overrides})


@contextmanager
def running(
    settings: Settings,
    pool_factory=None,
    uploader: str = "archivist",
    seeded: bool = True,
    office_b_users: bool = False,
    **overrides,
) -> Iterator[tuple[TestClient, Seed]]:
    """The app over a seeded archive; ``office_b_users`` adds one user per role in office B too
    (named ``<role>_b``)."""
    settings = api_settings(settings, **overrides)
    data = Seed()
    if seeded:
        rt = open_runtime(settings)
        try:
            add_users(rt)
            if office_b_users:
                add_users(rt, OFFICE_B, suffix="_b")
            data = seed(rt, uploader)
        finally:
            rt.close()
    with TestClient(create_app(settings, pool_factory), raise_server_exceptions=False) as client:
        yield client, data


def token(client: TestClient, name: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": name, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
