"""What a review of the web interface found, kept fixed: readers are served watermarked pages,
reasons must say something, odd input is a Chinese error and never a 500, refusals name their
dossier, batch problems mask ID numbers, archivists open dossiers where they may, and sign-in never
continues into an API call."""

from __future__ import annotations

from sqlalchemy import select, update

from api.deps import CSRF_COOKIE
from archive.records.models import AccessLogEntry, Dossier
from archive.runtime import open_runtime
from tests.api_client import api_settings, running
from tests.api_seed import PASSWORD
from tests.web_client import sign_in

API = "/api/v1"


def _entries(settings, action: str) -> list[AccessLogEntry]:
    rt = open_runtime(api_settings(settings))
    try:
        with rt.sessions() as session:
            return list(session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == action)))
    finally:
        rt.close()


def test_a_reason_of_blanks_is_no_reason(settings) -> None:
    with running(settings) as (client, data):
        a1 = data.dossiers["a1"]
        sign_in(client, "caseworker")
        for url in (f"{API}/dossiers/{a1}/pdf", f"{API}/dossiers/{a1}/pages/1/download"):
            assert client.get(url, params={"reason": "   "}).status_code == 422, url
            assert client.get(url, params={"reason": " a "}).status_code == 422, url
            assert client.get(url, params={"reason": " 业务经办 "}).status_code == 200, url
        sign_in(client, "auditor")
        assert client.get(f"{API}/audit/export", params={"reason": "  ", "format": "csv"}).status_code == 422
    reasons = [e.reason for e in _entries(settings, "download") if e.outcome == "allowed"]
    assert reasons == ["业务经办", "业务经办"]


def test_odd_numbers_in_page_queries_are_answered_not_crashed(settings) -> None:
    with running(settings) as (client, data):
        sign_in(client, "caseworker")
        assert client.get(f"/dossiers/{data.dossiers['a1']}", params={"page": "²"}).status_code == 200
        answer = client.get("/search", params={"q": "参保", "year_from": "²"})
        assert answer.status_code == 422 and "text/html" in answer.headers["content-type"]
        sign_in(client, "auditor")
        for query in ({"until": "9999-12-31"}, {"since": "0001-01-01T00:00:00+05:00"}):
            page = client.get("/audit", params=query)
            assert page.status_code == 422 and "时间" in page.text, query
            assert client.get(f"{API}/audit/entries", params=query).json()["error"]["code"] == "bad_time"


def test_a_refused_page_names_its_dossier_in_the_log(settings) -> None:
    with running(settings) as (client, data):
        a1 = data.dossiers["a1"]
        sign_in(client, "auditor")
        assert client.get(f"/dossiers/{a1}").status_code == 403
    denied = [e for e in _entries(settings, "dossier_open") if e.outcome == "denied" and e.actor == "auditor"]
    assert denied and a1 in denied[-1].targets


def test_readers_get_watermarked_upright_pages_and_correctors_the_scan(settings) -> None:
    with running(settings) as (client, data):
        a1, r1 = data.dossiers["a1"], data.dossiers["r1"]
        sign_in(client, "caseworker")
        viewer = client.get(f"/dossiers/{a1}").text
        assert 'class="frame"' in viewer and "marked" not in viewer  # drawn in, no overlay needed
        assert client.get(f"{API}/dossiers/{a1}/pages/1/image").content != data.page_bytes[a1]
        sign_in(client, "reviewer")
        viewer = client.get(f"/dossiers/{r1}").text
        assert "frame marked" in viewer  # the scan as stored, the overlay on screen
        assert client.get(f"{API}/dossiers/{r1}/pages/1/image").content == data.page_bytes[r1]


def test_batch_problems_mask_id_numbers_and_archivists_open_the_viewer(settings) -> None:
    with running(settings) as (client, data):
        r1 = data.dossiers["r1"]
        rt = open_runtime(client.app.state.archive.rt.settings)
        try:
            with rt.sessions.begin() as session:
                problem = {"code": "invalid_id_number", "detail": "公民身份号码 110101199003071234 校验位不符"}
                session.execute(update(Dossier).where(Dossier.id == r1).values(problems=[problem]))
                batch = session.get(Dossier, r1).batch_id
        finally:
            rt.close()
        sign_in(client, "archivist")
        shown = client.get(f"{API}/batches/{batch}").json()
        assert "110101199003071234" not in str(shown) and any(p["dossier"] == r1 for p in shown["problems"])
        page = client.get(f"/batches/{batch}").text
        assert "110101199003071234" not in page
        assert f'href="/dossiers/{r1}"' in page and f'href="/review/{r1}"' not in page
        sign_in(client, "reviewer")
        assert f'href="/review/{r1}"' in client.get(f"/batches/{batch}").text


def test_sign_in_never_continues_into_an_api_call(settings) -> None:
    with running(settings) as (client, data):
        target = f"/api/v1/dossiers/{data.dossiers['a1']}/pdf?reason=forged"
        form = {"username": "caseworker", "password": PASSWORD, "next": target}
        assert client.post("/login", data=form, follow_redirects=False).headers["location"] == "/search"
        assert CSRF_COOKIE in client.cookies


def test_the_workbench_logs_the_ocr_text_it_shows(settings) -> None:
    with running(settings) as (client, data):
        r1 = data.dossiers["r1"]
        sign_in(client, "reviewer")
        assert client.get(f"/review/{r1}").status_code == 200
    assert any(r1 in e.targets and e.actor == "reviewer" for e in _entries(settings, "text_view"))
