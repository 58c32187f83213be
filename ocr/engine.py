"""The OCR engine interface: a page image in, text lines with boxes and confidences out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

Point = tuple[float, float]


@dataclass(frozen=True)
class OcrLine:
    """One recognised text fragment; ``box`` is four corners in page pixels, clockwise from top-left."""

    text: str
    box: tuple[Point, Point, Point, Point]
    confidence: float

    @property
    def left(self) -> float:
        return min(p[0] for p in self.box)

    @property
    def right(self) -> float:
        return max(p[0] for p in self.box)

    @property
    def top(self) -> float:
        return min(p[1] for p in self.box)

    @property
    def bottom(self) -> float:
        return max(p[1] for p in self.box)


@dataclass
class PageOcr:
    """The OCR result of one page, in reading order, on the upright image."""

    lines: list[OcrLine]
    rotation: int  # degrees clockwise the scan was turned to make it upright
    width: int
    height: int
    engine: str
    text_lines: list[str] = field(default_factory=list)  # lines of the page, reading order

    @property
    def text(self) -> str:
        return "\n".join(self.text_lines)

    @property
    def mean_confidence(self) -> float | None:
        """Character-weighted mean confidence; None for a page without text."""
        chars = sum(len(line.text) for line in self.lines)
        if not chars:
            return None
        return sum(line.confidence * len(line.text) for line in self.lines) / chars

    def to_json(self) -> dict:
        return {
            "engine": self.engine,
            "rotation": self.rotation,
            "width": self.width,
            "height": self.height,
            "text_lines": self.text_lines,
            "lines": [
                {"text": ln.text, "box": [list(p) for p in ln.box], "confidence": round(ln.confidence, 5)}
                for ln in self.lines
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> PageOcr:
        lines = [
            OcrLine(
                text=item["text"],
                box=tuple(tuple(p) for p in item["box"]),  # type: ignore[arg-type]
                confidence=float(item["confidence"]),
            )
            for item in data["lines"]
        ]
        return cls(
            lines=lines,
            rotation=int(data["rotation"]),
            width=int(data["width"]),
            height=int(data["height"]),
            engine=data["engine"],
            text_lines=list(data["text_lines"]),
        )


class OcrEngine(Protocol):
    """What every engine implements.  ``image`` is an upright-or-not BGR uint8 array."""

    name: str

    def recognize(self, image: np.ndarray) -> list[OcrLine]: ...
