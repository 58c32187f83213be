"""The training-corpus generator: deterministic, complete, noisy, and with valid identifiers."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from archive.identifiers import is_valid_id_number, is_valid_uscc
from archive.taxonomy import UNCLASSIFIED, load_taxonomy
from scripts.generate_corpus import add_ocr_noise, generate_corpus, main

ID_RUN = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dX](?![0-9A-Za-z])")
USCC_RUN = re.compile(r"(?<![0-9A-Z])9[1-3]\d{6}[0-9A-HJ-NP-RTUWXY]{10}(?![0-9A-Z])")


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return generate_corpus(30, seed=5)


def test_same_seed_same_corpus(corpus: list[dict]) -> None:
    assert generate_corpus(30, seed=5) == corpus
    assert generate_corpus(30, seed=6) != corpus


def test_every_label_is_covered(corpus: list[dict]) -> None:
    counts = Counter(d["label"] for d in corpus)
    assert set(counts) == {*load_taxonomy().names, UNCLASSIFIED}
    assert set(counts.values()) == {30}
    for d in corpus:
        assert d["pages"] and all(isinstance(p, str) and p.strip() for p in d["pages"])


def test_about_forty_percent_are_loose_papers(corpus: list[dict]) -> None:
    loose = [d for d in corpus if not d["meta"]["cover"] and not d["meta"]["catalogue"]]
    assert 0.30 <= len(loose) / len(corpus) <= 0.50
    for d in loose[:50]:  # a loose dossier starts with its papers, not an archive cover
        assert "本卷共" not in d["pages"][0]
    covered = [d for d in corpus if d["meta"]["cover"]]
    assert covered and sum("保管期限" in d["pages"][0] or "案卷题名" in d["pages"][0] for d in covered) > 0.8 * len(
        covered
    )


def test_noise_is_present(corpus: list[dict]) -> None:
    rates = [d["meta"]["noise_rate"] for d in corpus]
    assert min(rates) >= 0 and max(rates) <= 0.04
    assert sum(r > 0.02 for r in rates) > len(rates) / 4
    clean = generate_corpus(30, seed=5, max_noise=0.0)
    assert [d["label"] for d in clean] == [d["label"] for d in corpus]
    differing = sum(a["pages"] != b["pages"] for a, b in zip(clean, corpus, strict=True))
    assert differing > 0.8 * len(corpus)


def test_noise_function_substitutes_drops_and_splits() -> None:
    import random

    text = "\n".join(["社会保险参保人员登记表已经审核日期2021年1月1日"] * 200)
    noisy = add_ocr_noise(random.Random(1), text, 0.04)
    assert noisy != text
    assert "曰" in noisy or "末" in noisy or "己" in noisy or "入" in noisy
    assert noisy.count("\n") != text.count("\n") or len(noisy) != len(text)
    assert add_ocr_noise(random.Random(1), text, 0.0) == text


def test_id_numbers_and_unit_codes_in_the_text_validate(corpus: list[dict]) -> None:
    ids = usccs = 0
    for d in corpus:
        for page in d["pages"]:
            for m in ID_RUN.finditer(page):
                assert is_valid_id_number(m.group(0)), (d["label"], m.group(0))
                ids += 1
            for m in USCC_RUN.finditer(page):
                usccs += is_valid_uscc(m.group(0))
    assert ids > len(corpus)
    assert usccs > len(corpus) / 4


def test_forms_carry_official_titles(corpus: list[dict]) -> None:
    tax = load_taxonomy()
    hits = 0
    typed = [d for d in corpus if d["label"] != UNCLASSIFIED]
    for d in typed:
        titles = tax.by_name(d["label"]).form_titles
        hits += any(t in page for page in d["pages"] for t in titles)
    assert 0.4 < hits / len(typed) < 0.95  # most dossiers show one, some have a generic title or none


def test_supporting_pages_mention_other_types(corpus: list[dict]) -> None:
    names = load_taxonomy().names
    mixed = 0
    for d in corpus:
        if d["label"] == UNCLASSIFIED:
            continue
        text = "\n".join(d["pages"])
        mixed += any(n in text for n in names if n != d["label"])
    assert mixed > len(corpus) / 4


def test_cli_writes_jsonl(tmp_path) -> None:
    out = tmp_path / "corpus.jsonl"
    assert main([str(out), "--per-type", "2", "--seed", "3"]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 * 13
    record = json.loads(lines[0])
    assert set(record) >= {"label", "pages"}
