"""Train the built-in classifier shipped in the package, from the generated corpus only.

    python scripts/train_classifier.py

Writes ``archive/classify/builtin/classifier-builtin.joblib``.  The dev dossiers are never used.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive.classify.model import save, train  # noqa: E402
from archive.classify.store import BUILTIN, BUILTIN_CORPUS, generated_examples  # noqa: E402
from archive.taxonomy import load_taxonomy  # noqa: E402


def main() -> None:
    examples = generated_examples(**BUILTIN_CORPUS)
    bundle = train(examples, load_taxonomy(), version="builtin-1")
    path, sha = save(bundle, BUILTIN.parent / "tmp")
    shutil.move(path, BUILTIN)
    (BUILTIN.parent / "tmp").rmdir()
    print(
        f"{BUILTIN} sha256={sha} examples={bundle['examples']} alpha={bundle['alpha']} "
        f"beta={bundle['beta']} temperature={bundle['temperature']}"
    )


if __name__ == "__main__":
    main()
