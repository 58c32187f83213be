"""The classifier: trained from generated text only, versioned, its hash recorded with decisions."""

from __future__ import annotations

import hashlib
import json

from archive.classify.model import load, save, train
from archive.classify.store import BUILTIN, generated_examples, load_classifier
from archive.settings import Settings
from archive.taxonomy import load_taxonomy
from tests.conftest import FIXTURES


def _fixture_pages(name: str) -> tuple[list[str], str]:
    truth = json.loads((FIXTURES / "synthetic" / name).read_text(encoding="utf-8"))
    return ["\n".join(p["lines"]) for p in truth["pages"]], truth["business_type"]


def test_builtin_model_classifies_fixtures_and_records_its_hash(tmp_path) -> None:
    model = load_classifier(Settings(home=tmp_path))
    assert model.sha256 == hashlib.sha256(BUILTIN.read_bytes()).hexdigest()
    for name in ("dossier-001.json", "dossier-002.json", "dossier-003.json"):
        pages, label = _fixture_pages(name)
        decision = model.classify(pages)
        assert decision.business_type == label
        assert decision.confidence >= 0.9
        assert [c[0] for c in decision.candidates][0] == label and len(decision.candidates) == 3
        assert decision.to_json()["model_sha256"] == model.sha256


def test_unrelated_text_is_not_confidently_typed(tmp_path) -> None:
    model = load_classifier(Settings(home=tmp_path))
    decision = model.classify(["关于召开年度工作总结会议的通知\n各科室：定于下周一上午九点在三楼会议室召开会议。"])
    assert decision.business_type == "未分类" or decision.confidence < 0.9


def test_words_are_not_tokens(tmp_path) -> None:
    """Character n-grams: a form title inside unspaced text is still seen."""
    model = load_classifier(Settings(home=tmp_path))
    decision = model.classify(["失业保险金申领登记表姓名王五公民身份号码申领原因合同到期"])
    assert decision.business_type == "失业保险金申领"


def test_train_save_load_round_trip(tmp_path) -> None:
    taxonomy = load_taxonomy()
    examples = generated_examples(n_per_type=12, seed=5)
    bundle = train(examples, taxonomy, version="t1")
    path, sha = save(bundle, tmp_path)
    assert path.name == "classifier-t1.joblib" and hashlib.sha256(path.read_bytes()).hexdigest() == sha
    model = load(path, taxonomy)
    assert model.version == "t1" and set(model.labels) == set(taxonomy.names) | {"未分类"}
    pages, label = _fixture_pages("dossier-003.json")
    assert model.classify(pages).business_type == label


def test_classifier_train_command_activates_a_new_model(tmp_path, monkeypatch) -> None:
    from click.testing import CliRunner

    from archive.cli import main
    from archive.settings import get_settings

    monkeypatch.setenv("ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("archive.classify.store.BUILTIN_CORPUS", {"n_per_type": 10, "seed": 3})
    get_settings.cache_clear()
    runner = CliRunner()
    trained = runner.invoke(main, ["classifier", "train"])
    info = runner.invoke(main, ["classifier", "info"])
    get_settings.cache_clear()
    assert trained.exit_code == 0, trained.output
    assert "人工确认 0" in trained.output
    current = (tmp_path / "home" / "models" / "current").read_text().strip()
    model_file = tmp_path / "home" / "models" / current
    assert model_file.is_file()
    assert hashlib.sha256(model_file.read_bytes()).hexdigest() in info.output
