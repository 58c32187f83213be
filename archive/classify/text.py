"""Text normalisation for classification: the same for training text and OCR text."""

from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+")
_DIGITS = re.compile(r"\d")


def normalise(text: str) -> str:
    """NFKC, upper-case Latin, no whitespace (OCR inserts it at random), digits folded to 0."""
    text = unicodedata.normalize("NFKC", text).upper()
    return _DIGITS.sub("0", _SPACE.sub("", text))


HEAD_WEIGHT = 3


def document_text(pages: list[str]) -> str:
    """One string for the n-gram model: pages and lines kept apart by separators.

    The first lines of each page (where a form prints its title) are repeated, so the title of
    the business form outweighs prose on supporting pages (contracts, letters, copies) that may
    talk about other kinds of business.
    """
    body = " | ".join(" ".join(normalise(line) for line in page.splitlines() if line.strip()) for page in pages)
    heads = " ".join(page_heads(pages, lines=2))
    return " | ".join([body] + [heads] * HEAD_WEIGHT)


def page_heads(pages: list[str], lines: int = 3) -> list[str]:
    """The first non-empty lines of each page, where form titles are printed."""
    heads = []
    for page in pages:
        top = [normalise(line) for line in page.splitlines() if line.strip()][:lines]
        heads.extend(t for t in top if t)
    return heads
