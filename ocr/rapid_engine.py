"""The alternative engine: RapidOCR 3.x (PP-OCRv6 small on ONNX Runtime, weights inside its wheel)."""

from __future__ import annotations

import numpy as np

from ocr.engine import OcrLine


class RapidEngine:
    name = "rapidocr-ppocrv6-small"

    def __init__(self, threads: int = 1, det_limit_side_len: int = 960) -> None:
        from rapidocr import RapidOCR  # heavy import: only where an engine is built

        self._ocr = RapidOCR(
            params={
                "Global.log_level": "warning",
                "Global.use_cls": False,  # page orientation is decided once per page, not per line
                "Global.max_side_len": max(det_limit_side_len, 2000),
                "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            }
        )

    def recognize(self, image: np.ndarray) -> list[OcrLine]:
        out = self._ocr(image)
        if out.boxes is None or out.txts is None:
            return []
        lines = []
        for box, text, score in zip(out.boxes, out.txts, out.scores, strict=True):
            if not text:
                continue
            pts = np.asarray(box, dtype=float).reshape(-1, 2)
            lines.append(
                OcrLine(
                    text=str(text),
                    box=tuple((float(x), float(y)) for x, y in pts[:4]),  # type: ignore[arg-type]
                    confidence=float(score),
                )
            )
        return lines
