"""Offices (经办机构): the service (codes validated and unique, names), the API (admin only, changes
logged, adding and renaming for an all-office admin), and migration 0011 on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, select

from archive.errors import Invalid, NotFound
from archive.identity import offices, users
from archive.records.db import alembic_config
from archive.records.models import AccessLogEntry
from archive.runtime import Runtime, open_runtime
from archive.settings import Settings
from tests.api_client import running, token
from tests.api_seed import PASSWORD

API = "/api/v1"


def _admin_changes(settings: Settings, change: str) -> list[tuple[str, str, dict]]:
    rt = open_runtime(settings)
    try:
        with rt.sessions() as session:
            rows = session.scalars(
                select(AccessLogEntry).where(AccessLogEntry.action == "admin").order_by(AccessLogEntry.seq)
            )
            return [(e.actor, e.outcome, e.detail) for e in rows if e.detail.get("change") == change]
    finally:
        rt.close()


# -- the service ---------------------------------------------------------------------------------


def test_offices_are_added_listed_and_renamed(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        offices.add_office(session, "370304", "  淄博市淄川区   社会保险事业中心 ", "admin")
        offices.add_office(session, "370303", "淄博市张店区社会保险事业中心", "admin")
    with runtime.sessions.begin() as session:
        listed = offices.list_offices(session)
        assert [o.code for o in listed] == ["370303", "370304"]
        assert listed[1].name == "淄博市淄川区 社会保险事业中心"  # spaces tidied
        assert listed[0].created_by == "admin" and listed[0].created_at is not None
        office, before = offices.rename_office(session, "370303", "张店区社保中心")
        assert (office.name, before) == ("张店区社保中心", "淄博市张店区社会保险事业中心")
    with runtime.sessions() as session:
        assert offices.names(session) == {"370303": "张店区社保中心", "370304": "淄博市淄川区 社会保险事业中心"}


@pytest.mark.parametrize(
    ("code", "name", "error"),
    [
        ("*", "全部", "invalid_office"),
        ("37 0303", "空格", "invalid_office"),
        ("", "空", "invalid_office"),
        ("x" * 33, "过长", "invalid_office"),
        ("370303", "   ", "invalid_office_name"),
        ("370303", "名" * 101, "invalid_office_name"),
    ],
)
def test_invalid_codes_and_names_are_refused(runtime: Runtime, code: str, name: str, error: str) -> None:
    with runtime.sessions.begin() as session, pytest.raises(Invalid) as caught:
        offices.add_office(session, code, name, "admin")
    assert caught.value.code == error
    with runtime.sessions() as session:
        assert offices.list_offices(session) == []


def test_codes_are_unique_and_unknown_offices_cannot_be_renamed(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        offices.add_office(session, "370303", "张店", "admin")
    with runtime.sessions.begin() as session, pytest.raises(Invalid) as caught:
        offices.add_office(session, "370303", "另一个", "admin")
    assert caught.value.code == "office_exists" and "370303" in caught.value.message
    with runtime.sessions.begin() as session, pytest.raises(NotFound) as missing:
        offices.rename_office(session, "999999", "不存在")
    assert missing.value.code == "office_not_found"


def test_users_may_still_carry_offices_not_listed(runtime: Runtime) -> None:
    """The list is what forms offer; it restricts no one (accounts made before it keep working)."""
    with runtime.sessions.begin() as session:
        users.add_user(session, "clerk", "caseworker", "A-17", PASSWORD, "admin")
    with runtime.sessions() as session:
        assert offices.list_offices(session) == [] and users.get_user(session, "clerk").office == "A-17"


# -- migration 0011 ------------------------------------------------------------------------------


def test_migration_creates_and_drops_the_offices_table(runtime: Runtime) -> None:
    url = runtime.db.url.render_as_string(hide_password=False)
    assert "offices" in inspect(runtime.db).get_table_names()
    columns = {c["name"] for c in inspect(runtime.db).get_columns("offices")}
    assert columns == {"id", "code", "name", "created_at", "created_by"}
    cfg = alembic_config(url)
    with runtime.db.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010")
    assert "offices" not in inspect(runtime.db).get_table_names()
    with runtime.db.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    inspector = inspect(runtime.db)
    assert "offices" in inspector.get_table_names()
    assert any(u["column_names"] == ["code"] for u in inspector.get_unique_constraints("offices"))
    with runtime.sessions.begin() as session:
        offices.add_office(session, "370303", "张店", "admin")


# -- the API -------------------------------------------------------------------------------------


def test_admin_lists_adds_and_renames_offices_and_changes_are_logged(settings: Settings) -> None:
    with running(settings) as (client, _):
        admin = token(client, "admin")
        assert client.get(f"{API}/offices", headers=admin).json() == {"items": []}
        added = client.post(f"{API}/offices", headers=admin, json={"code": "370303", "name": "张店区社保中心"})
        assert added.status_code == 201, added.text
        body = added.json()
        assert (body["code"], body["name"], body["created_by"]) == ("370303", "张店区社保中心", "admin")
        assert body["users"] == 3  # the seeded archivist, reviewer and caseworker of 370303
        again = client.post(f"{API}/offices", headers=admin, json={"code": "370303", "name": "重复"})
        assert again.status_code == 422 and again.json()["error"]["code"] == "office_exists"
        assert again.json()["error"]["message"] == "经办机构代码 370303 已存在"
        bad = client.post(f"{API}/offices", headers=admin, json={"code": "*", "name": "全部"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_office"
        renamed = client.patch(f"{API}/offices/370303", headers=admin, json={"name": "淄博市张店区社保中心"})
        assert renamed.status_code == 200 and renamed.json()["name"] == "淄博市张店区社保中心"
        unknown = client.patch(f"{API}/offices/999999", headers=admin, json={"name": "无"})
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "office_not_found"
        listed = client.get(f"{API}/offices", headers=admin).json()["items"]
        assert [(o["code"], o["name"]) for o in listed] == [("370303", "淄博市张店区社保中心")]
    adds = _admin_changes(settings, "office_add")
    assert ("admin", "allowed") in [(a, o) for a, o, _ in adds]
    denied = [d for a, o, d in adds if o == "denied"]
    assert {d["code"] for d in denied} == {"office_exists", "invalid_office"}
    renames = _admin_changes(settings, "office_rename")
    allowed = [d for _, o, d in renames if o == "allowed"]
    assert allowed == [
        {"change": "office_rename", "code": "370303", "name": "淄博市张店区社保中心", "before": "张店区社保中心"}
    ]


def test_only_admins_see_offices_and_only_all_office_admins_change_them(settings: Settings) -> None:
    with running(settings) as (client, _):
        rt = client.app.state.archive.rt
        with rt.sessions.begin() as session:
            users.add_user(session, "admin370304", "admin", "370304", PASSWORD, "system:test")
            offices.add_office(session, "370304", "淄川区", "admin")
            offices.add_office(session, "370303", "张店区", "admin")
        for role in ("archivist", "reviewer", "caseworker", "auditor"):
            refused = client.get(f"{API}/offices", headers=token(client, role))
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden_role"
        local = token(client, "admin370304")  # reads the whole list (offices are not scoped data)
        listed = client.get(f"{API}/offices", headers=local).json()["items"]
        assert [o["code"] for o in listed] == ["370303", "370304"]
        add = client.post(f"{API}/offices", headers=local, json={"code": "370305", "name": "博山区"})
        assert add.status_code == 403 and add.json()["error"]["code"] == "office_admin_wide_only"
        rename = client.patch(f"{API}/offices/370304", headers=local, json={"name": "改名"})
        assert rename.status_code == 403 and rename.json()["error"]["code"] == "office_admin_wide_only"
        anonymous = client.get(f"{API}/offices")
        assert anonymous.status_code == 401
        # creating a user is not tied to the list: an unlisted (valid) office still works
        made = client.post(
            f"{API}/users",
            headers=token(client, "admin"),
            json={"name": "clerk9", "role": "caseworker", "office": "370399", "password": "Clerk-Password-2026"},
        )
        assert made.status_code == 201, made.text
        with rt.sessions() as session:
            assert offices.get_office(session, "370304").name == "淄川区"
    assert [o for _, o, _ in _admin_changes(settings, "office_add")] == ["denied"]
