"""The embedded index's token layout (``search.grams``): one token per character, and query plans
that hold in exactly the texts containing the term, checked by brute force over many texts."""

from __future__ import annotations

import random
import re

import pytest

from search.grams import SPACE_MARK, GramLayout, LearnPolicy, Slot, learn


def _holds(layout: GramLayout, text: str, slots: list[Slot]) -> bool:
    """What the engine checks: some position has, at every slot's offset, one of its tokens."""
    return _holds_tokens(layout.tokens(text).split(" "), slots)


def _holds_tokens(tokens: list[str], slots: list[Slot]) -> bool:
    return any(
        all(p + s.offset < len(tokens) and tokens[p + s.offset] in s.tokens for s in slots) for p in range(len(tokens))
    )


def test_tokens_bigrams_and_frequent_grams_one_per_character() -> None:
    assert GramLayout().tokens("社保卡a12 x").split(" ") == ["社保", "保卡", "卡a", "a1", "12", f"2{SPACE_MARK}",
                                                          f"{SPACE_MARK}x", "x"]  # fmt: skip
    layout = GramLayout(frequent=frozenset({"社会保险", "保险登记"}))
    assert layout.tokens("社会保险登记表").split(" ") == ["社会保险", "会保", "保险登记", "险登", "登记", "记表", "表"]
    assert layout.tokens("") == ""
    with pytest.raises(ValueError):
        GramLayout(frequent=frozenset({"社会"}))


def test_plans_by_example() -> None:
    layout = GramLayout(frequent=frozenset({"社会保险", "保险登记", "保险待遇", "审核意见"}))
    assert layout.plan("审核意见") == [Slot(0, ("审核意见",))]
    # A frequent gram ending the term pins its last characters.
    assert layout.plan("社会保险登记") == [Slot(0, ("社会保险",)), Slot(2, ("保险登记",))]
    # The tail slot: the bigram, or a frequent gram running past the term's end.
    assert layout.plan("保险") == [Slot(0, ("保险", "保险待遇", "保险登记"))]
    assert layout.plan("缴费保险") == [Slot(0, ("缴费",)), Slot(2, ("保险", "保险待遇", "保险登记"))]
    assert layout.plan("保险登") == [Slot(0, ("保险", "保险登记")), Slot(1, ("险登",))]
    with pytest.raises(ValueError):
        layout.plan("保")


@pytest.mark.parametrize("seed", range(6))
def test_every_plan_holds_exactly_where_the_term_occurs(seed: int) -> None:
    """Texts over a small alphabet so that many grams are frequent and tails have many alternatives."""
    rng = random.Random(seed)
    alphabet = "保险1x " if seed % 2 else "甲乙丙丁"
    texts = [
        re.sub(" +", " ", "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))).strip() for _ in range(40)
    ]
    texts = [t for t in texts if t]
    layout = learn(texts, LearnPolicy(share=0.05, min_pages=2, per_prefix=1 + seed, max_variety=0.0))
    assert layout.frequent
    assert max(len(layout.starting_with(t[:2])) for t in texts if len(t) >= 2) <= 1 + seed
    terms = {t[i:j] for t in texts for i in range(len(t)) for j in range(i + 2, min(len(t), i + 9) + 1)}
    terms = sorted(q for q in terms if q.strip() == q)
    assert len(terms) > 200
    tokenised = [(text, layout.tokens(text).split(" ")) for text in texts]
    for q in rng.sample(terms, 250):
        slots = layout.plan(q)
        pinned = {s.offset + k for s in slots for k in range(min(len(t) for t in s.tokens))}
        assert pinned >= set(range(len(q))), q
        for text, tokens in tokenised:
            assert _holds_tokens(tokens, slots) == (q in text), (q, text)


def test_learn_keeps_the_most_frequent_grams_per_prefix() -> None:
    texts = ["社会保险"] * 30 + ["社会保障"] * 25 + ["社会救助"] * 5 + ["审核意见同意办理"] * 21
    layout = learn(texts, LearnPolicy(share=0.0, min_pages=20, per_prefix=1, max_variety=0.0))
    assert layout.frequent == {"社会保险", "审核意见", "核意见同", "意见同意", "见同意办", "同意办理"}
    assert learn(texts, LearnPolicy(share=0.5, min_pages=1, max_variety=0.0)).frequent == set()
    assert learn(texts) == GramLayout(every=True)  # few distinct grams: forms


def test_every_position_layout_pins_longer_terms_and_prefixes_shorter() -> None:
    layout = GramLayout(every=True)
    assert layout.tokens("社保卡a12 x").split(" ") == ["社保卡a", "保卡a1", "卡a12", f"a12{SPACE_MARK}",
                                                    f"12{SPACE_MARK}x", f"2{SPACE_MARK}x", f"{SPACE_MARK}x", "x"]  # fmt: skip
    assert layout.plan("审核意见同意办理") == [Slot(0, ("审核意见",)), Slot(4, ("同意办理",))]
    assert layout.plan("社会保险登") == [Slot(0, ("社会保险",)), Slot(1, ("会保险登",))]
    assert layout.by_prefix("保险登") and not GramLayout().by_prefix("保险")
    with pytest.raises(ValueError):
        layout.plan("保险登")
    texts = ["号12 12年3x 1号", "社会保险登记表社会保险", "110101198809022006", "abc 123abc"]
    tokenised = [(text, layout.tokens(text).split(" ")) for text in texts]
    for text in texts:
        for i in range(len(text)):
            for j in range(i + 4, len(text) + 1):
                q = text[i:j]
                if q.strip() == q:
                    for other, tokens in tokenised:
                        assert _holds_tokens(tokens, layout.plan(q)) == (q in other), (q, other)
