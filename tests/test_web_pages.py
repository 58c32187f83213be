"""The web interface's frame: signing in and out, where each role lands, refusals, error pages,
the page CSP, and no asset from anywhere but the app."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from sqlalchemy import select

from api.deps import SESSION_COOKIE
from api.web.mount import PAGE_ROUTERS
from api.web.render import HERE
from archive.identity import users
from archive.records.models import AccessLogEntry
from archive.runtime import open_runtime
from tests.api_client import api_settings, running
from tests.api_seed import PASSWORD
from tests.web_client import sign_in

PUBLIC_PAGES = {("GET", "/"), ("GET", "/login"), ("POST", "/login")}
SIGNED_IN_ONLY = {"signed_in"}  # the password page and sign-out: any signed-in user


def _dependency_names(route: APIRoute) -> set[str]:
    names, stack = set(), list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        names.add(getattr(dep.call, "__name__", ""))
        stack.extend(dep.dependencies)
    return names


def test_every_page_requires_a_signed_in_user() -> None:
    checked = 0
    for module in PAGE_ROUTERS:
        for route in module.router.routes:
            assert isinstance(route, APIRoute)
            for method in route.methods:
                if (method, route.path) in PUBLIC_PAGES:
                    continue
                names = _dependency_names(route)
                assert any(n.startswith("page_user_") for n in names) or names & SIGNED_IN_ONLY, (method, route.path)
                checked += 1
    assert checked >= 18


def test_the_menu_marks_only_the_page_it_is_on() -> None:
    from api.web.nav import NAV, current_of

    assert current_of(list(NAV), "/batches/upload") == "/batches/upload"
    assert current_of(list(NAV), "/batches/0190aa") == "/batches"
    assert current_of(list(NAV), "/admin/users") == "/admin/users"
    assert current_of(list(NAV), "/batchesx") is None


def test_not_signed_in_goes_to_the_sign_in_page(settings) -> None:
    with running(settings, seeded=False) as (client, _):
        answer = client.get("/dashboard?x=1", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=/dashboard%3Fx%3D1"
        assert client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_each_role_lands_on_its_own_page_and_sees_its_own_menu(settings) -> None:
    homes = {"archivist": "/batches/upload", "reviewer": "/review", "caseworker": "/search", "auditor": "/audit"}
    with running(settings) as (client, _):
        for name, home in homes.items():
            client.cookies.clear()
            answer = client.post("/login", data={"username": name, "password": PASSWORD}, follow_redirects=False)
            assert answer.status_code == 303 and answer.headers["location"] == home, name
            menu = client.get("/login").text  # any page renders the menu when signed in? the login page does not
            assert "退出" not in menu
        sign_in(client, "caseworker")
        page = client.get("/dashboard").text
        assert 'href="/search"' in page and 'href="/audit"' not in page and 'href="/admin/users"' not in page
        assert "caseworker" in page and "经办人员" in page
        sign_in(client, "auditor")
        page = client.get("/dashboard").text
        assert 'href="/audit"' in page and 'href="/search"' not in page and 'href="/batches/upload"' not in page


def test_a_wrong_password_is_answered_in_chinese_and_logged(settings) -> None:
    with running(settings) as (client, _):
        answer = client.post("/login", data={"username": "reviewer", "password": "wrong-password-1"})
        assert answer.status_code == 401
        assert "用户名或密码错误" in answer.text and SESSION_COOKIE not in client.cookies
    rt = open_runtime(api_settings(settings))
    try:
        with rt.sessions() as session:
            rows = session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "login")).all()
        assert any(r.outcome == "denied" and r.actor == "reviewer" for r in rows)
    finally:
        rt.close()


def test_sign_in_goes_only_to_a_path_of_this_site(settings) -> None:
    with running(settings) as (client, _):
        for bad in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
            client.cookies.clear()
            form = {"username": "caseworker", "password": PASSWORD, "next": bad}
            answer = client.post("/login", data=form, follow_redirects=False)
            assert answer.headers["location"] == "/search", bad
        client.cookies.clear()
        form = {"username": "caseworker", "password": PASSWORD, "next": "/records?id=1"}
        assert client.post("/login", data=form, follow_redirects=False).headers["location"] == "/records?id=1"


def test_a_sign_in_form_posted_from_another_site_is_refused(settings) -> None:
    with running(settings) as (client, _):
        form = {"username": "caseworker", "password": PASSWORD}
        answer = client.post("/login", data=form, headers={"Origin": "https://evil.example"}, follow_redirects=False)
        assert answer.status_code == 403 and SESSION_COOKIE not in client.cookies
        assert "请从本系统的登录页登录" in answer.text
        cross_site = {"Sec-Fetch-Site": "cross-site", "Origin": "null"}
        assert client.post("/login", data=form, headers=cross_site, follow_redirects=False).status_code == 403
        same_site = {"Sec-Fetch-Site": "same-origin", "Origin": "null"}  # Chromium under no-referrer
        assert client.post("/login", data=form, headers=same_site, follow_redirects=False).status_code == 303


def test_sign_out_needs_the_form_token_and_ends_the_session(settings) -> None:
    with running(settings) as (client, _):
        csrf = sign_in(client, "caseworker")
        assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
        assert client.get("/api/v1/auth/me").status_code == 200
        secret = client.cookies.get(SESSION_COOKIE)
        answer = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/login"
        client.cookies.set(SESSION_COOKIE, secret)  # the old cookie no longer works anywhere
        assert client.get("/api/v1/auth/me").status_code == 401
        assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_a_reset_password_must_be_changed_before_any_page(settings) -> None:
    with running(settings) as (client, _):
        app_settings = client.app.state.archive.rt.settings
        rt = open_runtime(app_settings)
        try:
            with rt.sessions.begin() as session:
                users.set_password(session, "caseworker", "Temporary-Pass-2026!")
        finally:
            rt.close()
        form = {"username": "caseworker", "password": "Temporary-Pass-2026!"}
        answer = client.post("/login", data=form, follow_redirects=False)
        assert answer.headers["location"] == "/password"
        assert client.get("/search", follow_redirects=False).headers["location"] == "/password"
        csrf = client.cookies.get("archive_csrf")
        change = {"current_password": "Temporary-Pass-2026!", "new_password": "Temporary-Pass-2026!", "csrf": csrf}
        assert "新密码不能与当前密码相同" in client.post("/password", data=change).text
        change["new_password"] = "Changed-Pass-2026-ok!"
        assert client.post("/password", data=change, follow_redirects=False).headers["location"] == "/login"
        form["password"] = "Changed-Pass-2026-ok!"
        assert client.post("/login", data=form, follow_redirects=False).headers["location"] == "/search"


def test_pages_forbid_every_other_origin_and_errors_are_chinese_pages(settings) -> None:
    with running(settings) as (client, _):
        csp = client.get("/login").headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "http" not in csp
        assert "unsafe-inline" not in csp
        assert client.get("/api/v1/health").headers["content-security-policy"].startswith("default-src 'none'")
        sign_in(client, "caseworker")
        missing = client.get("/no-such-page")
        assert (
            missing.status_code == 404
            and "页面不存在" in missing.text
            and "text/html" in missing.headers["content-type"]
        )
        assert client.get("/api/v1/no-such").json()["error"]["code"] == "not_found"
        refused = client.get("/audit")
        assert refused.status_code == 403 and "无权" in refused.text
        static = client.get("/static/css/app.css")
        assert static.status_code == 200 and "max-age" in static.headers["cache-control"]


EXTERNAL = re.compile(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", re.I)
ALLOWED = ("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink")


def test_no_template_or_asset_names_another_address() -> None:
    files = [
        p
        for p in HERE.rglob("*")
        if p.is_file() and p.suffix in {".html", ".css", ".js", ".svg"} and "vendor" not in p.parts
    ]
    assert len(files) >= 5
    for path in files:
        text = path.read_text(encoding="utf-8")
        for found in EXTERNAL.findall(text):
            assert any(found in allowed for allowed in ALLOWED), f"{path.relative_to(HERE)}: {found}"


def test_every_local_asset_a_template_names_exists() -> None:
    for path in (HERE / "templates").rglob("*.html"):
        for ref in re.findall(r'(?:src|href)="(/static/[^"?#]+)', path.read_text(encoding="utf-8")):
            assert (HERE / ref.removeprefix("/")).is_file(), f"{path.name}: {ref}"


def test_templates_carry_no_inline_script_or_style() -> None:
    for path in (HERE / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path.name
        assert not re.search(r"\son[a-z]+=", text), path.name
        assert not re.search(r"\sstyle=", text), path.name
        assert "<style" not in text, path.name


def test_the_api_documentation_loads_nothing_from_another_address(settings) -> None:
    with running(settings, seeded=False) as (client, _):
        page = client.get("/docs")
        assert page.status_code == 200 and "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page.text
        assert "cdn." not in page.text and "validatorUrl" in page.text
        assert "cdn" not in page.headers["content-security-policy"]
        assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
        assert client.get("/redoc").status_code == 404
