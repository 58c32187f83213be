"""Classification and validation benchmark on the dev dossiers.

    python scripts/bench/classify.py [--data ../shared/data/dev-dossiers] [--workers 2]

Ingests every dossier (real OCR, the real pipeline), then prints accuracy, macro-F1 and the
confusion list over the 12 business types, once as scanned and once with the cover and catalogue
pages removed; how many dossiers were archived without review and how many of those were wrong;
recall and false alarms of ``catalogue_mismatch`` and ``invalid_id_number`` against the planted
faults; and classification + extraction time per dossier (OCR excluded).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sklearn.metrics import f1_score  # noqa: E402
from sqlalchemy import select  # noqa: E402

from archive.classify.store import load_classifier, taxonomy_for  # noqa: E402
from archive.extract import check_catalogue, extract_record  # noqa: E402
from archive.pipeline.runner import run_batch  # noqa: E402
from archive.records.models import Dossier, Page  # noqa: E402
from archive.runtime import open_runtime  # noqa: E402
from archive.settings import Settings  # noqa: E402
from ocr.engine import OcrLine, PageOcr  # noqa: E402
from scripts.bench.quality import normalise  # noqa: E402


def page_ocr(page: Page) -> PageOcr:
    lines = [OcrLine(ln["text"], tuple(tuple(p) for p in ln["box"]), ln["confidence"]) for ln in page.lines]
    return PageOcr(lines, page.rotation, page.width, page.height, page.ocr_engine, page.text.split("\n"))


def scores(name: str, truth: list[str], predicted: list[str], labels: list[str]) -> None:
    right = sum(t == p for t, p in zip(truth, predicted, strict=True))
    macro = f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)
    print(f"{name}: accuracy {right}/{len(truth)} = {right / len(truth):.3f}, macro-F1 {macro:.3f}")
    confusion = Counter((t, p) for t, p in zip(truth, predicted, strict=True) if t != p)
    for (t, p), n in confusion.most_common():
        print(f"    {t} → {p}: {n}")


def detection(name: str, flagged: dict[str, bool], planted: dict[str, bool]) -> None:
    hits = sum(flagged[k] and planted[k] for k in planted)
    false = sum(flagged[k] and not planted[k] for k in planted)
    print(f"{name}: caught {hits}/{sum(planted.values())}, false alarms {false}/{sum(not v for v in planted.values())}")


def _ece(pairs: list[tuple[float, bool]], bins: int = 5) -> float:
    """Expected calibration error: |confidence − accuracy| per confidence bin, weighted by its size."""
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        members = [(c, ok) for c, ok in pairs if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        if members:
            conf = statistics.mean(c for c, _ in members)
            acc = statistics.mean(1.0 if ok else 0.0 for _, ok in members)
            total += len(members) / len(pairs) * abs(conf - acc)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "dev-dossiers")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    truths = {}
    for path in sorted((args.data / "truth").glob("*.json")):
        truth = json.loads(path.read_text(encoding="utf-8"))
        truths[Path(truth["file"]).name] = truth
    files = [args.data / "dossiers" / name for name in truths]

    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), ocr_workers=args.workers)
        rt = open_runtime(settings)
        lines: list[dict] = []
        start = time.perf_counter()
        run_batch(rt, [str(f) for f in files], office="000000", user="bench", emit=lines.append)
        print(f"ingested {len(lines)} dossiers in {time.perf_counter() - start:.0f} s (OCR included)")
        classifier = load_classifier(settings)
        labels = [t.name for t in taxonomy_for(settings).types]
        by_source = {Path(line["source"]).name: line for line in lines}
        truth_types, as_scanned, stripped, timings = [], [], [], []
        confidences: list[tuple[float, bool]] = []
        archived = wrong_archived = 0
        flagged_cat, flagged_id, planted_cat, planted_id = {}, {}, {}, {}
        unobservable = 0
        with rt.sessions() as session:
            for name, truth in truths.items():
                line = by_source[name]
                dossier = session.get(Dossier, line["dossier"])
                pages = session.scalars(select(Page).where(Page.dossier_id == dossier.id).order_by(Page.number)).all()
                ocr_pages = [page_ocr(p) for p in pages]
                kinds = {p["n"]: p["kind"] for p in truth["pages"]}
                truth_types.append(truth["business_type"])
                top = line["candidates"][0]["business_type"] if line["candidates"] else "未分类"
                as_scanned.append(top)
                confidences.append(
                    (line["candidates"][0]["probability"] if line["candidates"] else 0.0, top == truth["business_type"])
                )
                if line["status"] == "archived":
                    archived += 1
                    wrong_archived += line["business_type"] != truth["business_type"]
                loose = [p.text for p in pages if kinds.get(p.number) not in ("cover", "catalogue")]
                stripped.append(classifier.classify(loose).business_type)
                t0 = time.perf_counter()
                record = extract_record(ocr_pages)
                check_catalogue(record, len(ocr_pages))
                classifier.classify([p.text for p in ocr_pages])
                timings.append(1000 * (time.perf_counter() - t0))
                codes = {p["code"] for p in line["problems"]}
                flagged_cat[name], planted_cat[name] = (
                    "catalogue_mismatch" in codes,
                    "catalogue_mismatch" in truth["faults"],
                )
                printed = normalise("".join(ln for page in truth["pages"] for ln in page["lines"]))
                if "bad_id" in truth["faults"] and truth["person"]["id_number"] not in printed:
                    unobservable += 1  # the wrong number is printed on no page: nothing to catch
                    continue
                flagged_id[name], planted_id[name] = "invalid_id_number" in codes, "bad_id" in truth["faults"]
        rt.close()

    scores("as scanned", truth_types, as_scanned, labels)
    scores("cover and catalogue removed", truth_types, stripped, labels)
    print(f"archived without review: {archived}/{len(truths)}, of which wrongly typed: {wrong_archived}")
    mean_conf = statistics.mean(c for c, _ in confidences)
    accuracy = statistics.mean(1.0 if ok else 0.0 for _, ok in confidences)
    ece = _ece(confidences)
    print(f"calibration: mean top confidence {mean_conf:.3f} vs accuracy {accuracy:.3f}; ECE (5 bins) {ece:.3f}")
    detection("catalogue_mismatch", flagged_cat, planted_cat)
    detection("invalid_id_number", flagged_id, planted_id)
    if unobservable:
        print(f"    ({unobservable} planted bad_id dossier(s) print no ID number on any page; not counted)")
    timings.sort()
    print(
        f"classification + extraction per dossier: p50 {statistics.median(timings):.1f} ms, "
        f"p95 {timings[int(0.95 * (len(timings) - 1))]:.1f} ms, max {timings[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
