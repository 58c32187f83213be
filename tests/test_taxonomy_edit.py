"""Editing the taxonomy: a valid text is saved atomically and used at once (the running app and
``taxonomy_for``), the previous version is kept, an invalid text is refused with its line and nothing
written, and a business type that dossiers, training examples or the classifier use cannot be
dropped, renamed or re-coded."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from archive.classify.store import load_classifier, model_labels, taxonomy_for
from archive.errors import Invalid
from archive.identity import users
from archive.records.models import AccessLogEntry, Batch, Dossier, Original
from archive.runtime import Runtime, open_runtime
from archive.settings import Settings
from archive.taxonomy_edit import (
    builtin_text,
    current,
    history,
    history_dir,
    save_taxonomy,
    sha256_text,
    target_path,
    taxonomy_path,
)
from tests.api_client import running, token
from tests.api_seed import PASSWORD

API = "/api/v1"
BUILTIN = builtin_text()
NEW_TYPE = """
  - code: TEST_AFFAIR
    short: TEST
    name: 测试业务
    insurance_line: 综合
    category: 管理类
    retention: 30年
    form_titles:
      - 测试业务登记表
    keywords:
      - 测试业务
    key_fields: [person_name]
"""
WITH_NEW = BUILTIN + NEW_TYPE


def _line(text: str, content: str) -> int:
    return text.splitlines().index(content) + 1


def _add_dossier(rt: Runtime, business_type: str) -> None:
    with rt.sessions.begin() as session:
        batch = Batch(created_by="t", office="370303", status="completed", fingerprint="f", engine="test")
        session.add(batch)
        session.flush()
        original = Original(
            sha256="0" * 64, size=1, media_type="application/pdf", filename="a.pdf", object_key="k", batch_id=batch.id
        )
        session.add(original)
        session.flush()
        session.add(
            Dossier(
                batch_id=batch.id,
                original_id=original.id,
                seq_in_source=1,
                office="370303",
                business_type=business_type,
                status="archived",
            )
        )


def _save(rt: Runtime, text: str, **options):
    with rt.sessions() as session:
        return save_taxonomy(session, rt.settings, text, **options)


def test_a_valid_text_is_saved_used_and_the_previous_version_kept(runtime: Runtime) -> None:
    settings = runtime.settings
    assert taxonomy_path(settings) is None and "测试业务" not in taxonomy_for(settings)
    assert "测试业务" not in load_classifier(settings).evidence.titles  # cached from here on
    saved = _save(runtime, WITH_NEW, base_sha256=current(settings).sha256, model_labels=model_labels(settings))
    target = settings.home / "taxonomy.yaml"
    assert saved.path == target == target_path(settings) and target.read_text(encoding="utf-8") == WITH_NEW
    assert saved.sha256 == sha256_text(WITH_NEW) and saved.previous_sha256 == sha256_text(BUILTIN)
    assert taxonomy_path(settings) == target
    assert taxonomy_for(settings).by_name("测试业务").retention == "30年"
    assert "测试业务" in load_classifier(settings).evidence.titles  # the classifier's evidence follows
    kept = history(settings)
    assert [p.name for p in kept] == [saved.previous_copy.name] and kept[0].name.endswith("-builtin.yaml")
    assert kept[0].read_text(encoding="utf-8") == BUILTIN
    second = WITH_NEW.replace("      - 测试业务\n", "      - 测试业务\n      - 测试专用关键词\n")
    _save(runtime, second, base_sha256=sha256_text(WITH_NEW))
    kept = history(settings)
    assert len(kept) == 2 and kept[0].read_text(encoding="utf-8") == WITH_NEW  # newest first
    assert "测试专用关键词" in taxonomy_for(settings).by_name("测试业务").keywords
    assert not list(target.parent.glob(".taxonomy.yaml.*.tmp"))  # no temporary file left behind


@pytest.mark.parametrize(
    ("text", "line_of", "words"),
    [
        (BUILTIN.replace("    short: UNIT\n", "\tshort: UNIT\n"), "\tshort: UNIT", "YAML 格式错误"),
        (
            BUILTIN.replace(
                "    name: 工伤认定\n    insurance_line: 工伤\n", "    name: 工伤认定\n    insurance_line: 社保\n"
            ),
            "  - code: INJURY_RECOGNITION",
            "险种“社保”无效",
        ),
        (WITH_NEW.replace("name: 测试业务", "name: 单位参保登记"), "  - code: TEST_AFFAIR", "重复"),
        (WITH_NEW.replace("short: TEST", "short: T1"), "  - code: TEST_AFFAIR", "简码"),
    ],
)
def test_an_invalid_text_is_refused_with_its_line_and_nothing_is_written(
    runtime: Runtime, text: str, line_of: str, words: str
) -> None:
    with pytest.raises(Invalid) as caught:
        _save(runtime, text)
    assert caught.value.code == "taxonomy_invalid"
    assert f"第 {_line(text, line_of)} 行" in caught.value.message and words in caught.value.message
    settings = runtime.settings
    assert not (settings.home / "taxonomy.yaml").exists() and not history_dir(settings).exists()
    assert taxonomy_path(settings) is None


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_empty_and_shapeless_texts_are_refused(runtime: Runtime) -> None:
    for text, words in (("  \n", "为空"), ("types: 1\n", "types 列表"), ("- a\n- b\n", "types 列表")):
        with pytest.raises(Invalid) as caught:
            _save(runtime, text)
        assert caught.value.code == "taxonomy_invalid" and words in caught.value.message
    assert not (runtime.settings.home / "taxonomy.yaml").exists()


def test_a_type_in_use_cannot_be_dropped_renamed_or_recoded(runtime: Runtime) -> None:
    settings = runtime.settings
    _save(runtime, WITH_NEW)
    _add_dossier(runtime, "测试业务")
    refusals = {
        "dropped": (BUILTIN, "“测试业务”不能删除（仍被 1 个案卷 使用）"),
        "renamed": (WITH_NEW.replace("name: 测试业务", "name: 测试事项"), "“测试业务”不能改名为“测试事项”"),
        "recoded": (
            WITH_NEW.replace("short: TEST", "short: TSTX"),
            "代码不能由 TEST_AFFAIR/TEST 改为 TEST_AFFAIR/TSTX",
        ),
    }
    for text, words in refusals.values():
        with pytest.raises(Invalid) as caught:
            _save(runtime, text, model_labels=model_labels(settings))
        assert caught.value.code == "taxonomy_type_in_use" and words in caught.value.message
        assert (settings.home / "taxonomy.yaml").read_text(encoding="utf-8") == WITH_NEW  # unchanged
        assert len(history(settings)) == 1
    # The classifier predicts every built-in type: dropping one (no dossier uses it) would break ingest.
    without_card = WITH_NEW.replace("name: 社会保障卡申领", "name: 社保卡申领")
    with pytest.raises(Invalid) as model:
        _save(runtime, without_card, model_labels=model_labels(settings))
    assert "“社会保障卡申领”不能改名为“社保卡申领”（仍被 当前分类模型 使用）" in model.value.message
    # What is not in use may change: more keywords for the type in use, a built-in type the model lacks.
    _save(runtime, WITH_NEW.replace("      - 测试业务\n", "      - 测试业务\n      - 新关键词\n"))
    _save(runtime, without_card.replace("      - 测试业务\n", "      - 测试业务\n      - 新关键词\n"), model_labels=[])
    assert "社保卡申领" in taxonomy_for(settings) and "测试业务" in taxonomy_for(settings)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_an_edit_over_a_version_changed_since_is_refused(runtime: Runtime) -> None:
    _save(runtime, WITH_NEW)
    with pytest.raises(Invalid) as caught:
        _save(runtime, WITH_NEW + "\n# mine\n", base_sha256=sha256_text(BUILTIN))
    assert caught.value.code == "taxonomy_changed"
    assert (runtime.settings.home / "taxonomy.yaml").read_text(encoding="utf-8") == WITH_NEW


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_configured_taxonomy_file_is_replaced_in_place(settings: Settings, tmp_path) -> None:
    configured = tmp_path / "office" / "my-taxonomy.yaml"
    configured.parent.mkdir()
    configured.write_text(WITH_NEW, encoding="utf-8")
    settings = settings.model_copy(update={"taxonomy_file": configured})
    rt = open_runtime(settings)
    try:
        assert taxonomy_path(settings) == configured and "测试业务" in taxonomy_for(settings)
        changed = WITH_NEW.replace("retention: 30年", "retention: 50年")
        saved = _save(rt, changed)
    finally:
        rt.close()
    assert saved.path == configured and configured.read_text(encoding="utf-8") == changed
    assert saved.previous_copy.parent == configured.parent / "taxonomy-history"
    assert (
        saved.previous_copy.name.startswith("my-taxonomy-")
        and saved.previous_copy.read_text(encoding="utf-8") == WITH_NEW
    )
    assert not (settings.home / "taxonomy.yaml").exists()
    assert taxonomy_for(settings).by_name("测试业务").retention == "50年"


# -- the API -------------------------------------------------------------------------------------


def test_saving_through_the_api_takes_effect_in_the_running_app(settings: Settings) -> None:
    with running(settings) as (client, seed):
        admin = token(client, "admin")
        reviewer = token(client, "reviewer")
        before = client.get(f"{API}/system/taxonomy", headers=admin).json()
        assert before["source"] == "builtin" and before["path"] is None and before["text"] == BUILTIN
        assert "测试业务" not in [t["name"] for t in before["types"]]
        correct = f"{API}/review/{seed.dossiers['r1']}/correct"
        unknown = client.post(correct, headers=reviewer, json={"business_type": "测试业务"})
        assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_business_type"

        bad = client.put(f"{API}/system/taxonomy", headers=admin, json={"text": "types:\n  - [\n"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "taxonomy_invalid"
        assert "第 3 行" in bad.json()["error"]["message"]
        saved = client.put(
            f"{API}/system/taxonomy", headers=admin, json={"text": WITH_NEW, "base_sha256": before["sha256"]}
        )
        assert saved.status_code == 200, saved.text
        assert "已保存" in saved.json()["message"] and saved.json()["types"] == 13
        assert saved.json()["previous_sha256"] == before["sha256"]

        after = client.get(f"{API}/system/taxonomy", headers=admin).json()
        assert after["source"] == "file" and after["sha256"] == sha256_text(WITH_NEW)
        assert "测试业务" in [t["name"] for t in after["types"]]
        corrected = client.post(correct, headers=reviewer, json={"business_type": "测试业务"})
        assert corrected.status_code == 200 and corrected.json()["business_type"] == "测试业务"
        in_use = client.put(f"{API}/system/taxonomy", headers=admin, json={"text": BUILTIN})
        assert in_use.status_code == 422 and in_use.json()["error"]["code"] == "taxonomy_type_in_use"

        stale = client.put(
            f"{API}/system/taxonomy", headers=admin, json={"text": WITH_NEW, "base_sha256": before["sha256"]}
        )
        assert stale.status_code == 422 and stale.json()["error"]["code"] == "taxonomy_changed"
        caseworker = client.put(f"{API}/system/taxonomy", headers=token(client, "caseworker"), json={"text": BUILTIN})
        assert caseworker.status_code == 403 and caseworker.json()["error"]["code"] == "forbidden_role"
        rt = client.app.state.archive.rt
        with rt.sessions.begin() as session:
            users.add_user(session, "admin370303", "admin", "370303", PASSWORD, "system:test")
        local = client.put(f"{API}/system/taxonomy", headers=token(client, "admin370303"), json={"text": WITH_NEW})
        assert local.status_code == 403 and local.json()["error"]["code"] == "taxonomy_admin_wide_only"
        with rt.sessions() as session:
            entries = session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "admin")).all()
        saves = [
            (e.actor, e.outcome, e.detail.get("code")) for e in entries if e.detail.get("change") == "taxonomy_save"
        ]
        assert ("admin", "allowed", None) in saves
        assert {c for _, o, c in saves if o == "denied"} == {
            "taxonomy_invalid",
            "taxonomy_type_in_use",
            "taxonomy_changed",
            "taxonomy_admin_wide_only",
        }
    # A restarted app reads the saved taxonomy.
    with running(settings, seeded=False) as (client, _):
        assert "测试业务" in client.app.state.archive.taxonomy
