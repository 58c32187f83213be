"""The default engine: PaddleOCR 3.x on CPU with PP-OCRv4 mobile weights, fully offline."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np

from ocr.engine import OcrLine
from ocr.paddle_models import DET_NAME, REC_NAME, ModelDirs, ensure_model_dirs


class PaddleEngine:
    name = "paddle-ppocrv4-mobile"

    def __init__(
        self,
        cache_dir: Path,
        threads: int = 1,
        det_limit_side_len: int = 960,
        model_dir: Path | None = None,
    ) -> None:
        os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
        os.environ.setdefault("PADDLE_PDX_MODEL_SOURCE", "BOS")
        # paddle warns, on import and on model creation, that no compiler cache is installed
        warnings.filterwarnings("ignore", message=".*ccache.*")
        from paddleocr import PaddleOCR  # heavy import: only where an engine is built

        logging.getLogger("paddlex").setLevel(logging.WARNING)  # it prints each model it creates

        if model_dir is not None:
            dirs = ModelDirs(det=model_dir / "det", rec=model_dir / "rec")
            det_name = _model_name(dirs.det, DET_NAME)
            rec_name = _model_name(dirs.rec, REC_NAME)
            self.name = configured_name(model_dir)
        else:
            dirs = ensure_model_dirs(cache_dir)
            det_name, rec_name = DET_NAME, REC_NAME
        self._ocr = PaddleOCR(
            text_detection_model_name=det_name,
            text_detection_model_dir=str(dirs.det),
            text_recognition_model_name=rec_name,
            text_recognition_model_dir=str(dirs.rec),
            use_doc_orientation_classify=False,
            use_doc_unwarping=False,
            use_textline_orientation=False,
            text_det_limit_side_len=det_limit_side_len,
            text_det_limit_type="max",
            enable_mkldnn=True,
            cpu_threads=threads,
            device="cpu",
        )

    def recognize(self, image: np.ndarray) -> list[OcrLine]:
        lines: list[OcrLine] = []
        for res in self._ocr.predict(image):
            for text, score, poly in zip(res["rec_texts"], res["rec_scores"], res["rec_polys"], strict=True):
                if not text:
                    continue
                pts = np.asarray(poly, dtype=float).reshape(-1, 2)
                box = tuple((float(x), float(y)) for x, y in pts[:4])
                lines.append(OcrLine(text=text, box=box, confidence=float(score)))  # type: ignore[arg-type]
        return lines


def configured_name(model_dir: Path) -> str:
    """The engine identity for models from ``ARCHIVE_OCR_MODEL_DIR`` (``det/`` and ``rec/``)."""
    return f"paddle-{_model_name(model_dir / 'det', DET_NAME)}+{_model_name(model_dir / 'rec', REC_NAME)}"


def _model_name(model_dir: Path, default: str) -> str:
    """The model name an ``inference.yml`` declares, so a configured folder needs no code change."""
    import yaml

    cfg_path = model_dir / "inference.yml"
    if not cfg_path.exists():
        return default
    cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8")) or {}
    return str(cfg.get("Global", {}).get("model_name", default))
