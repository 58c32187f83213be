"""The administration pages (users and offices with the role matrix, the taxonomy, the system status)
and the status endpoint: admins only, other roles refused and logged, an office administrator sees
their own office only, actions through the JSON API with the session's CSRF token."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.web.admin import PERM_ZH, fact_text, uptime_text
from archive.audit.log import AccessEvent, AccessLog
from archive.identity import offices, users
from archive.identity.roles import Perm
from archive.records.db import alembic_config
from archive.records.models import AccessLogEntry, FixityCheck, Original, SearchPending
from archive.runtime import Runtime
from archive.settings import Settings
from tests.api_client import running, token
from tests.api_seed import PASSWORD
from tests.web_client import csrf_headers, sign_in

API = "/api/v1"
PAGES = ("/admin/users", "/admin/taxonomy", "/admin/status")


@pytest.fixture
def client(settings: Settings):
    with running(settings) as (c, _):
        yield c


def _rt(client: TestClient) -> Runtime:
    return client.app.state.archive.rt


def _admin_log(client: TestClient) -> list[tuple[str, str, dict]]:
    with _rt(client).sessions() as session:
        rows = session.scalars(
            select(AccessLogEntry).where(AccessLogEntry.action == "admin").order_by(AccessLogEntry.seq)
        )
        return [(e.actor, e.outcome, e.detail) for e in rows]


def _no_inline_code(html: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert " style=" not in html and "<style" not in html, "inline style"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert "http://" not in html and "https://" not in html, "external URL"


# -- the pages -----------------------------------------------------------------------------------


def test_pages_render_for_an_admin_and_each_view_is_logged(client: TestClient) -> None:
    sign_in(client, "admin")
    with _rt(client).sessions.begin() as session:
        offices.add_office(session, "370303", "淄博市张店区社保中心", "admin")
    page = client.get("/admin/users")
    assert page.status_code == 200
    html = page.text
    for words in ("用户与机构", "新建用户", "经办机构", "角色与权限", "淄博市张店区社保中心", "一次性密码"):
        assert words in html
    for name in ("archivist", "reviewer", "caseworker", "auditor", "admin"):
        assert f'data-name="{name}"' in html
    assert "档案管理员" in html and "系统管理员" in html and "最近登录" in html
    assert '<option value="370303">370303 淄博市张店区社保中心</option>' in html
    assert '<option value="*">' in html  # an all-office admin may create auditors and admins for *
    assert '<script src="/static/js/admin.js" defer></script>' in html
    assert 'href="/static/css/admin.css"' in html
    _no_inline_code(html)

    taxonomy = client.get("/admin/taxonomy")
    assert taxonomy.status_code == 200
    for words in (
        "业务类型分类表",
        "单位参保登记",
        "UNIT_ENROL",
        "永久",
        "社会保险登记表",
        "统一社会信用代码",
        "随软件发布",
    ):
        assert words in taxonomy.text
    assert 'id="taxonomy-text"' in taxonomy.text and 'id="taxonomy-form"' in taxonomy.text
    assert "types:" in taxonomy.text and "readonly" not in taxonomy.text
    _no_inline_code(taxonomy.text)

    status = client.get("/admin/status")
    assert status.status_code == 200
    for words in ("系统状态", "数据库", "处理队列", "文字识别", "存储", "检索索引", "aria-live"):
        assert words in status.text
    assert 'data-url="/api/v1/system/status"' in status.text
    _no_inline_code(status.text)
    assert "script-src 'self'" in status.headers["content-security-policy"]

    views = [d["change"] for actor, outcome, d in _admin_log(client) if actor == "admin" and outcome == "allowed"]
    assert {"users_view", "taxonomy_view", "status_view"} <= set(views)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_other_roles_are_refused_and_logged(client: TestClient) -> None:
    for role in ("caseworker", "auditor", "archivist", "reviewer"):
        sign_in(client, role)
        for path in PAGES:
            refused = client.get(path)
            assert refused.status_code == 403, (role, path)
            assert "无权访问" in refused.text and "forbidden_role" in refused.text
            assert 'data-name="admin"' not in refused.text and "taxonomy-text" not in refused.text
    denied = [(a, d["path"]) for a, o, d in _admin_log(client) if o == "denied"]
    assert ("caseworker", "/admin/users") in denied and ("auditor", "/admin/status") in denied
    assert len(denied) == 4 * len(PAGES)
    client.cookies.clear()
    for path in PAGES:
        anonymous = client.get(path, follow_redirects=False)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=/admin/")


def test_an_office_admin_sees_and_manages_only_their_office(client: TestClient) -> None:
    with _rt(client).sessions.begin() as session:
        users.add_user(session, "admin370304", "admin", "370304", PASSWORD, "system:test")
        users.add_user(session, "clerk370304", "caseworker", "370304", PASSWORD, "system:test")
    sign_in(client, "admin370304")
    html = client.get("/admin/users").text
    assert 'data-name="clerk370304"' in html and 'data-name="admin370304"' in html
    assert 'data-name="archivist"' not in html and 'data-name="admin"' not in html  # office 370303 and *
    assert '<option value="370304">' in html and '<option value="370303">' not in html
    assert '<option value="*">' not in html and 'id="office-add"' not in html
    taxonomy = client.get("/admin/taxonomy").text
    assert 'id="taxonomy-form"' not in taxonomy and "readonly" in taxonomy
    csrf = sign_in(client, "admin370304")
    other = client.post(f"{API}/users/archivist/disable", headers=csrf_headers(csrf))
    assert other.status_code == 404 and other.json()["error"]["code"] == "user_not_found"
    made = client.post(
        f"{API}/users",
        headers=csrf_headers(csrf),
        json={"name": "clerk2", "role": "caseworker", "office": "370303", "password": "Clerk-Password-2026"},
    )
    assert made.status_code == 404 and made.json()["error"]["code"] == "office_not_managed"


def test_user_states_and_last_sign_in_are_shown(client: TestClient) -> None:
    admin = token(client, "admin")
    client.post(f"{API}/users/archivist/disable", headers=admin)
    client.post(f"{API}/users/reviewer/password", headers=admin, json={"password": "Temporary-Pass-2026"})
    with _rt(client).sessions.begin() as session:
        users.get_user(session, "caseworker").locked_until = datetime.now(UTC) + timedelta(minutes=10)
    sign_in(client, "admin")
    html = client.get("/admin/users").text
    row = lambda name: re.search(rf'<tr data-name="{name}".*?</tr>', html, re.S).group(0)  # noqa: E731
    assert 'data-disabled="true"' in row("archivist") and "已停用" in row("archivist")
    assert 'data-must-change="true"' in row("reviewer") and "须修改密码" in row("reviewer")
    assert (
        'data-locked="true"' in row("caseworker") and "已锁定" in row("caseworker") and "解除锁定" in row("caseworker")
    )
    last = lambda name: re.search(r'<td class="last-login">(.*?)</td>', row(name)).group(1)  # noqa: E731
    assert "正常" in row("auditor") and last("auditor") == "—"  # never signed in
    assert "本人" in row("admin") and 'data-action="disable"' not in row("admin")  # no disabling oneself
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", last("admin"))  # signed in just now


def test_the_role_matrix_shows_the_fixed_grants() -> None:
    assert set(PERM_ZH) == set(Perm)  # a new permission needs its Chinese description


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_role_matrix_cells(client: TestClient) -> None:
    sign_in(client, "admin")
    html = client.get("/admin/users").text
    admin_row = re.search(r"<tr>\s*<th scope=\"row\">管理用户.*?</tr>", html, re.S).group(0)
    cells = re.findall(r'<td class="(yes|no)">', admin_row)
    assert cells == ["no", "no", "no", "no", "yes"]  # archivist, reviewer, caseworker, auditor, admin
    upload_row = re.search(r"<tr>\s*<th scope=\"row\">上传扫描件批次.*?</tr>", html, re.S).group(0)
    assert re.findall(r'<td class="(yes|no)">', upload_row) == ["yes", "no", "no", "no", "no"]


def test_creating_a_user_from_a_web_session_needs_the_csrf_token(client: TestClient) -> None:
    csrf = sign_in(client, "admin")
    body = {"name": "zhang.wei", "role": "caseworker", "office": "370303", "password": "Zhang-Wei-Pass-2026"}
    missing = client.post(f"{API}/users", json=body)
    assert missing.status_code == 403 and missing.json()["error"]["code"] == "csrf_failed"
    wrong = client.post(f"{API}/users", json=body, headers=csrf_headers("not-the-token"))
    assert wrong.status_code == 403
    made = client.post(f"{API}/users", json=body, headers=csrf_headers(csrf))
    assert made.status_code == 201, made.text
    assert made.json()["name"] == "zhang.wei"
    weak = client.post(f"{API}/users", json={**body, "name": "li.na", "password": "short"}, headers=csrf_headers(csrf))
    assert weak.status_code == 422 and weak.json()["error"]["message"] == "密码至少需要 12 个字符"
    office = client.post(f"{API}/offices", json={"code": "370305", "name": "博山区"}, headers=csrf_headers(csrf))
    assert office.status_code == 201
    assert client.post(f"{API}/offices", json={"code": "370306", "name": "周村区"}).status_code == 403
    html = client.get("/admin/users").text
    assert 'data-name="zhang.wei"' in html and "须修改密码" in html
    assert '<option value="370305">370305 博山区</option>' in html
    added = [d for a, o, d in _admin_log(client) if d.get("change") == "user_add" and o == "allowed"]
    assert [d["name"] for d in added] == ["zhang.wei"]


# -- the status endpoint -------------------------------------------------------------------------


def _parts(client: TestClient, headers: dict) -> dict[str, dict]:
    answer = client.get(f"{API}/system/status", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == max((p["status"] for p in body["parts"]), key=["ok", "warn", "error"].index)
    assert body["version"] and body["uptime_seconds"] >= 0
    return {p["key"]: p for p in body["parts"]}


def test_status_reports_every_part(client: TestClient, settings: Settings) -> None:
    admin = token(client, "admin")
    parts = _parts(client, admin)
    assert list(parts) == ["database", "queue", "ocr", "storage", "index"]
    assert all(p["status"] in ("ok", "warn", "error") and p["message"] for p in parts.values())
    dialect = "postgresql" if settings.database_url else "sqlite"
    assert parts["database"]["status"] == "ok" and parts["database"]["facts"]["dialect"] == dialect
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert parts["database"]["facts"]["revision"] == head
    assert parts["queue"]["status"] == "ok" and parts["queue"]["facts"]["search_pending"] == 0
    assert parts["ocr"]["facts"]["alive"] is True and parts["ocr"]["facts"]["workers"] == 0
    assert parts["ocr"]["status"] == "warn"  # OCR inside the server process: for tests only
    assert parts["storage"]["status"] == "warn" and "尚未做过四性检测" in parts["storage"]["message"]
    assert parts["storage"]["facts"]["backend"].startswith("文件系统")
    assert parts["index"]["status"] == "ok" and parts["index"]["facts"]["pages"] == 6
    for role in ("caseworker", "auditor", "archivist", "reviewer"):
        refused = client.get(f"{API}/system/status", headers=token(client, role))
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden_role"
    assert client.get(f"{API}/system/status").status_code == 401


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_status_turns_on_integrity_results_a_missing_object_and_a_stale_search_queue(settings: Settings) -> None:
    with running(settings, search_catch_up_seconds=3600) as (client, _):  # no catch-up drains the queue meanwhile
        _status_turns(client)


def _status_turns(client: TestClient) -> None:
    admin = token(client, "admin")
    rt = _rt(client)
    log = AccessLog(rt, "sha256", 1000)
    log.append(
        AccessEvent(
            actor="ops", role="admin-cli", action="integrity_check", client="cli", detail={"ok": True, "failures": 0}
        )
    )
    storage = _parts(client, admin)["storage"]
    assert storage["status"] == "ok" and "最近一次四性检测通过" in storage["message"]
    assert storage["facts"]["last_check_ok"] is True

    with rt.sessions.begin() as session:
        session.add(
            FixityCheck(object_key="pages/x.png", checked_at=datetime.now(UTC), ok=False, code="digest_mismatch")
        )
    storage = _parts(client, admin)["storage"]
    assert storage["status"] == "error" and "1 个对象上次核验未通过" in storage["message"]
    with rt.sessions.begin() as session:
        session.execute(FixityCheck.__table__.delete())
    log.append(
        AccessEvent(
            actor="ops", role="admin-cli", action="integrity_check", client="cli", detail={"ok": False, "failures": 2}
        )
    )
    storage = _parts(client, admin)["storage"]
    assert storage["status"] == "error" and storage["facts"]["last_check_failures"] == 2

    with rt.sessions() as session:  # the newest original gone from the store: unreadable
        newest = session.scalar(select(Original.object_key).order_by(Original.created_at.desc()).limit(1))
    (rt.settings.objects_dir / newest).unlink()
    storage = _parts(client, admin)["storage"]
    assert storage["status"] == "error" and "对象存储无法读取" in storage["message"]

    with rt.sessions.begin() as session:
        assert session.scalar(select(SearchPending.dossier_id).limit(1)) is None
        session.add(
            SearchPending(
                dossier_id="01900000-0000-7000-8000-00000000abcd", queued_at=datetime.now(UTC) - timedelta(hours=1)
            )
        )
    parts = _parts(client, admin)
    assert parts["index"]["status"] == "warn" and "已等待 60 分钟" in parts["index"]["message"]
    assert parts["queue"]["status"] == "warn" and parts["queue"]["facts"]["search_pending"] == 1


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_status_reports_a_stopped_batch_worker(client: TestClient) -> None:
    client.app.state.archive.batches.stop()
    parts = _parts(client, token(client, "admin"))
    assert parts["queue"]["status"] == "error" and "批次处理线程已停止" in parts["queue"]["message"]
    assert parts["ocr"]["status"] == "error"


def test_fact_and_uptime_texts() -> None:
    assert fact_text("alive", True) == "是" and fact_text("x", None) == "—"
    assert fact_text("disk_free_share", 0.123) == "12%" and fact_text("disk_free_bytes", 2 * 1024**3) == "2.0 GB"
    assert fact_text("last_check", "2026-12-05T16:30:00+00:00") == "2026-12-06 00:30"
    assert uptime_text(59) == "0 分钟" and uptime_text(3 * 3600 + 120) == "3 小时 2 分钟"
    assert uptime_text(2 * 86400 + 5 * 3600) == "2 天 5 小时"
