"""Turn sideways or upside-down scans upright, using the engine's own output as evidence.

An upright page of horizontal Chinese text gives wide boxes read with high confidence.  A page
turned 90/270 degrees gives mostly tall boxes; a page turned 180 degrees gives wide boxes read
with low confidence.  Only pages showing one of those signs are read again at other angles, so
upright pages cost one pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ocr.engine import OcrEngine, OcrLine
from ocr.images import rotate

SIDEWAYS_SHARE = 0.5
UPSIDE_DOWN_CONFIDENCE = 0.90


@dataclass
class Reading:
    rotation: int
    image: np.ndarray
    lines: list[OcrLine]

    @property
    def score(self) -> float:
        chars = sum(len(ln.text) for ln in self.lines)
        if not chars:
            return 0.0
        return sum(ln.confidence * len(ln.text) for ln in self.lines) / chars

    @property
    def tall_share(self) -> float:
        multi = [ln for ln in self.lines if len(ln.text) >= 2]
        if not multi:
            return 0.0
        tall = sum(1 for ln in multi if (ln.bottom - ln.top) > 1.2 * (ln.right - ln.left))
        return tall / len(multi)


def read_upright(engine: OcrEngine, image: np.ndarray) -> Reading:
    first = Reading(0, image, engine.recognize(image))
    if not first.lines:
        return first
    if first.tall_share > SIDEWAYS_SHARE:
        candidates = [90, 270]
    elif first.score < UPSIDE_DOWN_CONFIDENCE:
        candidates = [180]
    else:
        return first
    best = first
    for degrees in candidates:
        turned = rotate(image, degrees)
        reading = Reading(degrees, turned, engine.recognize(turned))
        if reading.tall_share <= SIDEWAYS_SHARE and (
            best.tall_share > SIDEWAYS_SHARE or reading.score > best.score + 0.02
        ):
            best = reading
    return best
