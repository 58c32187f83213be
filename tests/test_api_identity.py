"""Browser sessions with CSRF, logout and revocation, password policy, user administration over
the API and the CLI (password from standard input)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from archive.cli import main
from archive.identity.passwords import check_policy
from archive.records.models import AccessLogEntry, User
from archive.runtime import open_runtime
from archive.settings import Settings
from tests.api_client import running, token
from tests.api_seed import PASSWORD

API = "/api/v1"


def test_session_cookie_is_httponly_samesite_and_needs_csrf_for_changes(settings: Settings) -> None:
    with running(settings) as (client, _):
        login = client.post(f"{API}/auth/session", json={"username": "archivist", "password": PASSWORD})
        assert login.status_code == 200
        cookies = [h for k, h in login.headers.multi_items() if k == "set-cookie"]
        session_cookie = next(c for c in cookies if c.startswith("archive_session="))
        assert "HttpOnly" in session_cookie and "SameSite=strict" in session_cookie
        csrf = login.json()["csrf_token"]
        assert client.get(f"{API}/auth/me").json()["name"] == "archivist"  # the cookie alone reads
        no_csrf = client.post(f"{API}/auth/logout")
        assert no_csrf.status_code == 403 and no_csrf.json()["error"]["code"] == "csrf_failed"
        wrong = client.post(f"{API}/auth/logout", headers={"X-CSRF-Token": "guess"})
        assert wrong.status_code == 403
        assert client.post(f"{API}/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
        client.cookies.set("archive_session", session_cookie.split(";")[0].split("=", 1)[1])
        after = client.get(f"{API}/auth/me")
        assert after.status_code == 401  # revoked, even with the old cookie replayed


def test_logout_revokes_bearer_token_and_disable_revokes_all(settings: Settings) -> None:
    with running(settings) as (client, _):
        first, second = token(client, "caseworker"), token(client, "caseworker")
        assert client.post(f"{API}/auth/logout", headers=first).status_code == 200
        assert client.get(f"{API}/auth/me", headers=first).status_code == 401
        assert client.get(f"{API}/auth/me", headers=second).status_code == 200
        admin = token(client, "admin")
        assert client.post(f"{API}/users/caseworker/disable", headers=admin).json()["disabled"] is True
        assert client.get(f"{API}/auth/me", headers=second).status_code == 401
        refused = client.post(f"{API}/auth/token", data={"username": "caseworker", "password": PASSWORD})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "account_disabled"
        own = client.post(f"{API}/users/admin/disable", headers=admin)
        assert own.status_code == 422 and own.json()["error"]["code"] == "self_disable"


def test_expired_tokens_are_refused(settings: Settings) -> None:
    with running(settings, token_minutes=1) as (client, _):
        headers = token(client, "auditor")
        rt = open_runtime(settings)
        with rt.db.begin() as conn:
            conn.exec_driver_sql("UPDATE auth_tokens SET expires_at = created_at")
        rt.close()
        assert client.get(f"{API}/auth/me", headers=headers).status_code == 401


@pytest.mark.parametrize(
    "password",
    ["short1A!", "alllowercaseletters", "NoDigitsOrSymbolsHere", "contains-admin-Name1", ""],
)
def test_password_policy_refuses_weak_passwords(password: str) -> None:
    from archive.errors import Invalid

    with pytest.raises(Invalid) as caught:
        check_policy("admin", password)
    assert caught.value.code == "weak_password"
    check_policy("admin", "Long-enough-2026")


def test_admin_creates_users_and_changes_are_logged(settings: Settings) -> None:
    with running(settings) as (client, _):
        admin = token(client, "admin")
        body = {"name": "zhangsan", "role": "caseworker", "office": "370303", "password": "Zs-Archive-2026"}
        created = client.post(f"{API}/users", json=body, headers=admin)
        assert created.status_code == 201 and created.json()["role"] == "caseworker"
        again = client.post(f"{API}/users", json=body, headers=admin)
        assert again.status_code == 422 and again.json()["error"]["code"] == "user_exists"
        weak = client.post(f"{API}/users", json={**body, "name": "lisi", "password": "123"}, headers=admin)
        assert weak.status_code == 422 and weak.json()["error"]["code"] == "weak_password"
        wide = client.post(f"{API}/users", json={**body, "name": "lisi", "office": "*"}, headers=admin)
        assert wide.status_code == 422 and wide.json()["error"]["code"] == "invalid_office"
        bad_role = client.post(f"{API}/users", json={**body, "name": "lisi", "role": "root"}, headers=admin)
        assert bad_role.json()["error"]["code"] == "invalid_role"
        assert token(client, "zhangsan", "Zs-Archive-2026")
        reset = client.post(f"{API}/users/zhangsan/password", json={"password": "New-Archive-2027"}, headers=admin)
        assert reset.status_code == 200
        assert token(client, "zhangsan", "New-Archive-2027")
        names = [u["name"] for u in client.get(f"{API}/users", headers=admin).json()["items"]]
        assert "zhangsan" in names
    rt = open_runtime(settings)
    with rt.sessions() as session:
        changes = [
            (e.actor, e.outcome, e.detail["change"])
            for e in session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "admin"))
        ]
        stored = session.scalar(select(User.password_hash).where(User.name == "zhangsan"))
    rt.close()
    assert changes[0] == ("admin", "allowed", "user_add") and ("admin", "denied", "user_add") in changes
    assert ("admin", "allowed", "password_reset") in changes
    assert stored.startswith("$argon2id$")


def test_cli_users_add_reads_password_from_stdin_and_disable(settings: Settings, monkeypatch) -> None:
    from archive import settings as settings_module

    monkeypatch.setattr(settings_module, "get_settings", lambda: settings)
    monkeypatch.setattr("archive.cli.get_settings", lambda: settings)
    runner = CliRunner()
    added = runner.invoke(
        main, ["users", "add", "wangwu", "--role", "reviewer", "--office", "370303"], input="Ww-Archive-2026\n"
    )
    assert added.exit_code == 0, added.output
    weak = runner.invoke(main, ["users", "add", "zhaoliu", "--role", "reviewer", "--office", "370303"], input="x\n")
    assert weak.exit_code != 0 and "weak_password" in weak.output
    assert runner.invoke(main, ["users", "disable", "wangwu"]).exit_code == 0
    missing = runner.invoke(main, ["users", "disable", "nobody"])
    assert missing.exit_code != 0 and "user_not_found" in missing.output
    rt = open_runtime(settings)
    with rt.sessions() as session:
        user = session.scalar(select(User).where(User.name == "wangwu"))
        actors = {e.actor for e in session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "admin"))}
    rt.close()
    assert user.disabled and user.role == "reviewer" and user.created_by.startswith("system:")
    assert all(a.startswith("system:") for a in actors)


def test_admin_sees_settings_without_secrets(settings: Settings) -> None:
    with running(settings) as (client, _):
        shown = client.get(f"{API}/system/settings", headers=token(client, "admin"))
        assert shown.status_code == 200
        values = shown.json()["settings"]
        assert values["audit_hash"] == "sha256" and "token_minutes" in values
        assert client.get(f"{API}/system/settings", headers=token(client, "caseworker")).status_code == 403
