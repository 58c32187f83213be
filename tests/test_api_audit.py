"""Auditors over HTTP: query with filters, export CSV/JSON with the verification attached, verify,
the unusual-access report; and the shutdown checkpoint."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import text

from archive.audit.log import CHECKPOINTS
from archive.runtime import open_runtime
from archive.settings import Settings
from tests.api_client import running, token
from tests.api_seed import PERSON_A

API = "/api/v1"


def test_auditor_queries_exports_and_verifies(settings: Settings) -> None:
    with running(settings) as (client, data):
        caseworker, auditor = token(client, "caseworker"), token(client, "auditor")
        a1, a2, b1 = data.dossiers["a1"], data.dossiers["a2"], data.dossiers["b1"]
        for dossier in (a1, a2, b1):
            client.get(f"{API}/dossiers/{dossier}", headers=caseworker)
        client.get(f"{API}/records", params={"person_id_number": PERSON_A}, headers=caseworker)

        by_dossier = client.get(f"{API}/audit/entries", params={"dossier_id": a1}, headers=auditor).json()["items"]
        assert [(e["action"], e["actor"], e["targets"]) for e in by_dossier] == [("dossier_open", "caseworker", [a1])]
        denied = client.get(
            f"{API}/audit/entries", params={"outcome": "denied", "actor": "caseworker"}, headers=auditor
        ).json()["items"]
        assert [e["targets"] for e in denied] == [[b1]]
        by_person = client.get(f"{API}/audit/entries", params={"person_id_number": PERSON_A}, headers=auditor).json()
        kinds = sorted(e["action"] for e in by_person["items"])
        assert kinds == ["dossier_open", "dossier_open", "search"]  # a1 and b1 are PERSON_A's; the lookup names them
        paged = client.get(f"{API}/audit/entries", params={"limit": 2}, headers=auditor).json()
        assert len(paged["items"]) == 2 and paged["next"]
        assert paged["items"][0]["seq"] > paged["items"][1]["seq"]  # newest first

        assert client.get(f"{API}/audit/export", headers=auditor).status_code == 422  # a reason is required
        assert client.get(f"{API}/audit/export", params={"reason": "季度检查"}, headers=caseworker).status_code == 403
        exported = client.get(
            f"{API}/audit/export", params={"reason": "季度检查", "action": "dossier_open"}, headers=auditor
        )
        assert exported.status_code == 200 and exported.headers["x-audit-verification"] == "intact"
        assert exported.content.startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert len(rows) == 1 + 3  # header + the three opens
        as_json = client.get(f"{API}/audit/export", params={"reason": "季度检查", "format": "json"}, headers=auditor)
        document = json.loads(as_json.content)
        assert document["verification"]["ok"] is True and document["entries"]
        verified = client.get(f"{API}/audit/verify", headers=auditor).json()
        assert verified["ok"] is True and verified["entries"] >= 8
        exports = client.get(f"{API}/audit/entries", params={"action": "export"}, headers=auditor).json()["items"]
        assert sorted((e["actor"], e["outcome"], e["reason"]) for e in exports) == [
            ("auditor", "allowed", "季度检查"),
            ("auditor", "allowed", "季度检查"),
            ("caseworker", "denied", ""),
        ]


def test_tampering_shows_in_verify_and_export(settings: Settings) -> None:
    with running(settings) as (client, data):
        client.get(f"{API}/dossiers/{data.dossiers['a1']}", headers=token(client, "caseworker"))
        auditor = token(client, "auditor")
        rt = open_runtime(settings)
        with rt.db.begin() as conn:  # a rogue DBA: drop the guard, rewrite who opened the dossier
            if conn.dialect.name == "sqlite":
                conn.execute(text("DROP TRIGGER access_log_no_update"))
            else:
                conn.execute(text("DROP TRIGGER access_log_no_change ON access_log"))
            conn.execute(text("UPDATE access_log SET actor = 'someone_else' WHERE action = 'dossier_open'"))
        rt.close()
        verified = client.get(f"{API}/audit/verify", headers=auditor).json()
        assert verified["ok"] is False and verified["code"] == "entry_altered"
        exported = client.get(f"{API}/audit/export", params={"reason": "核查", "format": "json"}, headers=auditor)
        assert exported.headers["x-audit-verification"] == "entry_altered"
        assert json.loads(exported.content)["verification"]["first_bad"] == verified["first_bad"]


def test_unusual_access_report_flags_repeated_denials(settings: Settings) -> None:
    with running(settings) as (client, data):
        caseworker = token(client, "caseworker")
        for _ in range(6):
            assert client.get(f"{API}/dossiers/{data.dossiers['b1']}", headers=caseworker).status_code == 404
        report = client.get(f"{API}/audit/unusual", headers=token(client, "auditor"))
        assert report.status_code == 200
        denied = [f for f in report.json()["findings"] if f["kind"] == "repeated_denied"]
        assert [(f["actor"], f["count"]) for f in denied] == [("caseworker", 6)]
        bad = client.get(f"{API}/audit/unusual", params={"since": "yesterday"}, headers=token(client, "auditor"))
        assert bad.status_code == 422


def test_shutdown_writes_a_checkpoint_of_the_whole_log(settings: Settings) -> None:
    with running(settings) as (client, _):
        token(client, "caseworker")
        token(client, "auditor")
    rt = open_runtime(settings)
    keys = list(rt.store.keys(CHECKPOINTS))
    with rt.db.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM access_log")).scalar_one()
    rt.close()
    assert count >= 2 and any(json.loads(open_store_object(settings, k))["seq"] == count for k in keys)


def open_store_object(settings: Settings, key: str) -> bytes:
    rt = open_runtime(settings)
    try:
        return rt.store.get(key)
    finally:
        rt.close()


def test_cli_export_and_unusual_share_the_service(settings: Settings, monkeypatch, tmp_path) -> None:
    from click.testing import CliRunner

    from archive.cli import main

    monkeypatch.setattr("archive.cli.get_settings", lambda: settings)
    with running(settings) as (client, data):
        caseworker = token(client, "caseworker")
        for _ in range(5):
            client.get(f"{API}/dossiers/{data.dossiers['b1']}", headers=caseworker)
    out = tmp_path / "log.json"
    runner = CliRunner()
    done = runner.invoke(main, ["audit", "export", "--format", "json", "--reason", "年度审计", "-o", str(out)])
    assert done.exit_code == 0, done.output
    document = json.loads(out.read_bytes())
    assert document["verification"]["ok"] and len(document["entries"]) >= 6
    report = runner.invoke(main, ["audit", "unusual"])
    assert report.exit_code == 0 and "repeated_denied" in report.output


def test_a_bad_export_filter_is_refused_before_streaming(settings: Settings) -> None:
    with running(settings) as (client, _):
        auditor = token(client, "auditor")
        for params in ({"dossier_id": "x" * 100}, {"since": "not-a-time"}, {"actor": "a" * 250}):
            refused = client.get(f"{API}/audit/export", params={"reason": "核查", **params}, headers=auditor)
            assert refused.status_code == 422, params
            assert refused.json()["error"]["code"] in ("bad_filter", "bad_time", "invalid_request")
