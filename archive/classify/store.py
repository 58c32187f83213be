"""Which classifier model is in use, and training a new one.

Order: ``ARCHIVE_CLASSIFIER_MODEL`` if set; else the model ``archive classifier train`` last
activated (``$ARCHIVE_HOME/models/current``); else the built-in model shipped in the package,
trained on the generated corpus (``scripts/generate_corpus.py``), never on real dossiers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from archive.classify.model import Classifier, Example, load, save, train
from archive.settings import Settings
from archive.taxonomy import Taxonomy, load_taxonomy
from archive.taxonomy_edit import taxonomy_path

BUILTIN = Path(__file__).with_name("builtin") / "classifier-builtin.joblib"
BUILTIN_CORPUS = {"n_per_type": 120, "seed": 20261123}


def models_dir(settings: Settings) -> Path:
    return settings.home / "models"


def active_model_path(settings: Settings) -> Path:
    if settings.classifier_model is not None:
        return settings.classifier_model
    pointer = models_dir(settings) / "current"
    if pointer.is_file():
        return models_dir(settings) / pointer.read_text(encoding="utf-8").strip()
    return BUILTIN


def taxonomy_for(settings: Settings) -> Taxonomy:
    """The taxonomy in use: ``taxonomy_file``, else the one an administrator saved under the home
    (``archive.taxonomy_edit``), else the one shipped with the package."""
    return load_taxonomy(taxonomy_path(settings))


def _mtime(path: Path | None) -> int:
    return path.stat().st_mtime_ns if path is not None and path.is_file() else 0


@lru_cache(maxsize=4)
def _load_cached(path: Path, mtime: float, taxonomy_file: Path | None, taxonomy_mtime: int) -> Classifier:
    return load(path, load_taxonomy(taxonomy_file))


def load_classifier(settings: Settings) -> Classifier:
    """The active model, with the evidence of the taxonomy in use (an edited taxonomy is picked up)."""
    path = active_model_path(settings)
    if not path.is_file():
        raise FileNotFoundError(f"找不到分类模型文件 {path}；请运行 archive classifier train")
    taxonomy_file = taxonomy_path(settings)
    return _load_cached(path, path.stat().st_mtime, taxonomy_file, _mtime(taxonomy_file))


def model_labels(settings: Settings) -> frozenset[str]:
    """The business types the active model can predict (empty when no model file is there)."""
    try:
        return frozenset(str(label) for label in load_classifier(settings).labels)
    except (FileNotFoundError, ValueError):  # no usable model: nothing it predicts can be orphaned
        return frozenset()


def generated_examples(n_per_type: int, seed: int) -> list[Example]:
    from scripts.generate_corpus import generate_corpus

    return [(doc["pages"], doc["label"]) for doc in generate_corpus(n_per_type=n_per_type, seed=seed)]


def train_and_activate(settings: Settings, confirmed: list[Example]) -> tuple[Path, str, dict]:
    """Train on the generated corpus plus human-confirmed dossiers; make the new model current."""
    taxonomy = taxonomy_for(settings)
    examples = generated_examples(**BUILTIN_CORPUS) + confirmed
    version = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    bundle = train(examples, taxonomy, version=version)
    path, sha = save(bundle, models_dir(settings))
    (models_dir(settings) / "current").write_text(path.name, encoding="utf-8")
    return path, sha, bundle
