"""Turn sideways or upside-down scans upright, using the engine's own output as evidence.

An upright page of horizontal Chinese text gives wide boxes read with high confidence.  A page
turned 90/270 degrees gives tall boxes or, often, almost no boxes at all (detectors trained on
horizontal lines miss vertical ones); a page turned 180 degrees gives wide boxes read with low
confidence.  Only pages showing one of those signs are read again at other angles, most likely
angle first, stopping at the first convincing reading; so an upright page costs one pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ocr.engine import OcrEngine, OcrLine
from ocr.images import rotate

SIDEWAYS_SHARE = 0.5  # more tall boxes than this: the lines run vertically
GOOD_CONFIDENCE = 0.90  # character-weighted mean confidence of a convincing reading
SWITCH_MARGIN = 1.10  # another angle must read this much more confident text to win


@dataclass
class Reading:
    rotation: int
    image: np.ndarray
    lines: list[OcrLine]

    @property
    def score(self) -> float:
        """Character-weighted mean confidence."""
        chars = sum(len(ln.text) for ln in self.lines)
        if not chars:
            return 0.0
        return sum(ln.confidence * len(ln.text) for ln in self.lines) / chars

    @property
    def confident_chars(self) -> float:
        """How much text was read, weighted by confidence."""
        return sum(ln.confidence * len(ln.text) for ln in self.lines)

    @property
    def tall_share(self) -> float:
        multi = [ln for ln in self.lines if len(ln.text) >= 2]
        if not multi:
            return 0.0
        tall = sum(1 for ln in multi if (ln.bottom - ln.top) > 1.2 * (ln.right - ln.left))
        return tall / len(multi)

    @property
    def horizontal(self) -> bool:
        return self.tall_share <= SIDEWAYS_SHARE

    @property
    def convincing(self) -> bool:
        return self.horizontal and bool(self.lines) and self.score >= GOOD_CONFIDENCE


def read_upright(engine: OcrEngine, image: np.ndarray) -> Reading:
    first = Reading(0, image, engine.recognize(image))
    if first.convincing or not first.lines and _blank(image):
        return first
    order = [90, 270, 180] if not first.horizontal else [180, 90, 270]
    best = first if first.horizontal else None
    for degrees in order:
        turned = rotate(image, degrees)
        reading = Reading(degrees, turned, engine.recognize(turned))
        if not reading.horizontal:
            continue
        if best is None or reading.confident_chars > SWITCH_MARGIN * best.confident_chars:
            best = reading
            if reading.convincing:
                break
    return best or first


def _blank(image: np.ndarray) -> bool:
    """A page with almost no ink: nothing to turn."""
    gray = image if image.ndim == 2 else image.mean(axis=2)
    return float((gray < 128).mean()) < 0.002
