"""Build the engine named by the settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ocr.engine import OcrEngine

ENGINE_NAMES = ("paddle", "rapid")


@dataclass(frozen=True)
class EngineConfig:
    """Everything a worker process needs to build its engine (picklable)."""

    name: str
    threads: int
    cache_dir: Path
    det_limit_side_len: int = 960
    model_dir: Path | None = None


def create_engine(cfg: EngineConfig) -> OcrEngine:
    if cfg.name == "paddle":
        from ocr.paddle_engine import PaddleEngine

        return PaddleEngine(cfg.cache_dir, cfg.threads, cfg.det_limit_side_len, cfg.model_dir)
    if cfg.name == "rapid":
        from ocr.rapid_engine import RapidEngine

        return RapidEngine(cfg.threads, cfg.det_limit_side_len)
    raise ValueError(f"unknown OCR engine {cfg.name!r}; choose one of {', '.join(ENGINE_NAMES)}")
