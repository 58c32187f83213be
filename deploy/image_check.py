"""Build-time check of the image (deploy/Dockerfile runs it with no network, as the image's user).

- the application imports (API, CLI, both storage and search backends);
- the configured OCR engine (PaddleOCR by default) builds from the weights inside the PyPI wheels
  and reads the title of the bundled sample batch's second page, so nothing is downloaded at run
  time;
- the PostgreSQL client tools that ``archive backup`` calls are on PATH.

Exit status 0 when all hold; anything else fails the build.
"""

from __future__ import annotations

import shutil
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np


def main() -> None:
    import api.app  # noqa: F401
    import archive.cli  # noqa: F401
    import archive.storage.minio_store  # noqa: F401
    import search.elastic  # noqa: F401
    from archive.settings import Settings
    from ocr.registry import EngineConfig, create_engine

    for tool in ("pg_dump", "pg_restore"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found on PATH (archive backup needs it)")

    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        engine = create_engine(
            EngineConfig(
                name=settings.ocr_engine,
                threads=1,
                cache_dir=settings.cache_dir,
                det_limit_side_len=settings.ocr_det_limit_side_len,
            )
        )
        import pypdfium2

        pdf = pypdfium2.PdfDocument(resources.files("archive") / "demo" / "sample-batch.pdf")
        page = np.asarray(pdf[1].render(scale=150 / 72).to_pil().convert("RGB"))
        lines = [line.text for line in engine.recognize(page)]
    if not any("社会保险" in text for text in lines):
        raise SystemExit(f"OCR did not read the sample page's title: {lines[:5]}")
    print(f"image check: {settings.ocr_engine} OCR built offline and read {len(lines)} lines of the sample page")


if __name__ == "__main__":
    main()
