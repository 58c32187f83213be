"""The embedded index's token layout: one token per character position, chosen per index generation
from a sample of its pages (``learn``).

Two layouts.  Repetitive text such as forms holds few distinct four-character grams (the generated
form pages: 0.04 per character), so the token at each position is the four characters starting there
(``every``): a term of four characters is one posting list, longer terms a phrase of a few, and a
shorter term the OR of the few tokens it starts.  Varied text such as long prose pages holds millions
(0.36 per character): four-character grams everywhere give a term dictionary of 1.5x the text, and a
two-character query must OR thousands of them.  There the token is a bigram, except where the
four-character gram starting at that position is frequent in the sample (``frequent``): boilerplate
costs one posting list, rare text a phrase led by a rare bigram, and the dictionary stays small.  Bigram
phrases alone would not do for forms: on a million form pages "社会保险" is a phrase of two bigrams that
most pages hold, so every such query checks positions on most pages (p95 75 ms).

Exactness.  The text is normalised (``search.text.normalize``); a space in it is written as
``SPACE_MARK``.  Position ``i`` holds exactly one token: ``text[i:i+4]`` when every gram is kept or
that gram is frequent, else ``text[i:i+2]`` (fewer characters at the very end).  Positions are
character offsets, so a term is a phrase of slots at fixed offsets (``GramLayout.plan``).  A slot whose
four characters lie inside the term has one known token.  Near the term's end (varied layout) the
token may extend past the term, so the slot lists every token that can stand there: the bigram, and
each frequent gram starting with the term's tail.  Every character is pinned by some slot, so a page
matches exactly when its normalised text contains the term, whatever the term's edges; nothing is
re-checked against the stored text.  A term shorter than a token (``by_prefix``) is found as a token
prefix.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

# Inside an index token a space of the text is written as SPACE_MARK: whitespace that normalised text
# never holds (only " ", which separates the tokens).
SPACE_MARK = "\u00a0"
LONG = 4  # characters of a frequent gram
SHORT = 2  # characters of every other token
# ``learn``: a gram is frequent when at least this share of the sampled pages holds it (and at least
# MIN_PAGES of them) ...
SHARE = 0.005
MIN_PAGES = 20
# ... keeping at most this many per leading bigram (the most frequent), which bounds the alternatives
# of a slot at a term's end.
PER_PREFIX = 16
# ``learn`` keeps a gram at every position where the sample holds at most this many distinct grams
# per character (forms: 0.04; varied prose: 0.36).
EVERY_MAX_VARIETY = 0.15
SAMPLE_PAGES = 20_000
SAMPLE_CHARS = 4_000_000


@dataclass(frozen=True)
class Slot:
    """Tokens that can stand at ``offset`` in a page holding the term (one of them does)."""

    offset: int
    tokens: tuple[str, ...]


@dataclass(frozen=True)
class GramLayout:
    """``every``: a four-character gram at every position (repetitive text such as forms, where the
    grams are few); else bigrams, and ``frequent`` grams where they occur (varied text)."""

    every: bool = False
    frequent: frozenset[str] = frozenset()
    _by_prefix: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if any(len(g) != LONG for g in self.frequent):
            raise ValueError(f"frequent grams have {LONG} characters")
        if self.every and self.frequent:
            raise ValueError("a layout with every gram lists no frequent ones")
        by_prefix: dict[str, list[str]] = defaultdict(list)
        for gram in sorted(self.frequent):
            for size in range(1, LONG):
                by_prefix[gram[:size]].append(gram)
        self._by_prefix.update({k: tuple(v) for k, v in by_prefix.items()})

    def tokens(self, norm: str) -> str:
        """The index tokens of normalised text, one per character, separated by single spaces."""
        text = norm.replace(" ", SPACE_MARK)
        if self.every:
            return " ".join([text[i : i + LONG] for i in range(len(text))])
        if not self.frequent:
            return " ".join([text[i : i + SHORT] for i in range(len(text))])
        grams = [text[i : i + LONG] for i in range(len(text))]
        frequent = self.frequent
        return " ".join([g if g in frequent else g[:SHORT] for g in grams])

    def starting_with(self, prefix: str) -> tuple[str, ...]:
        """The frequent grams that start with ``prefix`` (1 to 3 characters)."""
        return self._by_prefix.get(prefix, ())

    def by_prefix(self, norm: str) -> bool:
        """Whether ``norm`` is found as the prefix of a token (``plan`` is for longer terms)."""
        return len(norm) < (LONG if self.every else SHORT)

    def plan(self, norm: str) -> list[Slot]:
        """The phrase that finds exactly the pages holding ``norm`` (unless ``by_prefix``)."""
        text = norm.replace(" ", SPACE_MARK)
        n = len(text)
        if self.by_prefix(text):
            raise ValueError("a term this short is the prefix of a token")
        if self.every:  # grams at 0, 4, 8, ... and one ending the term
            return [Slot(i, (text[i : i + LONG],)) for i in sorted({*range(0, n - LONG + 1, LONG), n - LONG})]
        slots: list[Slot] = []
        i = 0
        while i + LONG <= n:  # the token here lies inside the term
            token = text[i : i + LONG]
            if token not in self.frequent:
                token = token[:SHORT]
            slots.append(Slot(i, (token,)))
            i += len(token)
        if i < n:  # the last characters: a gram ending the term, else the tail slot
            last = n - LONG
            if last >= 0 and text[last:] in self.frequent:
                slots.append(Slot(last, (text[last:],)))
            else:
                if i == n - 3:  # one more character before the tail slot
                    if last >= 0:
                        slots.append(Slot(last, (self._known(text, last),)))
                    else:  # a three-character term
                        slots.append(self._tail(text, 0))
                slots.append(self._tail(text, n - SHORT))
        return sorted(set(slots), key=lambda s: s.offset)

    def _known(self, text: str, i: int) -> str:
        gram = text[i : i + LONG]
        return gram if gram in self.frequent else gram[:SHORT]

    def _tail(self, text: str, i: int) -> Slot:
        """The slot at ``i`` where the term has fewer than four characters left: the bigram, or a
        frequent gram continuing the term's remaining characters past its end."""
        rest = text[i:]
        return Slot(i, (rest[:SHORT], *self.starting_with(rest)))


STARTING_LAYOUT = GramLayout(every=True)  # of a generation started empty (forms are the common case)


@dataclass(frozen=True)
class LearnPolicy:
    """How ``learn`` chooses a layout (the defaults are the product's; tests lower the thresholds)."""

    share: float = SHARE
    min_pages: int = MIN_PAGES
    per_prefix: int = PER_PREFIX
    max_variety: float = EVERY_MAX_VARIETY


PRODUCT_POLICY = LearnPolicy()


def learn(texts: Iterable[str], policy: LearnPolicy = PRODUCT_POLICY) -> GramLayout:
    """The layout for pages like ``texts`` (normalised).  Where they hold few distinct grams, a gram
    at every position; else the grams that at least ``policy.share`` of them (and ``min_pages``)
    hold, at most ``per_prefix`` per leading bigram."""
    counts: Counter[str] = Counter()
    pages = positions = 0
    for norm in texts:
        text = norm.replace(" ", SPACE_MARK)
        counts.update({text[i : i + LONG] for i in range(len(text) - LONG + 1)})
        pages += 1
        positions += max(0, len(text) - LONG + 1)
    if len(counts) <= policy.max_variety * positions:
        return GramLayout(every=True)
    threshold = max(policy.min_pages, math.ceil(policy.share * pages))
    ranked: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for gram, count in counts.items():
        if count >= threshold:
            ranked[gram[:SHORT]].append((-count, gram))
    frequent = {gram for group in ranked.values() for _, gram in sorted(group)[: policy.per_prefix]}
    return GramLayout(frequent=frozenset(frequent))
