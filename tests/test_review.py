"""Review (maker-checker): corrections, approval by a second person, history and training data."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from archive import metadata as describe
from archive import numbering, review
from archive.classify.store import taxonomy_for
from archive.errors import Forbidden, Invalid, NotFound
from archive.integrity.snapshot import load_snapshots, objects_of
from archive.pipeline.runner import run_batch
from archive.records.models import Dossier, DossierEvent, TrainingExample
from archive.runtime import Runtime
from archive.storage.base import NO_HOLD, Hold
from tests.conftest import FIXTURES

INGESTER = "system:archivist-a"


@pytest.fixture
def queued(runtime: Runtime, ocr_pool) -> str:
    """One ingested dossier forced into review (threshold above any confidence)."""
    runtime.settings.classify_threshold = 1.01
    lines: list[dict] = []
    run_batch(
        runtime,
        [str(FIXTURES / "synthetic" / "dossier-002.pdf")],
        office="370303",
        user=INGESTER,
        emit=lines.append,
        pool_factory=lambda: ocr_pool,
    )
    [line] = lines
    assert line["status"] == "needs_review"
    assert [p["code"] for p in line["problems"]] == ["unclassified"]
    assert len(line["candidates"]) == 3
    return line["dossier"]


def test_queue_lists_and_orders_by_severity(runtime: Runtime, queued: str) -> None:
    with runtime.sessions() as s:
        items = review.queue(s)
        assert [i.id for i in items] == [queued]
        assert items[0].severity >= 3
        assert review.queue(s, office="999999") == []


def test_ingester_cannot_approve_own_dossier(runtime: Runtime, queued: str) -> None:
    with runtime.sessions.begin() as s, pytest.raises(Forbidden) as err:
        review.approve(s, queued, INGESTER)
    assert err.value.code == "self_approval" and "入库人" in err.value.message
    with runtime.sessions() as s:
        assert s.get(Dossier, queued).status == "needs_review"


def test_approval_holds_the_dossiers_objects_until_its_retention_ends(runtime: Runtime, queued: str) -> None:
    """Waiting for review nothing is held (a rejected scan may go); once approved, every object of the
    dossier is held by the store until its 保管期限 ends (a 定期 period for 退工备案), counted from the later of
    the year it was formed and the year it was filed."""
    with runtime.sessions() as s:
        keys = [o.key for o in objects_of(load_snapshots(s, [queued]))]
    assert len(keys) >= 4 and all(runtime.store.hold(k) == NO_HOLD for k in keys)
    with runtime.sessions.begin() as s:
        review.approve(s, queued, "system:reviewer-b")
    with runtime.sessions() as s:
        dossier = s.get(Dossier, queued)
        filed = dossier.reviewed_at.year
        formed = dossier.date_end.year if dossier.date_end else filed
        years = int(taxonomy_for(runtime.settings).by_name("退工备案").retention.removesuffix("年"))
        end = datetime(max(filed, formed) + 1 + years, 1, 1, tzinfo=UTC)
        assert dossier.hold_applied == end.date().isoformat()
    for key in keys:
        assert runtime.store.hold(key) == Hold(retain_until=end), key


def test_approval_needs_a_title_and_gives_a_number(runtime: Runtime, queued: str) -> None:
    """A dossier read without 题名 waits for a reviewer to supply one: approval is refused until then.
    One without any number gets the next free 档号 of its office, type, year and retention on approval."""
    with runtime.sessions.begin() as s:
        dossier = s.get(Dossier, queued)
        dossier.title = dossier.archive_number = dossier.business_number = None
        dossier.problems = [{"code": "metadata_missing", "detail": describe.problem_detail([describe.TITLE])}]
        year = dossier.date_end.year
        prefix = f"370303-SEPR-{year}-{dossier.retention}"
    with runtime.sessions.begin() as s, pytest.raises(Invalid) as err:
        review.approve(s, queued, "system:reviewer-b")
    assert err.value.code == "metadata_missing" and "题名" in err.value.message
    taxonomy = taxonomy_for(runtime.settings)
    with runtime.sessions.begin() as s:
        review.correct(s, taxonomy, queued, "system:reviewer-b", fields={"title": "宋雪军退工备案"})
        assert s.get(Dossier, queued).problems == []  # only the title was missing; the number comes on filing
    with runtime.sessions.begin() as s:
        review.approve(s, queued, "system:reviewer-b", taxonomy)
    with runtime.sessions() as s:
        dossier = s.get(Dossier, queued)
        assert dossier.status == "archived" and dossier.archive_number == f"{prefix}-0001"


def test_assigned_numbers_skip_taken_ones_and_never_repeat(runtime: Runtime, queued: str) -> None:
    with runtime.sessions.begin() as s:
        dossier = s.get(Dossier, queued)
        prefix = numbering.prefix_for(dossier, "SEPR")
        dossier.archive_number = f"{prefix}-0002"  # read from a scan
    numbers = []
    for _ in range(3):
        with runtime.sessions.begin() as s:
            probe = Dossier(office="370303", retention=dossier.retention, date_end=dossier.date_end)
            numbers.append(numbering.assign(s, probe, "SEPR"))
    assert numbers == [f"{prefix}-0001", f"{prefix}-0003", f"{prefix}-0004"]


def test_correct_then_second_person_approves(runtime: Runtime, queued: str) -> None:
    taxonomy = taxonomy_for(runtime.settings)
    with runtime.sessions.begin() as s:
        review.correct(
            s, taxonomy, queued, "system:reviewer-b", business_type="失业保险金申领", fields={"person_name": "宋雪军"}
        )
    with runtime.sessions.begin() as s:
        review.correct(s, taxonomy, queued, "system:reviewer-b", business_type="退工备案")
    with runtime.sessions.begin() as s:
        review.approve(s, queued, "system:reviewer-b")
    with runtime.sessions() as s:
        dossier = s.get(Dossier, queued)
        assert (dossier.status, dossier.business_type, dossier.reviewed_by) == (
            "archived",
            "退工备案",
            "system:reviewer-b",
        )
        assert dossier.retention == taxonomy.by_name("退工备案").retention
        assert dossier.problems == []  # the unclassified note went with the correction
        events = s.scalars(
            select(DossierEvent).where(DossierEvent.dossier_id == queued).order_by(DossierEvent.at)
        ).all()
        assert [e.action for e in events] == ["ingested", "corrected", "corrected", "approved"]
        assert events[1].detail["business_type"]["after"] == "失业保险金申领"
        assert events[1].detail["person_name"]["after"] == "宋雪军"
        examples = s.scalars(select(TrainingExample).where(TrainingExample.dossier_id == queued)).all()
        assert sorted((e.reason, e.business_type) for e in examples) == [
            ("approved", "退工备案"),
            ("corrected", "失业保险金申领"),
            ("corrected", "退工备案"),
        ]
        assert all(e.pages and "解除" in "".join(e.pages) for e in examples)
    with runtime.sessions.begin() as s, pytest.raises(Invalid) as err:
        review.reject(s, queued, "system:reviewer-c", "重复")
    assert err.value.code == "not_in_review"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"business_type": "不存在的类型"}, "unknown_business_type"),
        ({"fields": {"person_id_number": "110105194912310021"}}, "invalid_value"),
        ({"fields": {"unit_uscc": "91350100M000100Y44"}}, "invalid_value"),
        ({"fields": {"status": "archived"}}, "field_not_editable"),
        ({}, "nothing_to_change"),
    ],
)
def test_bad_corrections_are_refused(runtime: Runtime, queued: str, kwargs: dict, code: str) -> None:
    taxonomy = taxonomy_for(runtime.settings)
    with runtime.sessions.begin() as s, pytest.raises(Invalid) as err:
        review.correct(s, taxonomy, queued, "system:reviewer-b", **kwargs)
    assert err.value.code == code and err.value.message


def test_reject_needs_a_reason_and_unknown_ids_are_not_found(runtime: Runtime, queued: str) -> None:
    with runtime.sessions.begin() as s, pytest.raises(Invalid):
        review.reject(s, queued, "system:reviewer-b", "  ")
    with runtime.sessions.begin() as s:
        review.reject(s, queued, "system:reviewer-b", "扫描不全")
    with runtime.sessions() as s, pytest.raises(NotFound):
        review.approve(s, "01a20000-0000-7000-8000-000000000000", "system:reviewer-b")
