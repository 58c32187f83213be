"""The auditor's pages: the access-log explorer (/audit) with its filters, paging, CSV export form
and chain verification button, and the unusual-access report (/audit/unusual).  Other roles are
refused (and the refusal logged); every query an auditor makes here is itself logged."""

from __future__ import annotations

import csv
import html as html_lib
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from archive.identity.roles import GRANTS, Perm, Role
from archive.runtime import open_runtime
from archive.settings import Settings
from tests.api_client import running, token
from tests.api_seed import PERSON_A
from tests.web_client import sign_in

API = "/api/v1"


def entries(client: TestClient, headers: dict[str, str], **params: str) -> list[dict]:
    response = client.get(f"{API}/audit/entries", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def result_rows(html: str) -> list[str]:
    body = html.split('<table class="audit-entries">', 1)[1].split("</tbody>", 1)[0]
    return [row for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S) if "<td" in row and "colspan" not in row]


def hidden_inputs(html: str, form_action: str) -> dict[str, str]:
    form = html.split(f'action="{form_action}"', 1)[1].split("</form>", 1)[0]
    return {n: html_lib.unescape(v) for n, v in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form)}


def test_explorer_filters_pages_and_logs_the_query(settings: Settings) -> None:
    with running(settings) as (client, data):
        caseworker = token(client, "caseworker")
        a1, a2, b1 = data.dossiers["a1"], data.dossiers["a2"], data.dossiers["b1"]
        for dossier in (a1, a2, b1):  # b1 is office B's: refused
            client.get(f"{API}/dossiers/{dossier}", headers=caseworker)
        sign_in(client, "auditor")

        everything = client.get("/audit")
        assert everything.status_code == 200
        page = everything.text
        assert "访问日志" in page and "查询条件" in page and "哈希链校验" in page
        assert '<script src="/static/js/audit.js" defer></script>' in page
        assert "<script>" not in page and 'style="' not in page

        by_dossier = client.get("/audit", params={"dossier_id": a1, "actor": "", "outcome": "", "since": ""})
        assert by_dossier.status_code == 200  # blank form fields are no filter
        rows = result_rows(by_dossier.text)
        assert len(rows) == 1
        assert "打开案卷" in rows[0] and "caseworker" in rows[0] and "经办人员" in rows[0]
        assert f'href="/audit?dossier_id={a1}"' in rows[0] and '<span class="badge ok">允许</span>' in rows[0]
        assert "370303" in rows[0] and "testclient" in rows[0]
        assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", rows[0])  # Beijing time, to the minute
        assert a2 not in by_dossier.text

        denied = result_rows(client.get("/audit", params={"outcome": "denied", "actor": "caseworker"}).text)
        assert len(denied) == 1 and b1 in denied[0] and '<span class="badge bad">拒绝</span>' in denied[0]
        assert "dossier_not_found" in denied[0]  # the detail summary shows the refusal's code

        by_person = result_rows(client.get("/audit", params={"person_id_number": PERSON_A}).text)
        assert len(by_person) == 2  # a1 and b1 are PERSON_A's

        opens = client.get("/audit", params={"action": "dossier_open", "limit": 2})
        first = result_rows(opens.text)
        assert len(first) == 2
        assert '<option value="dossier_open" selected>打开案卷</option>' in opens.text
        next_url = html_lib.unescape(re.search(r'href="([^"]+)" rel="next"', opens.text).group(1))
        query = parse_qs(urlsplit(next_url).query)
        assert query["action"] == ["dossier_open"] and query["limit"] == ["2"] and query["cursor"]
        second = client.get(next_url)
        rest = result_rows(second.text)
        assert len(rest) == 1 and rest[0] not in first
        assert 'rel="next"' not in second.text and "回到第一页" in second.text

        auditor = token(client, "auditor")
        logged = entries(client, auditor, action="audit_query", actor="auditor")
        queries = [e["detail"]["query"] for e in reversed(logged)]
        assert queries[:3] == [{}, {"dossier_id": a1}, {"outcome": "denied", "actor": "caseworker"}]
        assert {"action": "dossier_open"} in queries
        by_dossier_entry = next(e for e in logged if e["detail"]["query"] == {"dossier_id": a1})
        assert by_dossier_entry["outcome"] == "allowed" and by_dossier_entry["detail"]["results"] == 1
        assert by_dossier_entry["role"] == "auditor"


def test_a_bad_filter_is_explained_and_logged_as_refused(settings: Settings) -> None:
    with running(settings) as (client, _):
        sign_in(client, "auditor")
        response = client.get("/audit", params={"since": "昨天"})
        assert response.status_code == 422
        assert "时间格式无法识别" in response.text and "bad_time" in response.text and "查询条件" in response.text
        late = client.get("/audit", params={"since": "2026-03-02T00:00", "until": "2026-03-01T00:00"})
        assert late.status_code == 422 and "起始时间须早于截止时间" in late.text
        bad_cursor = client.get("/audit", params={"cursor": "nope"})
        assert bad_cursor.status_code == 422 and "分页游标无效" in bad_cursor.text
        refused = entries(client, token(client, "auditor"), action="audit_query", outcome="denied")
        assert sorted(e["detail"]["code"] for e in refused) == ["bad_time", "bad_time", "invalid_cursor"]


def test_export_form_carries_the_filters_to_the_api(settings: Settings) -> None:
    with running(settings) as (client, data):
        caseworker = token(client, "caseworker")
        for dossier in ("a1", "a2"):
            client.get(f"{API}/dossiers/{data.dossiers[dossier]}", headers=caseworker)
        sign_in(client, "auditor")
        filters = {"actor": "caseworker", "action": "dossier_open", "since": "2020-01-01T00:00"}
        page = client.get("/audit", params=filters).text
        assert "导出 CSV" in page
        carried = hidden_inputs(page, "/api/v1/audit/export")
        assert carried == {**filters, "format": "csv"}
        assert re.search(r'name="reason" required minlength="2"', page)

        exported = client.get(f"{API}/audit/export", params={**carried, "reason": "季度检查"})  # as the form sends it
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert len(rows) == 1 + 2


def test_export_form_is_hidden_without_the_export_permission(settings: Settings, monkeypatch) -> None:
    with running(settings) as (client, _):
        sign_in(client, "auditor")
        monkeypatch.setitem(GRANTS, Role.AUDITOR, frozenset({Perm.AUDIT_READ}))
        page = client.get("/audit").text
        assert "查询条件" in page and "导出 CSV" not in page and "/api/v1/audit/export" not in page


def test_verification_status_and_button(settings: Settings) -> None:
    with running(settings) as (client, _):
        sign_in(client, "auditor")
        page = client.get("/audit").text
        assert "尚未校验" in page
        button = re.search(r'<button type="button" id="verify-run"[^>]*>立即校验</button>', page)
        assert button and 'data-url="/api/v1/audit/verify"' in button.group(0)
        assert re.search(r'id="verify-result"[^>]*role="status" aria-live="polite"', page)

        verified = client.get(button.group(0).split('data-url="')[1].split('"')[0])  # what audit.js calls
        assert verified.status_code == 200 and verified.json()["ok"] is True
        checked = verified.json()["entries"]
        page = client.get("/audit").text
        assert "尚未校验" not in page
        latest = page.split('id="verify-latest"', 1)[1].split("</p>", 1)[0]
        assert (
            "最近一次校验" in latest and "auditor" in latest and "完整" in latest and f"共 {checked} 条记录" in latest
        )
        logged = entries(client, token(client, "auditor"), action="audit_verify")
        assert logged[0]["detail"]["ok"] is True and logged[0]["detail"]["code"] == "intact"


def test_a_failed_verification_shows_where_the_chain_breaks(settings: Settings) -> None:
    with running(settings) as (client, _):
        auditor = token(client, "auditor")
        client.get(f"{API}/audit/verify", headers=auditor)
        rt = open_runtime(settings)
        try:
            with rt.db.begin() as conn:  # a rogue DBA rewrites the first entry
                if conn.dialect.name == "sqlite":
                    conn.execute(text("DROP TRIGGER access_log_no_update"))
                else:
                    conn.execute(text("DROP TRIGGER access_log_no_change ON access_log"))
                conn.execute(text("UPDATE access_log SET actor = 'someone_else' WHERE seq = 1"))
        finally:
            rt.close()
        result = client.get(f"{API}/audit/verify", headers=auditor).json()
        assert result["ok"] is False and result["first_bad"] == 1
        sign_in(client, "auditor")
        latest = client.get("/audit").text.split('id="verify-latest"', 1)[1].split("</p>", 1)[0]
        assert "未通过" in latest and "自第 1 条起" in latest and "entry_altered" in latest


@pytest.mark.parametrize("path", ["/audit", "/audit/unusual"])
def test_other_roles_are_refused_and_the_refusal_logged(settings: Settings, path: str) -> None:
    with running(settings) as (client, _):
        anonymous = client.get(path, follow_redirects=False)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
        for name in ("caseworker", "archivist", "reviewer", "admin"):
            sign_in(client, name)
            refused = client.get(path)
            assert refused.status_code == 403 and "无权访问" in refused.text, name
            assert "查询条件" not in refused.text and "异常访问报告" not in refused.text
        logged = entries(client, token(client, "auditor"), action="audit_query", outcome="denied")
        assert sorted(e["actor"] for e in logged) == ["admin", "archivist", "caseworker", "reviewer"]
        assert all(e["detail"] == {"code": "forbidden_role", "path": path} for e in logged)


def test_unusual_access_report_explains_each_finding(settings: Settings) -> None:
    with running(settings) as (client, data):
        caseworker = token(client, "caseworker")
        for _ in range(5):  # five refusals within the hour
            client.get(f"{API}/audit/entries", headers=caseworker)
        # PERSON_A's dossiers read by three different users
        client.get(f"{API}/dossiers/{data.dossiers['a1']}", headers=caseworker)
        for name in ("archivist", "reviewer"):
            client.get(f"{API}/dossiers/{data.dossiers['r1']}", headers=token(client, name))
        sign_in(client, "auditor")

        response = client.get("/audit/unusual")
        assert response.status_code == 200
        page = response.text
        assert "异常访问报告" in page and '<option value="7" selected>7 天</option>' in page
        assert "短时间内多次被拒绝" in page and "一小时内至少 5 次操作被系统拒绝" in page
        assert "caseworker 在 60 分钟内被拒绝 5 次" in page
        assert "同一参保人的案卷被多人查阅" in page and "被 3 名用户查阅" in page
        assert PERSON_A not in re.sub(r'href="[^"]*"', "", page)  # shown masked; only the evidence link holds it
        links = [html_lib.unescape(u) for u in re.findall(r'href="(/audit\?[^"]+)"', page)]
        denied_link = next(u for u in links if "actor=caseworker" in u)
        evidence = client.get(denied_link)
        assert evidence.status_code == 200
        assert len([r for r in result_rows(evidence.text) if "拒绝" in r]) >= 5
        readers_link = next(u for u in links if "person_id_number=" in u)
        assert len(result_rows(client.get(readers_link).text)) >= 3

        assert client.get("/audit/unusual", params={"days": 30}).status_code == 200
        assert client.get("/audit/unusual", params={"days": 0}).status_code == 422
        logged = entries(client, token(client, "auditor"), action="audit_query", actor="auditor")
        reports = [e for e in logged if e["detail"].get("report") == "unusual"]
        assert len(reports) == 2 and all(e["outcome"] == "allowed" for e in reports)
        assert reports[-1]["detail"]["findings"] >= 2
