"""Appraisal and disposition over HTTP: who may list, propose, approve, decline and read registers (roles
and office scope), the two-person rule, and the access log; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from archive.records.models import AccessLogEntry, Dossier
from archive.runtime import open_runtime
from archive.settings import Settings
from tests.api_client import api_settings, running, token
from tests.api_seed import OFFICE_B, Seed, add_users, seed

API = "/api/v1/disposition"
UNKNOWN = "01900000-0000-7000-8000-000000000000"


@contextmanager
def archive(settings: Settings) -> Iterator[tuple[TestClient, Seed]]:
    """The seeded archive, with a second user per role in office A (suffix 2) and users of office B
    (suffix _b); a1, a2 (office A) and b1 (office B) are 10年 dossiers whose period ended in 2011."""
    rt = open_runtime(api_settings(settings))
    try:
        add_users(rt)
        add_users(rt, suffix="2")
        add_users(rt, office=OFFICE_B, suffix="_b")
        data = seed(rt)
        with rt.sessions.begin() as s:
            s.execute(
                update(Dossier)
                .where(Dossier.id.in_([data.dossiers[k] for k in ("a1", "a2", "b1")]))
                .values(retention="10年", date_end=date(2000, 1, 1), created_at=datetime(2000, 1, 1, tzinfo=UTC))
            )
    finally:
        rt.close()
    with running(settings, seeded=False) as (client, _):
        yield client, data


def _error(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def _log(settings: Settings, action: str) -> list[tuple[str, str, str | None]]:
    rt = open_runtime(api_settings(settings))
    try:
        with rt.sessions() as s:
            rows = s.scalars(select(AccessLogEntry).where(AccessLogEntry.action == action).order_by(AccessLogEntry.seq))
            return [(e.actor, e.outcome, e.detail.get("code")) for e in rows]
    finally:
        rt.close()


def test_roles_scope_and_the_two_person_rule(settings: Settings) -> None:
    with archive(settings) as (client, data):
        users = ("archivist", "reviewer", "reviewer2", "caseworker", "auditor", "admin", "archivist_b", "reviewer_b")
        h = {name: token(client, name) for name in users}
        a1, a2, a3, b1 = (data.dossiers[k] for k in ("a1", "a2", "a3", "b1"))

        # The list: by permission, and each office its own (auditors see every office).
        assert _error(client.get(f"{API}/due", headers=h["caseworker"])) == (403, "forbidden_role")
        assert _error(client.get(f"{API}/due", headers=h["admin"])) == (403, "forbidden_role")
        due = client.get(f"{API}/due", headers=h["archivist"])
        assert due.status_code == 200 and due.json()["as_of"] == datetime.now(UTC).date().isoformat()
        assert {i["id"] for i in due.json()["items"]} == {a1, a2}
        assert {i["retention_end"] for i in due.json()["items"]} == {"2011-01-01"}
        assert {i["id"] for i in client.get(f"{API}/due", headers=h["auditor"]).json()["items"]} == {a1, a2, b1}
        assert [i["id"] for i in client.get(f"{API}/due", headers=h["reviewer_b"]).json()["items"]] == [b1]

        # Proposals: by permission, in scope, due, well formed.
        body = {"dossier_ids": [a1], "decision": "destroy", "reason": "保管期限届满"}
        assert _error(client.post(f"{API}/appraisals", json=body, headers=h["caseworker"])) == (403, "forbidden_role")
        assert _error(client.post(f"{API}/appraisals", json=body, headers=h["auditor"])) == (403, "forbidden_role")
        other = {**body, "dossier_ids": [b1]}
        assert _error(client.post(f"{API}/appraisals", json=other, headers=h["archivist"])) == (
            404,
            "dossier_not_found",
        )
        never = {**body, "dossier_ids": [a3]}  # no retention period recorded: never due
        assert _error(client.post(f"{API}/appraisals", json=never, headers=h["archivist"])) == (
            422,
            "retention_permanent",
        )
        keep = {**body, "decision": "keep"}
        assert _error(client.post(f"{API}/appraisals", json=keep, headers=h["archivist"])) == (
            422,
            "keep_years_invalid",
        )
        extra = {**body, "approved_by": "reviewer2"}
        assert _error(client.post(f"{API}/appraisals", json=extra, headers=h["archivist"])) == (422, "invalid_request")

        made = client.post(f"{API}/appraisals", json=body, headers=h["reviewer"])
        assert made.status_code == 201, made.text
        appraisal = made.json()
        assert (appraisal["status"], appraisal["proposed_by"], appraisal["dossiers"]) == ("proposed", "reviewer", [a1])
        again = {**body, "decision": "keep", "keep_years": 5}
        assert _error(client.post(f"{API}/appraisals", json=again, headers=h["archivist"])) == (
            422,
            "already_in_appraisal",
        )
        listed = {i["id"]: i for i in client.get(f"{API}/due", headers=h["archivist"]).json()["items"]}
        assert listed[a1]["appraisal"]["id"] == appraisal["id"] and listed[a2]["appraisal"] is None
        # the approver finds it among the open proposals of the office; another office sees none
        waiting = client.get(f"{API}/appraisals", params={"status": "proposed"}, headers=h["reviewer2"]).json()
        assert [a["id"] for a in waiting["items"]] == [appraisal["id"]]
        assert client.get(f"{API}/appraisals", headers=h["reviewer_b"]).json()["items"] == []
        assert _error(client.get(f"{API}/appraisals", headers=h["caseworker"])) == (403, "forbidden_role")

        # The decision: never by the proposer, never without the permission, never out of scope.
        approve = f"{API}/appraisals/{appraisal['id']}/approve"
        assert _error(client.post(approve, headers=h["reviewer"])) == (403, "self_approval_disposition")
        assert _error(client.post(approve, headers=h["archivist"])) == (403, "forbidden_role")
        assert _error(client.post(approve, headers=h["reviewer_b"])) == (404, "appraisal_not_found")
        assert _error(client.post(f"{API}/appraisals/{UNKNOWN}/approve", headers=h["reviewer2"])) == (
            404,
            "appraisal_not_found",
        )
        decline = f"{API}/appraisals/{appraisal['id']}/decline"
        assert _error(client.post(decline, json={"reason": ""}, headers=h["reviewer2"])) == (422, "invalid_request")
        assert client.get(f"/api/v1/dossiers/{a1}", headers=h["caseworker"]).status_code == 200

        approved = client.post(approve, headers=h["reviewer2"])
        assert approved.status_code == 200, approved.text
        out = approved.json()
        assert out["appraisal"]["status"] == "approved" and out["appraisal"]["decided_by"] == "reviewer2"
        register = out["register"]
        assert register["key"] == f"registers/destruction/{register['id']}.json"
        # seeded objects: the page image and the dossier's own original are deleted; the OCR result and
        # the searchable PDF are shared by every seeded dossier
        assert out["disposal"]["totals"] == {"deleted": 2, "shared": 2}
        assert _error(client.post(approve, headers=h["reviewer2"])) == (422, "appraisal_decided")

        # What remains is the register; the dossier is out of everyone's sight.
        assert _error(client.get(f"/api/v1/dossiers/{a1}", headers=h["caseworker"])) == (404, "dossier_not_found")
        assert {i["id"] for i in client.get(f"{API}/due", headers=h["archivist"]).json()["items"]} == {a2}
        url = f"{API}/registers/{register['id']}"
        read = client.get(url, headers=h["auditor"])
        assert read.status_code == 200, read.text
        view = read.json()
        assert view["sha256"] == register["sha256"] and view["totals"] == {"deleted": 2, "shared": 2}
        [entry] = view["document"]["entries"]
        assert (entry["dossier_id"], entry["retention"], entry["retention_end"]) == (a1, "10年", "2011-01-01")
        assert (view["document"]["proposed_by"], view["document"]["approved_by"]) == ("reviewer", "reviewer2")
        assert client.get(url, headers=h["archivist"]).status_code == 200
        assert _error(client.get(url, headers=h["caseworker"])) == (403, "forbidden_role")
        assert _error(client.get(url, headers=h["reviewer_b"])) == (404, "register_not_found")
        assert _error(client.get(f"{API}/registers/{UNKNOWN}", headers=h["auditor"])) == (404, "register_not_found")
        assert client.get(f"{API}/registers/not-an-id", headers=h["auditor"]).status_code == 422

    assert _log(settings, "disposition_approve") == [
        ("reviewer", "denied", "self_approval_disposition"),
        ("archivist", "denied", "forbidden_role"),
        ("reviewer_b", "denied", "appraisal_not_found"),
        ("reviewer2", "denied", "appraisal_not_found"),
        ("reviewer2", "allowed", None),
        ("reviewer2", "denied", "appraisal_decided"),
    ]
    assert _log(settings, "disposition_destroy") == [("reviewer2", "allowed", None)]
    assert _log(settings, "disposition_register") == [
        ("auditor", "allowed", None),
        ("archivist", "allowed", None),
        ("caseworker", "denied", "forbidden_role"),
        ("reviewer_b", "denied", "register_not_found"),
        ("auditor", "denied", "register_not_found"),
    ]
    proposals = _log(settings, "disposition_propose")
    assert ("reviewer", "allowed", None) in proposals and ("archivist", "denied", "already_in_appraisal") in proposals


def test_decline_then_keep_over_http(settings: Settings) -> None:
    with archive(settings) as (client, data):
        h = {name: token(client, name) for name in ("archivist", "reviewer")}
        a2 = data.dossiers["a2"]
        body = {"dossier_ids": [a2], "decision": "keep", "keep_years": 10, "reason": "仍需查考"}
        first = client.post(f"{API}/appraisals", json=body, headers=h["archivist"]).json()
        own = client.post(f"{API}/appraisals/{first['id']}/decline", json={"reason": "撤回"}, headers=h["archivist"])
        assert _error(own) == (403, "forbidden_role")  # archivists do not decide
        declined = client.post(
            f"{API}/appraisals/{first['id']}/decline", json={"reason": "理由不充分"}, headers=h["reviewer"]
        )
        assert declined.status_code == 200, declined.text
        assert (declined.json()["status"], declined.json()["decline_reason"]) == ("declined", "理由不充分")

        second = client.post(f"{API}/appraisals", json=body, headers=h["archivist"])
        assert second.status_code == 201, second.text
        kept = client.post(f"{API}/appraisals/{second.json()['id']}/approve", headers=h["reviewer"])
        assert kept.status_code == 200, kept.text
        out = kept.json()
        assert out["register"] is None and out["disposal"] is None
        assert out["extended_until"] == {a2: "2021-01-01"}  # 2011-01-01 + 10 years
        due = client.get(f"{API}/due", headers=h["archivist"]).json()["items"]
        assert a2 in {i["id"] for i in due}  # 2021 is past as well: due again
        third = client.post(f"{API}/appraisals", json={**body, "keep_years": 100}, headers=h["archivist"]).json()
        assert client.post(f"{API}/appraisals/{third['id']}/approve", headers=h["reviewer"]).status_code == 200
        due = client.get(f"{API}/due", headers=h["archivist"]).json()["items"]
        assert a2 not in {i["id"] for i in due}  # kept to 2121
