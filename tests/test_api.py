"""The HTTP API on a seeded archive: the token contract, scope, masking, logging, review,
sessions with CSRF, user administration and hardening.  Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from archive.records.models import AccessLogEntry, Dossier
from archive.runtime import open_runtime
from archive.settings import Settings
from tests.api_client import api_settings, running, token
from tests.api_seed import OFFICE_A, PASSWORD, PERSON_A, Seed

API = "/api/v1"


@pytest.fixture
def app(settings: Settings) -> Iterator[tuple[TestClient, Seed, Settings]]:
    with running(settings) as (client, data):
        yield client, data, api_settings(settings)


def log_entries(settings: Settings, action: str | None = None) -> list[AccessLogEntry]:
    rt = open_runtime(settings)
    with rt.sessions() as session:
        query = select(AccessLogEntry).order_by(AccessLogEntry.seq)
        if action:
            query = query.where(AccessLogEntry.action == action)
        rows = list(session.scalars(query))
    rt.close()
    return rows


def test_token_contract_and_failed_logins_are_logged(app) -> None:
    client, _, settings = app
    good = client.post(f"{API}/auth/token", data={"username": "caseworker", "password": PASSWORD})
    assert good.status_code == 200
    body = good.json()
    assert body["token_type"] == "bearer" and body["access_token"].startswith("arc_")
    bad = client.post(f"{API}/auth/token", data={"username": "caseworker", "password": "wrong"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_credentials"
    unknown = client.post(f"{API}/auth/token", data={"username": "nobody", "password": "wrong"})
    assert unknown.status_code == 401 and unknown.json()["error"] == bad.json()["error"]  # no user enumeration
    logins = log_entries(settings, "login")
    assert [(e.actor, e.outcome) for e in logins] == [
        ("caseworker", "allowed"),
        ("caseworker", "denied"),
        ("nobody", "denied"),
    ]
    me = client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["role"] == "caseworker" and me.json()["office"] == OFFICE_A


def test_lockout_after_repeated_failures(app) -> None:
    client, _, _ = app
    for _ in range(5):
        assert client.post(f"{API}/auth/token", data={"username": "reviewer", "password": "nope"}).status_code == 401
    locked = client.post(f"{API}/auth/token", data={"username": "reviewer", "password": PASSWORD})
    assert locked.status_code == 401 and locked.json()["error"]["code"] == "account_locked"
    admin = token(client, "admin")
    assert client.post(f"{API}/users/reviewer/enable", headers=admin).status_code == 200
    assert client.post(f"{API}/auth/token", data={"username": "reviewer", "password": PASSWORD}).status_code == 200


def test_caseworker_lists_only_archived_dossiers_of_own_office_with_ids_masked(app) -> None:
    client, data, settings = app
    headers = token(client, "caseworker")
    response = client.get(f"{API}/dossiers", headers=headers)
    assert response.status_code == 200
    items = response.json()["items"]
    assert {i["id"] for i in items} == {data.dossiers[k] for k in ("a1", "a2", "a3")}
    assert all(i["office"] == OFFICE_A and i["status"] == "archived" for i in items)
    masked = [i["person_id_number"] for i in items if i["person_id_number"]]
    assert masked and all(m == PERSON_A[:4] + "*" * 10 + PERSON_A[-4:] for m in masked)
    assert PERSON_A not in response.text
    searches = log_entries(settings, "search")
    assert searches[-1].actor == "caseworker" and searches[-1].detail["results"] == 3


def test_cursor_paging_visits_every_dossier_once(app) -> None:
    client, data, _ = app
    headers = token(client, "caseworker")
    seen, cursor = [], None
    for _ in range(5):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"{API}/dossiers", params=params, headers=headers).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(data.dossiers[k] for k in ("a1", "a2", "a3"))
    bad = client.get(f"{API}/dossiers", params={"cursor": "not-a-cursor"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_cursor"


def test_filters_narrow_the_list(app) -> None:
    client, data, _ = app
    headers = token(client, "caseworker")
    by_person = client.get(f"{API}/dossiers", params={"person_id_number": PERSON_A}, headers=headers).json()
    assert {i["id"] for i in by_person["items"]} == {data.dossiers["a1"], data.dossiers["a3"]}
    by_text = client.get(f"{API}/dossiers", params={"q": "a2"}, headers=headers).json()
    assert [i["id"] for i in by_text["items"]] == [data.dossiers["a2"]]
    records = client.get(f"{API}/records", params={"person_id_number": PERSON_A}, headers=headers).json()
    assert {i["id"] for i in records["items"]} == {data.dossiers["a1"], data.dossiers["a3"]}
    both = client.get(f"{API}/records", params={"person_id_number": PERSON_A, "business_number": "1"}, headers=headers)
    assert both.status_code == 422 and both.json()["error"]["code"] == "one_key_required"


def test_open_dossier_scope_404_role_403_and_the_read_is_logged(app) -> None:
    client, data, settings = app
    headers = token(client, "caseworker")
    opened = client.get(f"{API}/dossiers/{data.dossiers['a1']}", headers=headers)
    assert opened.status_code == 200
    body = opened.json()
    assert body["person_id_number"] == PERSON_A and body["pages"][0]["number"] == 1
    other_office = client.get(f"{API}/dossiers/{data.dossiers['b1']}", headers=headers)
    not_archived = client.get(f"{API}/dossiers/{data.dossiers['r1']}", headers=headers)
    missing = client.get(f"{API}/dossiers/01900000-0000-7000-8000-000000000000", headers=headers)
    assert other_office.status_code == not_archived.status_code == missing.status_code == 404
    assert other_office.json() == missing.json()  # scope never reveals existence
    for role in ("auditor", "admin"):
        refused = client.get(f"{API}/dossiers/{data.dossiers['a1']}", headers=token(client, role))
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden_role"
    opens = log_entries(settings, "dossier_open")
    assert [(e.actor, e.outcome, e.targets) for e in opens[:2]] == [
        ("caseworker", "allowed", [data.dossiers["a1"]]),
        ("caseworker", "denied", [data.dossiers["b1"]]),
    ]
    assert {e.actor for e in opens if e.outcome == "denied"} >= {"auditor", "admin"}
    assert all(e.client for e in opens)


def test_page_image_text_and_pdf_download_with_reason(app) -> None:
    client, data, settings = app
    headers = token(client, "caseworker")
    dossier = data.dossiers["a2"]
    image = client.get(f"{API}/dossiers/{dossier}/pages/1/image", headers=headers)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    # a caseworker is served the page with their name and the time drawn in, at the scan's size
    assert image.content != data.page_bytes[dossier]
    with Image.open(io.BytesIO(image.content)) as served, Image.open(io.BytesIO(data.page_bytes[dossier])) as stored:
        assert served.size == stored.size
    # a reviewer, who corrects what OCR read, gets the scan as stored
    r1 = data.dossiers["r1"]
    clean = client.get(f"{API}/dossiers/{r1}/pages/1/image", headers=token(client, "reviewer"))
    assert clean.status_code == 200 and clean.content == data.page_bytes[r1]
    assert client.get(f"{API}/dossiers/{dossier}/pages/2/image", headers=headers).status_code == 404
    assert client.get(f"{API}/dossiers/{data.dossiers['b1']}/pages/1/image", headers=headers).status_code == 404
    text = client.get(f"{API}/dossiers/{dossier}/text", headers=headers).json()
    assert text["pages"][0]["text"] == "参保登记 a2"
    no_reason = client.get(f"{API}/dossiers/{dossier}/pdf", headers=headers)
    assert no_reason.status_code == 422
    pdf = client.get(f"{API}/dossiers/{dossier}/pdf", params={"reason": "待遇核定复查"}, headers=headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.content != data.pdf_bytes[dossier] and b"caseworker" in pdf.content  # the served copy is watermarked
    assert pdf.headers["content-disposition"].startswith("attachment")
    download = log_entries(settings, "download")[-1]
    assert (download.reason, download.targets, download.outcome) == ("待遇核定复查", [dossier], "allowed")
    views = log_entries(settings, "page_view")
    shown = [(v.actor, v.outcome, v.detail["page"]) for v in views]
    assert shown == [
        ("caseworker", "allowed", 1),
        ("reviewer", "allowed", 1),
        ("caseworker", "denied", 2),
        ("caseworker", "denied", 1),
    ]


def test_review_maker_checker_through_the_api(app) -> None:
    client, data, settings = app
    r1 = data.dossiers["r1"]
    archivist, reviewer = token(client, "archivist"), token(client, "reviewer")
    queue = client.get(f"{API}/review/queue", headers=archivist).json()["items"]
    assert [i["id"] for i in queue] == [r1]
    fixed = client.post(f"{API}/review/{r1}/correct", json={"fields": {"title": "参保登记（更正）"}}, headers=archivist)
    assert fixed.status_code == 200
    refused = client.post(f"{API}/review/{r1}/approve", headers=archivist)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden_role"
    bad_id = client.post(f"{API}/review/{r1}/correct", json={"fields": {"person_id_number": "1"}}, headers=reviewer)
    assert bad_id.status_code == 422 and bad_id.json()["error"]["code"] == "invalid_value"
    approved = client.post(f"{API}/review/{r1}/approve", headers=reviewer)
    assert approved.status_code == 200 and approved.json()["status"] == "archived"
    again = client.post(f"{API}/review/{r1}/approve", headers=reviewer)
    assert again.status_code == 404  # archived: no longer in a reviewer's scope
    rt = open_runtime(settings)
    with rt.sessions() as session:
        d = session.get(Dossier, r1)
        assert (d.status, d.reviewed_by, d.title) == ("archived", "reviewer", "参保登记（更正）")
    rt.close()
    decisions = [
        (e.actor, e.outcome, e.detail.get("decision") or e.detail["path"].rsplit("/", 1)[-1])
        for e in log_entries(settings, "review")
    ]
    assert decisions[:2] == [("archivist", "allowed", "correct"), ("archivist", "denied", "approve")]
    assert ("reviewer", "allowed", "approve") in decisions


def test_reviewer_cannot_decide_on_a_batch_they_uploaded(settings: Settings) -> None:
    with running(settings, uploader="reviewer") as (client, data):
        reviewer = token(client, "reviewer")
        r1 = data.dossiers["r1"]
        for path, body in ((f"{API}/review/{r1}/approve", None), (f"{API}/review/{r1}/reject", {"reason": "重复"})):
            response = client.post(path, json=body, headers=reviewer)
            assert response.status_code == 403 and response.json()["error"]["code"] == "self_approval"
