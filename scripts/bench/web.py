"""Benchmark the web interface in a real browser: search results shown, and a 300-page dossier opened.

    .venv/bin/python -m scripts.bench.web [--dir DIR] [--rounds 5]

Ingests the dev dossiers and one 300-page dossier (the dev pages repeated) with ``archive ingest``
into DIR (kept and reused when given), starts ``archive serve`` and drives Debian's Chromium with
Playwright.  For each query the page's own navigation timing gives "shown" (the search page's
DOMContentLoaded: results are rendered by the server, so they are on screen then); the baseline,
measured in the same browser and process, is the JSON API's answer to the same query (``fetch``).
The dossier opens as a reader of its status would (caseworker if archived, reviewer otherwise):
"open" is DOMContentLoaded, "first page" the moment the first page image has decoded, "load" the
load event (lazy images below the fold are not waited for).  Targets (issue 7): search ≤ 300 ms,
300-page dossier ≤ 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from pypdf import PdfReader, PdfWriter
from sqlalchemy import func, select

from archive.records.models import Dossier, Page
from archive.runtime import open_runtime
from scripts.live_server import add_users, launch_chromium, server_env, serving, settings_of

DEV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "dev-dossiers"
PASSWORD = "Bench-Web-Pass-2026!"
OFFICE = "370303"
LONG_PAGES = 300


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _long_dossier(sources: list[Path], target: Path, pages: int) -> None:
    writer, n = PdfWriter(), 0
    while n < pages:
        for src in sources:
            for page in PdfReader(src).pages:
                if n == pages:
                    break
                writer.add_page(page)
                n += 1
    with target.open("wb") as out:
        writer.write(out)


def prepare(home: Path) -> None:
    """Ingest the dev dossiers and the long one, once per folder."""
    marker = home / "bench-web-ingested"
    if marker.exists():
        return
    home.mkdir(parents=True, exist_ok=True)
    sources = sorted((DEV / "dossiers").glob("*.pdf"))
    long_pdf = home / f"long-{LONG_PAGES}-pages.pdf"
    _long_dossier(sources, long_pdf, LONG_PAGES)
    env = {**os.environ, **server_env(home)}
    command = [sys.executable, "-m", "archive.cli", "ingest", *map(str, sources), str(long_pdf), "--office", OFFICE]
    started = time.monotonic()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    print(f"ingested {len(sources) + 1} files in {time.monotonic() - started:.0f} s")
    add_users(
        settings_of(server_env(home)),
        [("bench-caseworker", "caseworker", OFFICE), ("bench-reviewer", "reviewer", OFFICE)],
        PASSWORD,
    )
    marker.write_text("ok")


def _queries() -> list[str]:
    out: list[str] = []
    for path in sorted((DEV / "truth").glob("*.json")):
        truth = json.loads(path.read_text(encoding="utf-8"))
        person = truth.get("person") or {}
        unit = truth.get("unit") or {}
        out += [q for q in (person.get("name"), person.get("id_number"), unit.get("name")) if q]
        out.append(truth["business_type"])
    return out


def _dossiers_of(home: Path) -> tuple[tuple[str, str], str]:
    """The longest dossier (id, status) and the longest archived one (id)."""
    rt = open_runtime(settings_of(server_env(home)))
    try:
        with rt.sessions() as session:
            counts = select(Page.dossier_id, func.count().label("n")).group_by(Page.dossier_id).subquery()
            by_length = (
                select(Dossier.id, Dossier.status)
                .join(counts, counts.c.dossier_id == Dossier.id)
                .order_by(counts.c.n.desc())
            )
            longest = session.execute(by_length).first()
            archived = session.execute(by_length.where(Dossier.status == "archived")).first()
        return (longest[0], longest[1]), archived[0]
    finally:
        rt.close()


NAV_TIMING = "() => { const t = performance.getEntriesByType('navigation')[0]; return [t.responseEnd, t.domContentLoadedEventEnd]; }"
FETCH_TIMING = "async (url) => { const s = performance.now(); const r = await fetch(url); await r.text(); return performance.now() - s; }"
FIRST_IMAGE = """() => new Promise((done) => {
  const start = performance.timeOrigin;
  const check = () => {
    const img = document.querySelector('img.page-image, .page img, img[data-page]');
    if (img && img.complete && img.naturalWidth > 0) { done(performance.now()); } else { requestAnimationFrame(check); }
  };
  check();
})"""


def _sign_in(page, url: str, name: str) -> None:
    page.goto(url + "/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("domcontentloaded")


def measure(home: Path, rounds: int) -> None:
    from playwright.sync_api import sync_playwright

    (dossier_id, status), archived_id = _dossiers_of(home)
    reader = "bench-caseworker" if status == "archived" else "bench-reviewer"
    queries = _queries()
    with serving(home) as server, sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        _sign_in(page, server.url, "bench-caseworker")
        shown, served, api = [], [], []
        for _ in range(rounds):
            for q in queries:
                page.goto(f"{server.url}/search?q={quote(q)}")
                response_end, dom_ready = page.evaluate(NAV_TIMING)
                served.append(response_end)
                shown.append(dom_ready)
                api.append(page.evaluate(FETCH_TIMING, f"/api/v1/search?q={quote(q)}"))
        # A caseworker is served each page with their watermark drawn in (the longest archived dossier).
        marked_first = []
        for _ in range(rounds):
            page.goto(f"{server.url}/dossiers/{archived_id}", wait_until="load")
            marked_first.append(page.evaluate(FIRST_IMAGE))
        marked_pages = page.evaluate("() => document.querySelectorAll('figure.page').length")
        _sign_in(page, server.url, reader)
        opened, first, loaded, api_open = [], [], [], []
        for _ in range(rounds):
            page.goto(f"{server.url}/dossiers/{dossier_id}", wait_until="load")
            response_end, dom_ready = page.evaluate(NAV_TIMING)
            opened.append(dom_ready)
            first.append(page.evaluate(FIRST_IMAGE))
            loaded.append(page.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd"))
            api_open.append(page.evaluate(FETCH_TIMING, f"/api/v1/dossiers/{dossier_id}"))
        images = page.evaluate("() => document.querySelectorAll('img').length")
        requested = page.evaluate(
            "() => performance.getEntriesByType('resource').filter(e => e.initiatorType === 'img').length"
        )
        browser.close()
        rss = server.peak_rss_mb()
    n = len(shown)
    print(f"search: {n} page loads ({len(queries)} queries x {rounds})")
    print(f"  shown    p50 {_pct(shown, 0.5):6.1f} ms  p95 {_pct(shown, 0.95):6.1f} ms  (target <= 300 ms)")
    print(f"  served   p50 {_pct(served, 0.5):6.1f} ms  p95 {_pct(served, 0.95):6.1f} ms")
    print(f"  API JSON p50 {_pct(api, 0.5):6.1f} ms  p95 {_pct(api, 0.95):6.1f} ms  (baseline)")
    print(f"  ratio shown/API p50 {statistics.median(shown) / statistics.median(api):.2f}")
    print(
        f"dossier of {LONG_PAGES} pages ({status}, as {reader}): {rounds} opens, {images} <img>, {requested} fetched at once"
    )
    print(f"  open     p50 {_pct(opened, 0.5):6.1f} ms  p95 {_pct(opened, 0.95):6.1f} ms")
    print(f"  1st page p50 {_pct(first, 0.5):6.1f} ms  p95 {_pct(first, 0.95):6.1f} ms  (target <= 1000 ms)")
    print(f"  load     p50 {_pct(loaded, 0.5):6.1f} ms  p95 {_pct(loaded, 0.95):6.1f} ms")
    print(f"  API JSON p50 {_pct(api_open, 0.5):6.1f} ms  p95 {_pct(api_open, 0.95):6.1f} ms  (baseline)")
    print(f"  ratio load/API p50 {statistics.median(loaded) / statistics.median(api_open):.2f}")
    print(f"archived dossier of {marked_pages} pages as caseworker (watermark drawn into each page image):")
    print(f"  1st page p50 {_pct(marked_first, 0.5):6.1f} ms  p95 {_pct(marked_first, 0.95):6.1f} ms")
    print(f"server peak RSS {rss:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=None, help="archive folder (kept and reused)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    home = args.dir or Path(tempfile.mkdtemp(prefix="web-bench-"))
    prepare(home)
    measure(home, args.rounds)


if __name__ == "__main__":
    main()
