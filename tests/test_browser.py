"""The web interface in a real browser (Debian's Chromium driven by Playwright) over a real server
process: an archivist uploads a dev dossier and watches it finish, a second user reviews and
approves it, a caseworker finds it and opens it at the matching page and downloads it with a
reason, the auditor sees all of it in the access log and verifies the chain, and a caseworker of
another office sees nothing of it.  Every request any page makes goes to the app's own address.

Screenshots of the main screens go to ``ARCHIVE_SCREENSHOTS`` (default: the test's temporary
folder); the README's come from ``ARCHIVE_SCREENSHOTS=docs/screenshots``.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from scripts.live_server import CHROMIUM, add_users, launch_chromium, server_env, serving, settings_of

playwright = pytest.importorskip("playwright.sync_api")

PASSWORD = "Browser-Test-Pass-2026!"
OFFICE_A, OFFICE_B = "370303", "370304"
PEOPLE = [
    ("li.archivist", "archivist", OFFICE_A),
    ("wang.reviewer", "reviewer", OFFICE_A),
    ("zhao.caseworker", "caseworker", OFFICE_A),
    ("qian.caseworker", "caseworker", OFFICE_B),
    ("sun.auditor", "auditor", "*"),
    ("zhou.admin", "admin", "*"),
]
SERVER = {"auto_archive": "false", "ocr_workers": "1", "ocr_threads": "2"}
WIDE, TABLET = {"width": 1366, "height": 768}, {"width": 820, "height": 1180}


def _chromium_or_skip() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is required in CI and not found at {CHROMIUM}")
        pytest.skip("Chromium not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def dossier(dev_data: Path) -> tuple[Path, dict]:
    """A dev dossier whose person's ID number is printed on a page other than the first."""
    for truth_file in sorted((dev_data / "truth").glob("*.json")):
        truth = json.loads(truth_file.read_text(encoding="utf-8"))
        number = (truth.get("person") or {}).get("id_number")
        if not number or not (truth.get("person") or {}).get("id_valid") or truth.get("faults"):
            continue
        pages = [p["n"] for p in truth["pages"] if any(number in line for line in p["lines"])]
        if pages and pages[0] > 1:
            return dev_data / "dossiers" / f"{truth_file.stem}.pdf", truth
    pytest.skip("no dev dossier with its ID number past the first page")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _chromium_or_skip()
    home = tmp_path_factory.mktemp("browser") / "home"
    add_users(settings_of(server_env(home, **SERVER)), PEOPLE, PASSWORD)
    with serving(home, **SERVER) as live:
        yield live


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    _chromium_or_skip()
    with sync_playwright() as pw:
        chromium = launch_chromium(pw)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("ARCHIVE_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Requests:
    """Every URL any page asked for, across every user's browser context."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def watch(self, context) -> None:
        context.on("request", lambda request: self.urls.append(request.url))


@pytest.fixture(scope="module")
def requests() -> Requests:
    return Requests()


def _signed_in(browser, server, requests: Requests, name: str, viewport=WIDE):
    context = browser.new_context(viewport=viewport, accept_downloads=True, locale="zh-CN")
    requests.watch(context)
    page = context.new_page()
    page.goto(server.url + "/login")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state("domcontentloaded")
    assert "/login" not in page.url, page.content()[:2000]
    return context, page


def _first_page_with(truth: dict, text: str) -> int:
    return next(p["n"] for p in truth["pages"] if any(text in line for line in p["lines"]))


@pytest.mark.slow
def test_a_dossier_from_upload_to_audit(server, browser, requests, shots, dossier) -> None:
    pdf, truth = dossier
    id_number = truth["person"]["id_number"]

    # 1. The archivist uploads the scan and watches the batch finish without reloading.
    context, page = _signed_in(browser, server, requests, "li.archivist")
    assert page.url.endswith("/batches/upload")
    page.set_input_files("#upload-files", str(pdf))
    page.get_by_role("button", name="上传", exact=True).click()
    panel = page.locator("[data-batch-panel][data-batch-id]")
    panel.wait_for()
    page.locator("[data-batch-panel][data-state=finished]").wait_for(timeout=300_000)
    assert page.locator('[data-batch-panel] [data-field="needs_review"]').inner_text() == "1"
    page.screenshot(path=str(shots / "upload.png"), full_page=True)
    review_href = page.locator('[data-list="review"] a').first.get_attribute("href")
    dossier_id = review_href.rsplit("/", 1)[-1]
    batch_id = panel.get_attribute("data-batch-id")
    page.goto(f"{server.url}/batches")
    assert batch_id in page.content()
    context.close()

    # 2. A second user reviews it beside its page image and approves it with one key.
    context, page = _signed_in(browser, server, requests, "wang.reviewer")
    assert page.url.endswith("/review")
    page.screenshot(path=str(shots / "review-queue.png"), full_page=True)
    page.locator(f'a[href="/review/{dossier_id}"]').first.click()
    page.wait_for_url(lambda url: f"/review/{dossier_id}" in url)  # the workbench adds #p<page>
    page.locator("#btn-approve").wait_for()
    assert page.locator("#btn-approve").is_enabled()
    page.wait_for_load_state("load")  # review.js has bound its keys
    page.screenshot(path=str(shots / "review-workbench.png"))
    page.locator("body").press("a")
    try:
        page.wait_for_url(lambda url: f"/review/{dossier_id}" not in url, timeout=30_000)
    except Exception:
        page.screenshot(path=str(shots / "failed-approve.png"), full_page=True)
        (shots / "failed-approve.html").write_text(page.content(), encoding="utf-8")
        raise
    page.goto(f"{server.url}/review/{dossier_id}")
    assert page.locator("#btn-approve").count() == 0 or not page.locator("#btn-approve").is_enabled()
    context.close()

    # 3. A caseworker of the office finds it by ID number and opens it at the matching page.
    context, page = _signed_in(browser, server, requests, "zhao.caseworker")
    page.get_by_label("检索词").fill(id_number) if page.get_by_label("检索词").count() else page.fill("#q", id_number)
    page.keyboard.press("Enter")
    page.wait_for_load_state("domcontentloaded")
    hit = page.locator(f'.hit a[href^="/dossiers/{dossier_id}"]').first
    hit.wait_for()
    page.screenshot(path=str(shots / "search.png"), full_page=True)
    expected = _first_page_with(truth, id_number)
    href = hit.get_attribute("href")
    assert f"page={expected}" in href, href
    page.locator(f'.hit-body a[href="{href}"]').first.click()
    page.wait_for_url(f"**/dossiers/{dossier_id}**")
    target = page.locator(f"#page-{expected}")
    assert "current" in (target.get_attribute("class") or "")
    page.wait_for_function(
        "n => { const r = document.getElementById('page-' + n).getBoundingClientRect();"
        " return r.top < window.innerHeight && r.bottom > 0; }",
        arg=expected,
    )
    page.wait_for_function(  # the page's image (watermarked for this reader) has arrived
        "n => { const i = document.querySelector('#page-' + n + ' img'); return i.complete && i.naturalWidth > 0; }",
        arg=expected,
    )
    page.evaluate("n => document.querySelector('#page-' + n + ' img').decode()", expected)
    page.wait_for_timeout(300)  # painted
    page.screenshot(path=str(shots / "dossier.png"))
    # A download asks for a reason and carries the user's name on every page.
    page.locator("[data-download]").first.click()
    page.locator("#download-dialog").wait_for()
    page.locator("#download-dialog input[type=radio]").first.check()
    with page.expect_download() as info:
        page.locator("#download-dialog button[type=submit]").click()
    downloaded = Path(info.value.path()).read_bytes()
    text = "".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(downloaded)).pages)
    assert "zhao.caseworker" in text
    page.goto(f"{server.url}/records?by=id_number&value={id_number}")
    assert dossier_id in page.content()
    context.close()

    # 4. The auditor sees who did what, verifies the chain and looks at the dashboard.
    context, page = _signed_in(browser, server, requests, "sun.auditor")
    page.goto(f"{server.url}/audit?dossier={dossier_id}")
    table = page.locator("table").first.inner_text()
    for who in ("li.archivist", "wang.reviewer", "zhao.caseworker"):
        assert who in table, who
    page.get_by_role("button", name=re.compile("立即校验")).click()
    page.get_by_text(re.compile("校验通过|链完整|未发现")).first.wait_for(timeout=30_000)
    page.screenshot(path=str(shots / "audit.png"), full_page=True)
    page.goto(f"{server.url}/dashboard")
    assert page.locator("svg[role=img]").count() >= 3
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    context.close()

    # 5. A caseworker of another office sees nothing of it.
    context, page = _signed_in(browser, server, requests, "qian.caseworker")
    page.goto(f"{server.url}/search?q={id_number}")
    assert page.locator(".hit").count() == 0
    assert dossier_id not in page.content()
    answer = page.goto(f"{server.url}/dossiers/{dossier_id}")
    assert answer.status == 404
    assert page.request.get(f"{server.url}/api/v1/dossiers/{dossier_id}/pages/1/image").status == 404
    context.close()

    # 6. The administrator's screens, on a tablet.
    context, page = _signed_in(browser, server, requests, "zhou.admin", viewport=TABLET)
    page.screenshot(path=str(shots / "admin-users.png"), full_page=True)
    page.goto(f"{server.url}/admin/status")
    page.screenshot(path=str(shots / "admin-status.png"), full_page=True)
    context.close()

    own = [u for u in requests.urls if not u.startswith(server.url + "/") and not u.startswith(("data:", "blob:"))]
    assert not own, own[:10]
    assert len(requests.urls) > 30
