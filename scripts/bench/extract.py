"""Measure case-record extraction and the catalogue_mismatch check against the dev-dossier truth.

    python scripts/bench/extract.py OCR_JSON [--truth DIR] [-v]

OCR_JSON maps ``dossier-NNN.pdf`` to its pages
(``[{"number", "text", "lines": [{"text", "box", "confidence"}], "width", "height", "rotation"}]``).
Prints per-field accuracy (person name, ID number, unit name, USCC, 档号, formed date, declared
pages), catalogue-entry accuracy, catalogue_mismatch recall / false alarms against the truth
``faults``, and the extraction time per dossier.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from archive.extract import check_catalogue, extract_record  # noqa: E402
from ocr.engine import OcrLine, PageOcr  # noqa: E402

PRINTED_FIELDS = ("person_name", "id_number", "unit_name", "uscc", "archive_number")
DEFAULT_TRUTH = Path(__file__).resolve().parents[3] / "shared" / "data" / "dev-dossiers" / "truth"


def pages_from_json(items: list[dict]) -> list[PageOcr]:
    pages = []
    for p in sorted(items, key=lambda p: p["number"]):
        lines = [OcrLine(ln["text"], tuple(map(tuple, ln["box"])), float(ln["confidence"])) for ln in p["lines"]]
        pages.append(
            PageOcr(
                lines=lines,
                rotation=int(p.get("rotation", 0)),
                width=int(p["width"]),
                height=int(p["height"]),
                engine="bench",
                text_lines=p["text"].split("\n") if p["text"] else [],
            )
        )
    return pages


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ocr_json", type=Path)
    ap.add_argument("--truth", type=Path, default=DEFAULT_TRUTH)
    ap.add_argument("-v", "--verbose", action="store_true", help="print every miss")
    args = ap.parse_args(argv)

    ocr = json.loads(args.ocr_json.read_text(encoding="utf-8"))
    fields = ["person_name", "id_number", "unit_name", "uscc", "archive_number", "formed_date", "declared_pages"]
    right = dict.fromkeys(fields, 0)
    total = dict.fromkeys(fields, 0)
    entries_right = entries_total = 0
    tp = fn = fp = 0
    elapsed: list[float] = []
    for name in sorted(ocr):
        truth_path = args.truth / name.replace(".pdf", ".json")
        if not truth_path.exists():
            continue
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        pages = pages_from_json(ocr[name])
        t0 = time.perf_counter()
        record = extract_record(pages)
        problems = check_catalogue(record, len(pages))
        elapsed.append(time.perf_counter() - t0)

        expected = {
            "person_name": (truth.get("person") or {}).get("name"),
            "id_number": (truth.get("person") or {}).get("id_number"),
            "unit_name": (truth.get("unit") or {}).get("name"),
            "uscc": (truth.get("unit") or {}).get("uscc"),
            "archive_number": truth.get("dossier_id") if truth.get("claimed_pages") is not None else None,
            "formed_date": truth.get("date"),
            "declared_pages": truth.get("claimed_pages"),
        }
        printed = "".join(line for page in truth["pages"] for line in page["lines"])
        for f in fields:
            want = expected[f]
            if want is None or (f in PRINTED_FIELDS and want not in printed):
                continue  # the dossier does not carry this field on paper
            total[f] += 1
            got = getattr(record, f)
            if got == want:
                right[f] += 1
            elif args.verbose:
                print(f"  {name} {f}: got {got!r}, want {want!r}")
        for want_e in truth.get("catalogue") or []:
            entries_total += 1
            got_e = next((e for e in record.catalogue if e.seq == want_e["seq"]), None)
            if got_e and (got_e.start_page, got_e.end_page) == (want_e["start_page"], want_e["end_page"]):
                entries_right += 1
            elif args.verbose:
                print(f"  {name} catalogue entry {want_e['seq']}: got {got_e}, want {want_e}")
        planted = "catalogue_mismatch" in truth.get("faults", [])
        flagged = bool(problems)
        tp += planted and flagged
        fn += planted and not flagged
        fp += flagged and not planted
        if args.verbose and (flagged or planted):
            mark = "OK " if planted == flagged else "ERR"
            print(f"  {mark} {name} planted={planted} problems={[p['detail'] for p in problems]}")

    print(f"dossiers: {len(elapsed)}")
    for f in fields:
        share = right[f] / total[f] if total[f] else 0.0
        print(f"{f:>16}: {right[f]}/{total[f]} = {share:.1%}")
    if entries_total:
        print(f"catalogue pages : {entries_right}/{entries_total} entries with the right page range")
    print(f"catalogue_mismatch: recall {tp}/{tp + fn}, false alarms {fp}")
    if elapsed:
        ms = sorted(t * 1000 for t in elapsed)
        print(f"extraction: mean {sum(ms) / len(ms):.2f} ms, max {ms[-1]:.2f} ms per dossier")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
