"""What an attacker or a careless client tries: control characters, lockout games, an administrator
resetting a password to read as someone else, two reviewers at once, full IDs in lists."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from archive import review
from archive.errors import Invalid, ServiceError
from archive.identity import users
from archive.records.models import AccessLogEntry, Dossier, User
from archive.runtime import Runtime, open_runtime
from archive.settings import Settings
from tests.api_client import running, token
from tests.api_seed import PASSWORD, PERSON_A, add_users, seed

API = "/api/v1"


def test_control_characters_are_refused_before_anything_changes(settings: Settings) -> None:
    with running(settings) as (client, data):
        reviewer = token(client, "reviewer")
        r1 = data.dossiers["r1"]
        nul = client.post(f"{API}/review/{r1}/reject", json={"reason": "x\x00"}, headers=reviewer)
        assert nul.status_code == 422 and nul.json()["error"]["code"] == "invalid_request"
        assert client.get(f"{API}/dossiers", params={"q": "张\x00"}, headers=reviewer).json()["error"]["code"] == (
            "invalid_characters"
        )
        pdf = client.get(f"{API}/dossiers/{r1}/pdf", params={"reason": "a\x00b"}, headers=reviewer)
        assert pdf.status_code == 422
        login = client.post(f"{API}/auth/token", data={"username": "ad\x00min", "password": "x"})
        assert login.status_code in (401, 422)
        assert (
            client.post(f"{API}/review/{r1}/reject", json={"reason": "扫描不全"}, headers=reviewer).status_code == 200
        )
    rt = open_runtime(settings)
    with rt.sessions() as session:
        assert session.get(Dossier, r1).status == "rejected"
        rejects = session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "review")).all()
    rt.close()
    assert [(e.outcome, e.reason) for e in rejects] == [("allowed", "扫描不全")]


def test_a_lock_is_revealed_only_to_the_right_password_and_runs_out(settings: Settings) -> None:
    with running(settings, lockout_minutes=1) as (client, _):
        for _ in range(5):
            client.post(f"{API}/auth/token", data={"username": "auditor", "password": "guess"})
        wrong = client.post(f"{API}/auth/token", data={"username": "auditor", "password": "guess"})
        assert wrong.json()["error"]["code"] == "invalid_credentials"  # same as an unknown name
        right = client.post(f"{API}/auth/token", data={"username": "auditor", "password": PASSWORD})
        assert right.json()["error"]["code"] == "account_locked"
        rt = open_runtime(settings)
        with rt.db.begin() as conn:  # the lock runs out
            conn.exec_driver_sql("UPDATE users SET locked_until = created_at WHERE name = 'auditor'")
        rt.close()
        assert client.post(f"{API}/auth/token", data={"username": "auditor", "password": "typo"}).status_code == 401
        assert client.post(f"{API}/auth/token", data={"username": "auditor", "password": PASSWORD}).status_code == 200


def test_parallel_wrong_passwords_are_all_counted(runtime: Runtime) -> None:
    add_users(runtime)
    policy = users.LockPolicy(max_failures=5, lock_minutes=15)

    def attempt(_: int) -> str:
        with runtime.sessions() as session:
            try:
                users.authenticate(session, "caseworker", "wrong-guess", policy)
            except ServiceError as exc:
                return exc.code
            finally:
                session.commit()
        return "ok"

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(attempt, range(8)))
    assert set(codes) == {"invalid_credentials"}
    with runtime.sessions() as session:
        user = session.scalar(select(User).where(User.name == "caseworker"))
        assert user.failed_logins == 8 and user.locked_until is not None


def test_an_admin_reset_forces_a_new_password_first(settings: Settings) -> None:
    with running(settings) as (client, _):
        admin = token(client, "admin")
        assert (
            client.post(f"{API}/users/caseworker/password", json={"password": "Reset-By-Admin-1"}, headers=admin)
        ).status_code == 200
        temporary = token(client, "caseworker", "Reset-By-Admin-1")
        refused = client.get(f"{API}/dossiers", headers=temporary)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "password_change_required"
        assert client.get(f"{API}/auth/me", headers=temporary).json()["must_change_password"] is True
        wrong = client.post(
            f"{API}/auth/password",
            json={"current_password": "nope", "new_password": "Mine-Only-2026!"},
            headers=temporary,
        )
        assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "wrong_password"
        changed = client.post(
            f"{API}/auth/password",
            json={"current_password": "Reset-By-Admin-1", "new_password": "Mine-Only-2026!"},
            headers=temporary,
        )
        assert changed.status_code == 200
        assert client.get(f"{API}/auth/me", headers=temporary).status_code == 401  # every token revoked
        fresh = token(client, "caseworker", "Mine-Only-2026!")
        assert client.get(f"{API}/dossiers", headers=fresh).status_code == 200


def test_second_reviewer_finds_the_dossier_decided(runtime: Runtime) -> None:
    add_users(runtime)
    data = seed(runtime)
    r1 = data.dossiers["r1"]
    first, second = runtime.sessions(), runtime.sessions()
    try:
        second.get(Dossier, r1)  # both have read it as needs_review
        first.get(Dossier, r1)
        review.approve(first, r1, "reviewer")
        first.commit()
        with pytest.raises(Invalid) as caught:
            review.reject(second, r1, "reviewer2", "重复")
        assert caught.value.code == "not_in_review"
    finally:
        first.close()
        second.close()


def test_queue_and_role_refusals_show_no_whole_id_and_name_their_targets(settings: Settings) -> None:
    rt = open_runtime(settings)
    add_users(rt)
    data = seed(rt)
    with rt.sessions.begin() as session:
        d = session.get(Dossier, data.dossiers["r1"])
        d.problems = [{"code": "invalid_id_number", "detail": f"公民身份号码 {PERSON_A[:-1]}9 校验位错误"}]
    rt.close()
    with running(settings, seeded=False) as (client, _):
        queue = client.get(f"{API}/review/queue", headers=token(client, "reviewer"))
        assert PERSON_A[:-1] not in queue.text and PERSON_A[:4] + "*" * 10 in queue.text
        client.get(f"{API}/dossiers/{data.dossiers['a1']}", headers=token(client, "auditor"))
    rt = open_runtime(settings)
    with rt.sessions() as session:
        refusal = session.scalar(
            select(AccessLogEntry).where(AccessLogEntry.actor == "auditor", AccessLogEntry.outcome == "denied")
        )
    rt.close()
    assert refusal.targets == [data.dossiers["a1"]]
