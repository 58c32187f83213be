"""The ``archive`` command: report contract, exit status, summary."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from archive.cli import main
from archive.settings import get_settings
from tests.conftest import FIXTURES, settled

CONTRACT = {
    "source",
    "dossier",
    "archive_number",
    "status",
    "business_type",
    "confidence",
    "pages",
    "identifiers",
    "problems",
    "seconds",
}


def test_ingest_writes_the_report_contract(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ARCHIVE_OCR_WORKERS", "1")
    get_settings.cache_clear()
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4\n garbage")
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.pdf").write_bytes((FIXTURES / "synthetic" / "dossier-002.pdf").read_bytes())
    (folder / ".hidden.pdf").write_bytes(b"junk")
    report = tmp_path / "report.jsonl"

    result = CliRunner().invoke(main, ["ingest", str(folder), str(bad), "--office", "370303", "--report", str(report)])
    get_settings.cache_clear()

    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in report.read_text(encoding="utf-8").splitlines()]
    assert settled(lines[0]) and lines[1]["status"] == "rejected"
    for line in lines:
        assert set(line) >= CONTRACT
        assert set(line["identifiers"]) >= {"id_numbers", "uscc"}
        assert isinstance(line["seconds"], float)
    good = lines[0]
    assert len(good["dossier"]) == 36 and good["dossier"][14] == "7"  # a UUIDv7, not a counter
    assert [p["number"] for p in good["pages"]] == list(range(1, len(good["pages"]) + 1))
    assert all({"number", "text", "confidence"} <= set(p) for p in good["pages"])
    assert lines[1]["problems"][0]["code"] == "pdf_unreadable"
    shown = {"archived": "已归档", "needs_review": "待审核"}[good["status"]]
    assert shown in result.output and "页/分钟" in result.output


def test_ingest_without_files_is_a_usage_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ARCHIVE_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    result = CliRunner().invoke(main, ["ingest", str(tmp_path)])
    get_settings.cache_clear()
    assert result.exit_code == 2
    assert "没有找到可入库的文件" in result.output


def test_review_cli_enforces_a_second_person(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ARCHIVE_OCR_WORKERS", "0")
    monkeypatch.setenv("ARCHIVE_AUTO_ARCHIVE", "false")  # everything goes to review
    get_settings.cache_clear()
    report = tmp_path / "r.jsonl"
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", str(FIXTURES / "synthetic" / "dossier-001.pdf"), "--report", str(report)])
    assert result.exit_code == 0, result.output
    dossier = json.loads(report.read_text(encoding="utf-8"))["dossier"]

    listed = runner.invoke(main, ["review", "list"])
    assert dossier in listed.output
    refused = runner.invoke(main, ["review", "approve", dossier])
    assert refused.exit_code == 1 and "[self_approval]" in refused.output
    corrected = runner.invoke(main, ["review", "correct", dossier, "--type", "用工备案"])
    assert corrected.exit_code == 0, corrected.output
    shown = json.loads(runner.invoke(main, ["review", "show", dossier]).output)
    get_settings.cache_clear()
    assert shown["status"] == "needs_review" and shown["business_type"] == "用工备案"
    assert [e["action"] for e in shown["history"]] == ["ingested", "corrected"]
    assert shown["history"][0]["actor"] == shown["history"][1]["actor"]  # both system:<os user>
