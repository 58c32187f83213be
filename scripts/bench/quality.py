"""Measures shared by the benchmarks: character error rate and ID-number recall against truth."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz.distance import Levenshtein


def normalise(text: str) -> str:
    """NFKC, then no whitespace at all (the dev set's CER rule)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


@dataclass
class Quality:
    edits: int = 0
    ref_chars: int = 0
    ids_expected: int = 0
    ids_exact: int = 0
    bad_ids: int = 0
    bad_ids_flagged: int = 0

    @property
    def cer(self) -> float:
        return self.edits / self.ref_chars if self.ref_chars else 0.0

    def add_dossier(self, truth: dict, line: dict) -> None:
        by_number = {p["number"]: p["text"] for p in line["pages"]}
        for page in truth["pages"]:
            ref = normalise("".join(page["lines"]))
            hyp = normalise(by_number.get(page["n"], ""))
            self.edits += Levenshtein.distance(ref, hyp)
            self.ref_chars += len(ref)
        person = truth.get("person") or {}
        printed = normalise("".join(line for page in truth["pages"] for line in page["lines"]))
        if person.get("id_number") and person.get("id_valid") and person["id_number"] in printed:
            self.ids_expected += 1
            self.ids_exact += person["id_number"] in line["identifiers"]["id_numbers"]
        if "bad_id" in truth.get("faults", []) and person.get("id_number") and person["id_number"] in printed:
            self.bad_ids += 1
            self.bad_ids_flagged += any(p["code"] == "invalid_id_number" for p in line["problems"])


def load_truth(data_dir: Path) -> dict[str, dict]:
    """Truth by dossier file name (dossier-001.pdf → its truth JSON)."""
    out = {}
    for path in sorted((data_dir / "truth").glob("*.json")):
        truth = json.loads(path.read_text(encoding="utf-8"))
        out[Path(truth["file"]).name] = truth
    return out
