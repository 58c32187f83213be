"""The reviewer's pages: the queue and the workbench, maker-checker, scope and the access log.
Runs on SQLite and PostgreSQL (the ``settings`` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.web.reviewer import catalogue_view
from archive.records.models import Dossier
from archive.runtime import open_runtime
from archive.settings import Settings
from tests.api_client import api_settings, running
from tests.api_seed import OFFICE_B, Seed, add_users
from tests.test_api import log_entries
from tests.web_client import csrf_headers, sign_in

API = "/api/v1"
RECORD = {
    "title": "张三职工参保登记",
    "id_number": "120104198507151234",  # misread: the check digit does not fit
    "dates": ["2026-01-05"],
    "declared_items": 2,
    "declared_pages": 4,
    "cover_page": 1,
    "catalogue_page": 2,
    "catalogue": [
        {"seq": 1, "title": "参保登记表", "start_page": 3, "end_page": 3},
        {"seq": 2, "title": "身份证复印件", "start_page": 4, "end_page": 5},
    ],
}
PROBLEMS = [
    {"code": "catalogue_mismatch", "detail": "卷内目录第2件《身份证复印件》页号4-5超出实际扫描的最后一页（第3页）"},
    {"code": "low_ocr_confidence", "detail": "识别置信度 0.62 低于 0.80，请人工核对", "page": 1},
    {"code": "invalid_id_number", "detail": "公民身份号码 120104198507151234 校验位不符或出生日期不可能"},
]
CANDIDATES = [
    {"business_type": "职工参保登记", "probability": 0.52},
    {"business_type": "单位参保登记", "probability": 0.31},
    {"business_type": "未分类", "probability": 0.17},
]


def _prepare(settings: Settings, data: Seed) -> None:
    """Office B gets a reviewer and a dossier waiting for review; r1 gets what ingest records."""
    rt = open_runtime(api_settings(settings))
    try:
        add_users(rt, OFFICE_B, suffix="_b")
        with rt.sessions.begin() as session:
            session.execute(update(Dossier).where(Dossier.id == data.dossiers["b1"]).values(status="needs_review"))
            session.execute(
                update(Dossier)
                .where(Dossier.id == data.dossiers["r1"])
                .values(
                    record=RECORD,
                    problems=PROBLEMS,
                    classification={"candidates": CANDIDATES},
                    confidence=0.52,
                    declared_pages=4,
                )
            )
    finally:
        rt.close()


@pytest.fixture
def app(settings: Settings) -> Iterator[tuple[TestClient, Seed, Settings]]:
    with running(settings) as (client, data):
        _prepare(settings, data)
        yield client, data, api_settings(settings)


class _Scripts(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, inline styles and handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.inline.append("script")
        if tag == "style" or "style" in names or any(n.startswith("on") for n in names):
            self.inline.append(f"{tag} {sorted(names)}")


def _no_inline(html: str) -> None:
    parser = _Scripts()
    parser.feed(html)
    assert parser.inline == []
    assert "http://" not in html and "https://" not in html


def test_queue_lists_the_offices_dossiers_most_severe_first(app) -> None:
    client, data, settings = app
    sign_in(client, "reviewer")
    page = client.get("/review")
    assert page.status_code == 200
    html = page.text
    assert "待审核案卷" in html and f'href="/review/{data.dossiers["r1"]}"' in html
    assert data.dossiers["b1"] not in html  # office B's dossier is not in office A's queue
    assert "目录与页面不符" in html and "身份证号校验不通过" in html  # Chinese problem badges
    assert "120104198507151234" not in html and "1201**" in html  # a list masks the ID number
    assert "archivist" in html  # uploaded by
    _no_inline(html)
    [entry] = [e for e in log_entries(settings, "review_queue") if e.actor == "reviewer"]
    assert entry.targets == [data.dossiers["r1"]] and entry.outcome == "allowed"

    sign_in(client, "reviewer_b")
    other = client.get("/review").text
    assert data.dossiers["b1"] in other and data.dossiers["r1"] not in other


def test_workbench_shows_the_image_text_fields_type_check_and_problems(app) -> None:
    client, data, settings = app
    r1 = data.dossiers["r1"]
    sign_in(client, "reviewer")
    page = client.get(f"/review/{r1}")
    assert page.status_code == 200
    html = page.text
    assert f'src="/api/v1/dossiers/{r1}/pages/1/image"' in html
    assert "参保登记 r1" in html  # the page's OCR text
    for label in ("题名", "公民身份号码", "统一社会信用代码", "业务编号", "档号", "单位名称"):
        assert f">{label}</label>" in html
    assert 'value="120104198507151233"' in html  # the whole ID number: this is a logged dossier read
    assert "识别结果：<code>120104198507151234</code>" in html  # what OCR read, where it differs
    assert "职工参保登记" in html and "52%" in html and "单位参保登记" in html  # candidates
    assert "目录与页面核对" in html and "本卷共 2 件 4 页" in html and "页数不符" in html
    assert "超出实际扫描的最后一页" in html and "须更正后才能批准" in html
    assert 'data-goto-page="1"' in html and "查看第 1 页" in html
    assert "<kbd>A</kbd>" in html and "<kbd>X</kbd>" in html and "<dialog" in html
    assert "审批人不得为上传人" not in html and 'id="btn-approve" class="primary" aria-keyshortcuts="a">' in html
    _no_inline(html)
    opens = [e for e in log_entries(settings, "dossier_open") if e.actor == "reviewer"]
    assert [(e.targets, e.outcome) for e in opens] == [([r1], "allowed")]

    next_page = client.get(f"/review/next?after={r1}&pos=0", follow_redirects=False)
    assert next_page.status_code == 303 and next_page.headers["location"] == "/review?done=1"


def test_roles_and_offices_are_refused(app) -> None:
    client, data, settings = app
    r1 = data.dossiers["r1"]
    sign_in(client, "caseworker")
    refused = client.get(f"/review/{r1}")
    assert refused.status_code == 403 and "无权访问" in refused.text
    assert client.get("/review").status_code == 403
    sign_in(client, "reviewer_b")
    other = client.get(f"/review/{r1}")
    assert other.status_code == 404 and "案卷不存在或不在您的查阅范围内" in other.text
    denied = [(e.actor, e.outcome, e.detail.get("code")) for e in log_entries(settings, "dossier_open")]
    assert ("caseworker", "denied", "forbidden_role") in denied
    assert ("reviewer_b", "denied", "dossier_not_found") in denied
    client.cookies.clear()
    assert client.get("/review", follow_redirects=False).status_code == 303


def test_approve_through_the_api_with_the_pages_csrf_header(app) -> None:
    client, data, settings = app
    r1 = data.dossiers["r1"]
    csrf = sign_in(client, "reviewer")
    assert f'content="{csrf}"' in client.get(f"/review/{r1}").text  # the token the page script sends
    without = client.post(f"{API}/review/{r1}/approve")
    assert without.status_code == 403 and without.json()["error"]["code"] == "csrf_failed"
    blocked = client.post(f"{API}/review/{r1}/approve", headers=csrf_headers(csrf))
    assert blocked.status_code == 422 and blocked.json()["error"]["code"] == "problems_open"
    fixed = client.post(
        f"{API}/review/{r1}/correct",
        json={"fields": {"person_id_number": "11010519491231002x"}, "business_type": "职工参保登记"},
        headers=csrf_headers(csrf),
    )
    assert fixed.status_code == 200, fixed.text
    approved = client.post(f"{API}/review/{r1}/approve", headers=csrf_headers(csrf))
    assert approved.status_code == 200 and approved.json()["status"] == "archived"
    assert client.get("/review").status_code == 200 and r1 not in client.get("/review").text
    gone = client.get(f"/review/{r1}")  # archived: out of a reviewer's scope
    assert gone.status_code == 404


def test_the_uploader_sees_why_they_cannot_decide(settings: Settings) -> None:
    with running(settings, uploader="reviewer") as (client, data):
        r1 = data.dossiers["r1"]
        csrf = sign_in(client, "reviewer")
        queue = client.get("/review").text
        assert "本人上传" in queue and "双人复核" in queue
        html = client.get(f"/review/{r1}").text
        assert "审批人不得为上传人" in html and "四眼原则" in html
        assert (
            'id="btn-approve" class="primary" aria-keyshortcuts="a" aria-describedby="maker-checker" disabled' in html
        )
        refused = client.post(f"{API}/review/{r1}/approve", headers=csrf_headers(csrf))
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "self_approval"
        # "next" leaves out the reviewer's own uploads
        assert client.get("/review/next", follow_redirects=False).headers["location"] == "/review?done=1"


def test_a_missing_title_is_explained(app) -> None:
    client, data, settings = app
    r1 = data.dossiers["r1"]
    rt = open_runtime(settings)
    with rt.sessions.begin() as session:
        session.execute(update(Dossier).where(Dossier.id == r1).values(title=None, problems=[]))
    rt.close()
    csrf = sign_in(client, "reviewer")
    html = client.get(f"/review/{r1}").text
    assert "缺少<strong>题名</strong>" in html and "必填：批准归档前须补录题名" in html
    refused = client.post(f"{API}/review/{r1}/approve", headers=csrf_headers(csrf))
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "metadata_missing"


def test_rejected_dossier_is_read_only(app) -> None:
    client, data, _ = app
    sign_in(client, "reviewer")
    html = client.get(f"/review/{data.dossiers['x1']}").text
    assert "只有待审核的案卷可以更正或审批" in html
    assert 'id="btn-approve" class="primary" aria-keyshortcuts="a" disabled' in html


def test_catalogue_entries_point_at_scanned_pages() -> None:
    view = catalogue_view({"record": RECORD, "page_count": 4}, [])
    assert [(e["scan_start"], e["note"]) for e in view.entries] == [(3, ""), (4, "超出实际页数")]
    assert view.pages_agree is True and view.items_agree is True
    documents_only = dict(RECORD, catalogue=[{"seq": 1, "title": "表", "start_page": 1, "end_page": 2}])
    shifted = catalogue_view({"record": documents_only, "page_count": 4}, [])
    assert shifted.entries[0]["scan_start"] == 3 and shifted.entries[0]["scan_end"] == 4
    loose = catalogue_view({"record": {}, "page_count": 2, "catalogue": []}, [])
    assert loose.present is False
