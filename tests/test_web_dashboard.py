"""The dashboard page (/dashboard) and its aggregate queries (archive.reading.statistics): the
figures match the seeded data, an office user counts only their office, every role may look,
the charts are inline SVG with data tables, the view is logged; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from archive.identity.principal import Principal
from archive.reading import statistics
from archive.records.models import AccessLogEntry, Batch, Dossier, Original, Page
from archive.runtime import open_runtime
from archive.settings import Settings
from tests.api_client import running
from tests.api_seed import OFFICE_A, OFFICE_B, add_users
from tests.web_client import sign_in

NOW = datetime.now(UTC)


def add_dossier(
    settings: Settings,
    office: str,
    *,
    business_type: str | None,
    status: str,
    confidences: list[float | None],
    age_days: int = 0,
    label: str,
) -> str:
    """A dossier ingested ``age_days`` ago with one page per confidence (rows only, no objects)."""
    rt = open_runtime(settings)
    created = NOW - timedelta(days=age_days)
    try:
        with rt.sessions.begin() as session:
            batch = Batch(created_by="archivist", office=office, status="completed", fingerprint=label, engine="test")
            batch.created_at = created
            session.add(batch)
            session.flush()
            original = Original(
                sha256=f"{label:0>64}"[-64:],
                size=1,
                media_type="application/pdf",
                filename=f"{label}.pdf",
                object_key=f"originals/{label}",
                batch_id=batch.id,
            )
            session.add(original)
            session.flush()
            dossier = Dossier(
                batch_id=batch.id,
                original_id=original.id,
                seq_in_source=1,
                title=f"秘密标题 {label}",
                office=office,
                business_type=business_type,
                status=status,
                person_id_number="11010519491231002X",
                person_name="李秘密",
                page_count=len(confidences),
                created_at=created,
            )
            session.add(dossier)
            session.flush()
            for number, confidence in enumerate(confidences, start=1):
                session.add(
                    Page(
                        dossier_id=dossier.id,
                        number=number,
                        source_index=number - 1,
                        image_key=f"pages/{label}/{number}",
                        image_sha256=f"{label}{number}",
                        media_type="image/png",
                        width=10,
                        height=10,
                        ocr_key=f"ocr/{label}/{number}",
                        ocr_engine="test",
                        mean_confidence=confidence,
                    )
                )
            return dossier.id
    finally:
        rt.close()


def more_data(settings: Settings) -> None:
    """On top of the API seed (office A: 3 archived, 1 needs_review, 1 rejected, one page each at
    0.99, all today; office B: 1 archived): pages on earlier days, other types and confidences."""
    add_dossier(
        settings,
        OFFICE_A,
        business_type="工伤认定",
        status="needs_review",
        confidences=[0.3, 0.55, 0.92],
        age_days=2,
        label="w1",
    )
    add_dossier(settings, OFFICE_A, business_type=None, status="archived", confidences=[None, 0.7], label="u1")
    add_dossier(
        settings, OFFICE_A, business_type="工伤认定", status="destroyed", confidences=[0.1], age_days=1, label="d1"
    )
    add_dossier(  # office B only: a type nobody in office A has, pages 40 days ago (outside the 30)
        settings,
        OFFICE_B,
        business_type="失业保险待遇核定",
        status="archived",
        confidences=[0.96, 0.81],
        age_days=40,
        label="b2",
    )


def figure(html: str, name: str) -> int:
    found = re.search(rf'data-figure="{name}">([\d,]+)<', html)
    assert found, f"no figure {name}"
    return int(found.group(1).replace(",", ""))


def table(html: str, table_id: str) -> dict[str, list[str]]:
    """A data table under a chart: row header -> the cells."""
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = {}
    for row in re.findall(r"<tr><th scope=\"row\">(.*?)</th>(.*?)</tr>", body):
        rows[row[0]] = re.findall(r"<td[^>]*>(.*?)</td>", row[1])
    return rows


def svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r"<svg .*?</svg>", html, flags=re.S)]


def test_figures_match_the_seeded_data_for_every_office(settings: Settings) -> None:
    with running(settings) as (client, _):
        more_data(settings)
        sign_in(client, "auditor")  # office *: every office
        response = client.get("/dashboard")
        assert response.status_code == 200, response.text
        html = response.text
        assert "概览" in html and "统计范围：全部机构" in html
        assert figure(html, "archived") == 3 + 1 + 1 + 1  # a1..a3, b1, u1, b2
        assert figure(html, "needs_review") == 2  # r1, w1
        assert figure(html, "rejected") == 1
        assert figure(html, "pages") == 6 + 3 + 2 + 2  # the destroyed dossier's page not counted
        assert figure(html, "batches_today") == 2 + 1  # the seed's two, u1's

        types = table(html, "table-types")
        header = re.findall(
            r'<th scope="col" class="num">(.*?)</th>', html.split('id="table-types"')[1].split("</thead>")[0]
        )
        assert header == ["已归档", "待审核", "已驳回", "已销毁", "合计"]
        assert types["参保登记"] == ["4", "1", "1", "0", "6"]
        assert types["工伤认定"] == ["0", "1", "0", "1", "2"]
        assert types["未分类"] == ["1", "0", "0", "0", "1"]
        assert types["失业保险待遇核定"] == ["1", "0", "0", "0", "1"]
        assert list(types)[0] == "参保登记"  # most dossiers first

        days = table(html, "table-days")
        assert len(days) == 30
        today = NOW.astimezone(statistics.BEIJING).date()
        assert days[today.isoformat()] == ["8"]  # six seed pages + u1's two
        assert days[(today - timedelta(days=2)).isoformat()] == ["3"]
        assert days[(today - timedelta(days=1)).isoformat()] == ["0"]  # only the destroyed dossier's page
        assert sum(int(v[0]) for v in days.values()) == 11  # b2 (40 days ago) is outside

        confidence = table(html, "table-confidence")
        assert confidence == {
            "0–0.5": ["1"],
            "0.5–0.6": ["1"],
            "0.6–0.7": ["0"],
            "0.7–0.8": ["1"],
            "0.8–0.9": ["1"],
            "0.9–0.95": ["1"],
            "0.95–1.0": ["7"],  # the seed's six, b2's 0.96
            "无置信度": ["1"],
        }

        charts = svgs(html)
        assert len(charts) == 3
        for chart in charts:
            assert chart.get("role") == "img" and chart.find("title").text and chart.find("desc").text
        stacked, per_day, histogram = charts
        assert len([r for r in stacked.iter("rect") if r.get("class") == "bar"]) == 4 * 4
        day_bars = [int(r.get("data-value")) for r in per_day.iter("rect") if r.get("class") == "bar"]
        assert len(day_bars) == 30 and day_bars[-1] == 8 and sum(day_bars) == 11
        bins = [int(r.get("data-value")) for r in histogram.iter("rect") if r.get("class") == "bar"]
        assert bins == [1, 1, 0, 1, 1, 1, 7]

        assert "李秘密" not in html and "11010519491231002X" not in html and "秘密标题" not in html
        assert "<script>" not in html and 'style="' not in html and "http://" not in html


def test_an_office_user_counts_only_their_office(settings: Settings) -> None:
    with running(settings) as (client, _):
        more_data(settings)
        sign_in(client, "archivist")  # office A
        html = client.get("/dashboard").text
        assert f"统计范围：经办机构 {OFFICE_A}" in html
        assert figure(html, "archived") == 3 + 1  # not b1, not b2
        assert figure(html, "needs_review") == 2
        assert figure(html, "pages") == 5 + 3 + 2
        assert figure(html, "batches_today") == 1 + 1
        assert "失业保险待遇核定" not in html  # office B's only type
        assert table(html, "table-types")["参保登记"] == ["3", "1", "1", "0", "5"]
        assert table(html, "table-confidence")["0.95–1.0"] == ["5"]  # b1's and b2's pages are office B's


def test_every_role_sees_it_and_each_view_is_logged(settings: Settings) -> None:
    with running(settings) as (client, _):
        for name in ("archivist", "reviewer", "caseworker", "auditor", "admin"):
            sign_in(client, name)
            response = client.get("/dashboard")
            assert response.status_code == 200, name
            assert '<link rel="stylesheet" href="/static/css/dashboard.css">' in response.text
        client.cookies.clear()
        anonymous = client.get("/dashboard", follow_redirects=False)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
        rt = open_runtime(settings)
        try:
            with rt.sessions() as session:
                views = session.execute(
                    select(AccessLogEntry.actor, AccessLogEntry.outcome, AccessLogEntry.detail)
                    .where(AccessLogEntry.action == "dashboard_view")
                    .order_by(AccessLogEntry.seq)
                ).all()
        finally:
            rt.close()
        assert [(v.actor, v.outcome) for v in views] == [
            (n, "allowed") for n in ("archivist", "reviewer", "caseworker", "auditor", "admin")
        ]
        assert views[0].detail == {"office": OFFICE_A} and views[-1].detail == {"office": "*"}


def test_empty_archive_draws_no_data_charts(settings: Settings) -> None:
    with running(settings, seeded=False) as (client, _):
        rt = open_runtime(settings)
        try:
            add_users(rt)
        finally:
            rt.close()
        sign_in(client, "reviewer")
        html = client.get("/dashboard").text
        assert figure(html, "archived") == 0 and figure(html, "pages") == 0
        assert html.count("暂无数据") == 3


def test_statistics_use_the_database_day_of_beijing_time(settings: Settings) -> None:
    """A page ingested at 17:30 UTC counts on the next Beijing day (01:30 +08:00), in SQL."""
    with running(settings) as (client, _):
        rt = open_runtime(settings)
        try:
            late = datetime(2026, 3, 1, 17, 30, tzinfo=UTC)
            with rt.sessions.begin() as session:
                session.execute(Dossier.__table__.update().values(created_at=late))
            with rt.sessions() as session:
                everyone = Principal("x", "auditor", "auditor", "*")
                days = statistics.pages_per_day(session, None, late.astimezone(statistics.BEIJING).date(), days=3)
                assert [(d.isoformat(), n) for d, n in days] == [
                    ("2026-02-28", 0),
                    ("2026-03-01", 0),
                    ("2026-03-02", 6),
                ]
                figures = statistics.overview(session, everyone, now=late + timedelta(hours=1))
                assert figures.pages_per_day[-1][1] == 6 and figures.office is None
                office_a = Principal("y", "archivist", "archivist", OFFICE_A)
                assert statistics.overview(session, office_a, now=late).pages_per_day[-1][1] == 5
        finally:
            rt.close()
