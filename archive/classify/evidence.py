"""Evidence from the taxonomy: form titles near the top of a page, and distinctive keywords.

Titles are matched fuzzily (OCR drops and swaps characters) against the first lines of each
page only, so distracting prose on supporting pages does not count as a title.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz

from archive.classify.text import normalise, page_heads
from archive.taxonomy import Taxonomy

TITLE_MIN_SIMILARITY = 80.0


@dataclass(frozen=True)
class Evidence:
    title: dict[str, float]  # type name → best title similarity in [0, 1] (0 under the minimum)
    keywords: dict[str, float]  # type name → number of distinct keywords found


class EvidenceFinder:
    def __init__(self, taxonomy: Taxonomy) -> None:
        self.titles = {t.name: [normalise(x) for x in t.form_titles if len(normalise(x)) >= 4] for t in taxonomy.types}
        self.keywords = {t.name: [normalise(x) for x in t.keywords if len(normalise(x)) >= 2] for t in taxonomy.types}

    def find(self, pages: list[str]) -> Evidence:
        heads = page_heads(pages)
        body = "".join(normalise(p) for p in pages)
        title: dict[str, float] = {}
        for name, titles in self.titles.items():
            best = 0.0
            for head in heads:
                for candidate in titles:
                    if len(head) < 0.6 * len(candidate):
                        continue
                    score = (
                        fuzz.partial_ratio(candidate, head)
                        if len(head) >= len(candidate)
                        else fuzz.ratio(candidate, head)
                    )
                    best = max(best, score)
            title[name] = best / 100.0 if best >= TITLE_MIN_SIMILARITY else 0.0
        keywords = {name: float(sum(1 for k in words if k in body)) for name, words in self.keywords.items()}
        return Evidence(title=title, keywords=keywords)
