"""The caseworker's pages on a seeded archive (SQLite and PostgreSQL): search with facets,
highlighted snippets and thumbnails, the dossier viewer, thumbnails and watermarked downloads
through the API, and the case-record lookup.  Scope, refusals and access-log entries included."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageChops
from pypdf import PdfReader
from sqlalchemy import event, select

from api.web import caseworker
from archive.reading.thumbnails import THUMBNAIL_WIDTH, render_thumbnail
from archive.records.models import Dossier, Page
from archive.runtime import open_runtime
from archive.settings import Settings
from tests.api_client import api_settings, running, token
from tests.api_seed import OFFICE_A, PERSON_A, Seed
from tests.test_api import log_entries
from tests.web_client import sign_in

API = "/api/v1"


@pytest.fixture
def app(settings: Settings) -> Iterator[tuple[TestClient, Seed, Settings]]:
    with running(settings, office_b_users=True) as (client, data):
        yield client, data, api_settings(settings)


def _own(entries, actor: str = "caseworker"):
    return [e for e in entries if e.actor == actor]


# -- search ---------------------------------------------------------------------------------------


def test_search_page_shows_marked_snippets_thumbnails_and_links_within_the_office(app) -> None:
    client, data, settings = app
    d = data.dossiers
    sign_in(client, "caseworker")
    answer = client.get("/search", params={"q": "参保登记"})
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert "共命中 <strong>3</strong> 页" in html and "<mark>参保登记</mark>" in html
    for label in ("a1", "a2", "a3"):
        assert f'href="/dossiers/{d[label]}?page=1#page-1"' in html
        assert f'src="{API}/dossiers/{d[label]}/pages/1/thumbnail" loading="lazy"' in html
    for label in ("b1", "r1", "x1"):  # another office, not archived
        assert d[label] not in html
    assert 'width="200" height="300"' in html  # the thumbnail's box from the page's 40 × 60
    assert re.search(r'value="参保登记">\s*<label for="bt-\d+">参保登记 <span class="count">3</span>', html)
    assert "仅本机构" in html and 'name="office"' not in html  # one office: no office choice
    assert "http://" not in html and "https://" not in html and "<script>" not in html and 'style="' not in html
    # The same entry as the API's search: query, filters, page flag, results, the dossiers shown.
    client.get(f"{API}/search", params={"q": "参保登记"}, headers=token(client, "caseworker"))
    page_entry, api_entry = _own(log_entries(settings, "search"))[-2:]
    assert page_entry.detail == api_entry.detail == {"query": "参保登记", "filters": {}, "page": False, "results": 3}
    assert page_entry.targets == api_entry.targets == sorted([d["a1"], d["a2"], d["a3"]])
    # Office B's caseworker sees office B only.
    sign_in(client, "caseworker_b")
    other = client.get("/search", params={"q": "参保登记"}).text
    assert d["b1"] in other and d["a1"] not in other and "共命中 <strong>1</strong> 页" in other


def test_search_page_filters_pages_and_refuses(app, monkeypatch) -> None:
    client, data, settings = app
    d = data.dossiers
    sign_in(client, "caseworker")
    before = len(log_entries(settings, "search"))
    empty = client.get("/search")
    assert empty.status_code == 200 and "输入检索词" in empty.text
    assert len(log_entries(settings, "search")) == before  # no query, no search
    none = client.get("/search", params={"q": "参保登记", "business_type": "工伤认定"}).text
    assert "共命中 <strong>0</strong> 页" in none and "没有找到" in none
    assert _own(log_entries(settings, "search"))[-1].detail["filters"] == {"business_type": ["工伤认定"]}
    by_id = client.get("/search", params={"q": PERSON_A}).text  # a1 and a3 carry the person
    assert d["a1"] in by_id and d["a3"] in by_id and d["a2"] not in by_id
    # Paging by cursor: the next page continues where the first stopped.
    monkeypatch.setattr(caseworker, "PAGE_SIZE", 2)
    first = client.get("/search", params={"q": "参保登记"}).text
    nxt = re.search(r'href="(/search\?[^"]*cursor=[^"]+)" rel="next"', first)
    assert nxt, first
    second = client.get(nxt.group(1).replace("&amp;", "&")).text
    shown = {label for label in ("a1", "a2", "a3") if d[label] in first} | {
        label for label in ("a1", "a2", "a3") if d[label] in second
    }
    assert shown == {"a1", "a2", "a3"} and "回到第一页" in second and 'rel="next"' not in second
    # Bad input is answered on the page, in Chinese.
    bad_years = client.get("/search", params={"q": "参保", "year_from": "2020", "year_to": "2010"})
    assert bad_years.status_code == 422 and "起始年度不能晚于截止年度" in bad_years.text
    quote = client.get("/search", params={"q": '"参保'})
    assert quote.status_code == 422 and "alert error" in quote.text
    sign_in(client, "auditor")
    refused = client.get("/search", params={"q": "参保登记"})
    assert refused.status_code == 403 and "无权访问" in refused.text
    assert _own(log_entries(settings, "search"), "auditor")[-1].outcome == "denied"
    client.cookies.clear()
    assert client.get("/search", follow_redirects=False).status_code == 303


def test_search_page_counts_against_the_search_rate_limit(settings: Settings) -> None:
    with running(settings, search_rate_per_minute=2) as (client, _):
        sign_in(client, "caseworker")
        codes = [client.get("/search", params={"q": "参保"}).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert "检索" in client.get("/search", params={"q": "参保"}).text


def test_snippets_are_escaped_before_marking_and_id_numbers_masked() -> None:
    html = str(caseworker.snippet_html('<img src=x onerror="a()">【参保】 & 120104198507151233 【x'))
    assert html.startswith("&lt;img src=x onerror=&#34;a()&#34;&gt;<mark>参保</mark> &amp; ")
    assert "1201**********1233" in html and "120104198507151233" not in html
    assert html.endswith("【x")  # an unclosed bracket is left as text


# -- the viewer -----------------------------------------------------------------------------------


def test_viewer_renders_lazily_and_logs_the_open(app) -> None:
    client, data, settings = app
    a1 = data.dossiers["a1"]
    sign_in(client, "caseworker")
    answer = client.get(f"/dossiers/{a1}", params={"page": "1"})
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert "参保登记 a1" in html and f"{OFFICE_A}-2026-0000" in html and PERSON_A in html  # the whole ID number
    assert f'src="{API}/dossiers/{a1}/pages/1/image" loading="lazy"' in html and 'width="40" height="60"' in html
    assert f'src="{API}/dossiers/{a1}/pages/1/thumbnail" loading="lazy"' in html
    assert 'id="page-1" class="page current"' in html and "<dialog" in html and "业务经办" in html
    assert f'data-download="{API}/dossiers/{a1}/pdf"' in html and "/static/js/viewer.js" in html
    assert 'style="' not in html and "<script>" not in html
    opens = _own(log_entries(settings, "dossier_open"))
    assert [(e.outcome, e.targets) for e in opens] == [("allowed", [a1])]
    for label in ("b1", "r1"):  # another office; not archived
        hidden = client.get(f"/dossiers/{data.dossiers[label]}")
        assert hidden.status_code == 404 and "案卷不存在或不在您的查阅范围内" in hidden.text
    assert [e.outcome for e in _own(log_entries(settings, "dossier_open"))] == ["allowed", "denied", "denied"]
    assert client.get("/dossiers/not-an-id").status_code == 404
    sign_in(client, "admin")
    assert client.get(f"/dossiers/{a1}").status_code == 403
    sign_in(client, "caseworker")
    svg = client.get("/watermark.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "caseworker · 370303" in svg.text and svg.headers["cache-control"] == "no-store"


def test_a_300_page_dossier_opens_without_reading_images_or_text(app) -> None:
    client, data, settings = app
    a2 = data.dossiers["a2"]
    rt = open_runtime(settings)
    with rt.sessions.begin() as session:
        first = session.scalar(select(Page).where(Page.dossier_id == a2))
        assert first is not None
        for n in range(2, 301):
            session.add(
                Page(
                    dossier_id=a2,
                    number=n,
                    source_index=n - 1,
                    image_key=first.image_key,
                    image_sha256=first.image_sha256,
                    media_type="image/png",
                    width=1654,
                    height=2339,
                    rotation=90 if n == 7 else 0,
                    ocr_key=first.ocr_key,
                    ocr_engine="test",
                    text="长文本" * 500,
                    lines=[{"text": "行", "box": [[0, 0], [1, 0], [1, 1], [0, 1]], "confidence": 0.9}] * 50,
                )
            )
        session.get(Dossier, a2).page_count = 300
    rt.close()
    state = client.app.state.archive

    def no_reads(key: str) -> bytes:
        raise AssertionError(f"the viewer read {key}")

    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    sign_in(client, "caseworker")
    original = state.rt.store.get
    state.rt.store.get = no_reads
    event.listen(state.rt.db, "before_cursor_execute", seen)
    try:
        answer = client.get(f"/dossiers/{a2}", params={"page": "150"})
    finally:
        event.remove(state.rt.db, "before_cursor_execute", seen)
        state.rt.store.get = original
    assert answer.status_code == 200
    html = answer.text
    assert html.count('loading="lazy"') == 600  # 300 thumbnails and 300 page images, none eager
    assert 'id="page-150" class="page current"' in html and 'width="1654" height="2339"' in html
    # a page stored sideways is served upright (with the reader's watermark drawn in): no turning
    assert 'data-rotation="90"' not in html and 'width="2339" height="1654"' not in html
    page_reads = [s for s in statements if "FROM pages" in s]
    assert page_reads and not any("pages.text" in s or "pages.lines" in s for s in page_reads)


def test_thumbnails_are_small_cached_logged_and_scoped(app) -> None:
    client, data, settings = app
    a1, b1 = data.dossiers["a1"], data.dossiers["b1"]
    sign_in(client, "caseworker")
    url = f"{API}/dossiers/{a1}/pages/1/thumbnail"
    thumb = client.get(url)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(thumb.content)) as image:
        assert image.format == "JPEG" and image.size == (40, 60)  # never enlarged
    cached = list((settings.home / "cache" / "thumbnails").rglob("*.jpg"))
    assert len(cached) == 1 and cached[0].read_bytes() == thumb.content
    assert client.get(url).content == thumb.content
    assert not any((settings.home / "objects").rglob("*thumbnail*"))
    assert client.get(f"{API}/dossiers/{b1}/pages/1/thumbnail").status_code == 404
    assert client.get(f"{API}/dossiers/{a1}/pages/2/thumbnail").status_code == 404
    views = _own(log_entries(settings, "page_view"))
    assert [(v.outcome, v.targets, v.detail.get("size"), v.detail.get("page")) for v in views] == [
        ("allowed", [a1], "thumbnail", 1),
        ("allowed", [a1], "thumbnail", 1),
        ("denied", [b1], "thumbnail", 1),
        ("denied", [a1], "thumbnail", 2),
    ]
    assert client.get(url, headers=token(client, "auditor")).status_code == 403
    text = client.get(f"{API}/dossiers/{a1}/pages/1/text")
    assert text.status_code == 200 and text.json()["text"] == "参保登记 a1"
    assert _own(log_entries(settings, "text_view"))[-1].detail == {"page": 1}


def test_thumbnail_drawing_bounds_the_width_and_turns_sideways_scans_upright() -> None:
    wide = io.BytesIO()
    Image.new("RGB", (1654, 2339), (255, 255, 255)).save(wide, format="JPEG")
    with Image.open(io.BytesIO(render_thumbnail(wide.getvalue()))) as small:
        assert small.size == (THUMBNAIL_WIDTH, 283)
    sideways = io.BytesIO()
    Image.new("L", (2339, 1654), 255).save(sideways, format="PNG")
    with Image.open(io.BytesIO(render_thumbnail(sideways.getvalue(), rotation=90))) as small:
        assert small.size == (THUMBNAIL_WIDTH, 283)


# -- downloads ------------------------------------------------------------------------------------


def test_downloads_need_a_reason_and_carry_the_watermark(app) -> None:
    client, data, settings = app
    a2, b1 = data.dossiers["a2"], data.dossiers["b1"]
    sign_in(client, "caseworker")
    assert client.get(f"{API}/dossiers/{a2}/pdf").status_code == 422
    pdf = client.get(f"{API}/dossiers/{a2}/pdf", params={"reason": "待遇核定"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.content))
    text = "".join(p.extract_text() for p in reader.pages)
    assert len(reader.pages) == 1 and "caseworker 370303" in text and "CST" in text
    assert pdf.content != data.pdf_bytes[a2]
    assert client.get(f"{API}/dossiers/{b1}/pdf", params={"reason": "待遇核定"}).status_code == 404

    url = f"{API}/dossiers/{a2}/pages/1/download"
    assert client.get(url).status_code == 422
    image = client.get(url, params={"reason": "信访复核：核对原件"})
    assert image.status_code == 200 and image.headers["content-disposition"].startswith("attachment")
    with Image.open(io.BytesIO(image.content)) as marked, Image.open(io.BytesIO(data.page_bytes[a2])) as source:
        assert marked.size == source.size
        assert ImageChops.difference(marked.convert("L"), source.convert("L")).getbbox() is not None
    assert client.get(f"{API}/dossiers/{b1}/pages/1/download", params={"reason": "信访复核"}).status_code == 404
    downloads = _own(log_entries(settings, "download"))
    assert [(e.outcome, e.reason, e.targets) for e in downloads] == [
        ("allowed", "待遇核定", [a2]),
        ("denied", "待遇核定", [b1]),
        ("allowed", "信访复核：核对原件", [a2]),
        ("denied", "信访复核", [b1]),
    ]
    assert downloads[2].detail == {"page": 1, "format": "image"}
    assert client.get(url, params={"reason": "审计"}, headers=token(client, "auditor")).status_code == 403


# -- case records ---------------------------------------------------------------------------------


def test_record_lookup_lists_the_person_and_validates(app) -> None:
    client, data, settings = app
    d = data.dossiers
    sign_in(client, "caseworker")
    answer = client.get("/records", params={"by": "person_id_number", "value": PERSON_A.lower()})
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert f'href="/dossiers/{d["a1"]}"' in html and f'href="/dossiers/{d["a3"]}"' in html
    assert d["b1"] not in html and d["r1"] not in html and d["a2"] not in html
    assert "参保登记" in html and "共 2 卷" in html and "张三" in html
    entry = _own(log_entries(settings, "search"))[-1]
    assert entry.detail == {"query": {"person_id_number": PERSON_A}, "kind": "record_lookup", "results": 2}
    short = client.get("/records", params={"by": "person_id_number", "value": "12345"})
    assert short.status_code == 422 and "公民身份号码应为 18 位" in short.text
    wrong_check = client.get("/records", params={"by": "person_id_number", "value": PERSON_A[:-1] + "4"})
    assert wrong_check.status_code == 200 and "校验位不正确" in wrong_check.text
    rt = open_runtime(settings)
    with rt.sessions.begin() as session:
        session.get(Dossier, d["a2"]).unit_name = "青岛市某某机械有限公司"
    rt.close()
    unit = client.get("/records", params={"by": "unit_name", "value": "某某机械"}).text
    assert f'href="/dossiers/{d["a2"]}"' in unit and "青岛市某某机械有限公司" in unit
    api = client.get(f"{API}/records", params={"unit_name": "某某机械"}, headers=token(client, "caseworker"))
    assert [i["id"] for i in api.json()["items"]] == [d["a2"]]
    sign_in(client, "archivist")  # archivists do not look up case records
    assert client.get("/records").status_code == 403
