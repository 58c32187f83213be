"""Appraisal and disposition (鉴定与销毁) on really ingested dossiers, with a clock the tests control.

The synthetic batch (three dossiers behind separator sheets, one original) is ingested once with
PaddleOCR; every test works on its own copy of that archive home.  The first dossier is made 永久 in
the records; the others keep the retention the classifier gave them (100年 and 10年).  The service
functions take the moment they act at, and the filesystem store gets its own clock, so a test can let
the service's time pass a retention end while the store's lock still holds.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, update

from archive import cli_common, cli_disposition
from archive.disposition import appraisal, destroy, due
from archive.disposition.register import open_register, register_key
from archive.errors import Forbidden, Invalid, NotFound
from archive.identity.principal import Principal
from archive.integrity.snapshot import load_snapshots, objects_of
from archive.pipeline.runner import run_batch
from archive.reading.scope import load_visible
from archive.records.models import (
    AccessLogEntry,
    Appraisal,
    DestructionRegister,
    DisposalObject,
    Dossier,
    DossierEvent,
    OcrResult,
    Original,
    Page,
    TrainingExample,
)
from archive.retention.period import retention_end
from archive.runtime import Runtime, open_runtime
from archive.settings import Settings, get_settings
from archive.storage.base import RetentionActive
from archive.storage.filesystem import FilesystemStore
from tests.conftest import FIXTURES

OFFICE = "370303"
INGESTER = "system:ingester"
ALICE, BOB = "system:alice", "system:bob"  # two different operators


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, ocr_pool) -> Path:
    """An archive home holding the three archived dossiers of the synthetic batch."""
    home = tmp_path_factory.mktemp("disposition") / "home"
    rt = open_runtime(Settings(home=home, ocr_workers=0, ocr_threads=2))
    try:
        lines: list[dict] = []
        source = str(FIXTURES / "synthetic" / "batch.pdf")
        run_batch(rt, [source], office=OFFICE, user=INGESTER, emit=lines.append, pool_factory=lambda: ocr_pool)
        assert len(lines) == 3
        with rt.sessions.begin() as s:
            # Whatever the classifier decided, the test needs all three archived, the first one 永久.
            for line in lines:
                s.execute(update(Dossier).where(Dossier.id == line["dossier"]).values(status="archived"))
            s.execute(update(Dossier).where(Dossier.id == lines[0]["dossier"]).values(retention="永久"))
    finally:
        rt.close()
    return home


@dataclass
class Clock:
    """The store's clock (UTC); the service's clock is passed to each call."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Archive:
    rt: Runtime
    store_clock: Clock
    permanent: Dossier  # 永久
    long: Dossier  # 100年
    short: Dossier  # 10年


def _at(day: date) -> datetime:
    return datetime.combine(day, time(9, 0), tzinfo=UTC)


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "home"
    shutil.copytree(template, target)
    return target


@pytest.fixture
def archive(home: Path) -> Iterator[Archive]:
    rt = open_runtime(Settings(home=home, ocr_workers=0))
    clock = Clock(datetime.now(UTC))
    rt.store = FilesystemStore(rt.settings.objects_dir, clock=clock)
    with rt.sessions() as s:
        dossiers = list(s.scalars(select(Dossier).order_by(Dossier.seq_in_source)))
    by_retention = {d.retention: d for d in dossiers}
    assert set(by_retention) == {"永久", "100年", "10年"}, [d.retention for d in dossiers]
    yield Archive(rt, clock, by_retention["永久"], by_retention["100年"], by_retention["10年"])
    rt.close()


def _end(a: Archive, dossier: Dossier) -> date:
    with a.rt.sessions() as s:
        end = retention_end(s.get(Dossier, dossier.id))
    assert end is not None
    return end


def _due_ids(a: Archive, as_of: date, office: str | None = None) -> list[str]:
    with a.rt.sessions() as s:
        return [d.id for d in due.due_list(s, as_of, office)]


def _propose(a: Archive, ids: list[str], actor: str, now: datetime, decision: str = "destroy", **kw):
    with a.rt.sessions.begin() as s:
        return appraisal.propose(
            s, actor=actor, office=None, dossier_ids=ids, decision=decision, reason=kw.pop("reason", "期满鉴定"),
            now=now, **kw,
        )  # fmt: skip


def _approve(a: Archive, appraisal_id: str, actor: str, now: datetime, office: str | None = None):
    with a.rt.sessions.begin() as s:
        return appraisal.approve(s, a.rt.store, appraisal_id, actor=actor, office=office, now=now)


def _keys(a: Archive, dossier_id: str) -> dict[str, str]:
    with a.rt.sessions() as s:
        return {ref.key: ref.kind for ref in objects_of(load_snapshots(s, [dossier_id]))}


def _caseworker() -> Principal:
    return Principal(user_id="u-cw", name="caseworker", role="caseworker", office=OFFICE)


# -- the appraisal list ---------------------------------------------------------------------------


def test_the_list_shows_dossiers_whose_retention_ended_and_never_permanent_ones(archive: Archive) -> None:
    a = archive
    short_end, long_end = _end(a, a.short), _end(a, a.long)
    assert short_end < long_end
    assert short_end.month == short_end.day == 1  # 定期: from 1 January after formation/filing
    assert _due_ids(a, date(2026, 12, 31)) == []
    day_before = date.fromordinal(short_end.toordinal() - 1)
    assert _due_ids(a, day_before) == []
    assert _due_ids(a, short_end) == [a.short.id]
    assert _due_ids(a, long_end) == [a.short.id, a.long.id]  # the earliest end first
    assert _due_ids(a, date(2999, 1, 1)) == [a.short.id, a.long.id]  # 永久 never appears
    assert _due_ids(a, date(2999, 1, 1), office="999999") == []
    assert _due_ids(a, date(2999, 1, 1), office="*") == [a.short.id, a.long.id]
    with a.rt.sessions.begin() as s:  # only archived dossiers are appraised
        s.execute(update(Dossier).where(Dossier.id == a.short.id).values(status="needs_review"))
    assert _due_ids(a, date(2999, 1, 1)) == [a.long.id]


def test_proposal_rules(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    a = archive
    now = _at(_end(a, a.short))
    with pytest.raises(Invalid) as err:
        _propose(a, [a.long.id], ALICE, now)
    assert err.value.code == "not_due" and _end(a, a.long).isoformat() in err.value.message
    with pytest.raises(Invalid) as err:
        _propose(a, [a.permanent.id], ALICE, _at(date(2999, 1, 1)))
    assert err.value.code == "retention_permanent"
    with pytest.raises(Invalid) as err:
        _propose(a, [a.short.id], ALICE, now, reason="  ")
    assert err.value.code == "reason_required"
    with pytest.raises(Invalid) as err:
        _propose(a, [a.short.id], ALICE, now, decision="keep")
    assert err.value.code == "keep_years_invalid"
    with pytest.raises(Invalid) as err:
        _propose(a, [a.short.id], ALICE, now, decision="keep", keep_years=0)
    assert err.value.code == "keep_years_invalid"
    with pytest.raises(Invalid) as err:
        _propose(a, [a.short.id], ALICE, now, decision="shred")
    assert err.value.code == "invalid_decision"
    with pytest.raises(NotFound) as err:
        _propose(a, ["01900000-0000-7000-8000-000000000000"], ALICE, now)
    assert err.value.code == "dossier_not_found"
    with a.rt.sessions.begin() as s, pytest.raises(NotFound):  # another office's dossier: as if absent
        appraisal.propose(
            s, actor=ALICE, office="999999", dossier_ids=[a.short.id], decision="destroy", reason="x", now=now
        )

    made = _propose(a, [a.short.id], ALICE, now)
    assert (made.status, made.proposed_by, made.dossiers) == ("proposed", ALICE, (a.short.id,))
    with pytest.raises(Invalid) as err:  # one open appraisal per dossier
        _propose(a, [a.short.id], BOB, now, decision="keep", keep_years=5)
    assert err.value.code == "already_in_appraisal"
    with a.rt.sessions() as s:
        [listed] = due.due_list(s, now.date())
        assert listed.appraisal is not None and listed.appraisal.id == made.id
        assert listed.appraisal.proposed_by == ALICE and listed.appraisal.decision == "destroy"
        events = s.scalars(select(DossierEvent.action).where(DossierEvent.dossier_id == a.short.id)).all()
        assert "appraisal_proposed" in events
    # The database itself refuses a second open appraisal: two proposals racing past the check.
    monkeypatch.setattr(appraisal, "open_appraisals", lambda session, ids: {})
    with pytest.raises(Invalid) as err:
        _propose(a, [a.short.id], BOB, now)
    assert err.value.code == "already_in_appraisal"
    with a.rt.sessions() as s:
        assert s.scalars(select(Appraisal.id)).all() == [made.id]


# -- destroy: the whole cycle ---------------------------------------------------------------------


def test_destruction_cycle_register_shared_original_pending_then_purged(archive: Archive) -> None:
    a, rt = archive, archive.rt
    end = _end(a, a.short)
    now = _at(end)
    keys = _keys(a, a.short.id)
    original = next(k for k, kind in keys.items() if kind == "original")
    to_delete = sorted(k for k, kind in keys.items() if kind != "original")
    assert len(to_delete) == 3 + 3 + 1  # page images, OCR results, searchable PDF
    assert all(rt.store.exists(k) for k in keys)
    with rt.sessions() as s:
        assert load_visible(s, _caseworker(), a.short.id).id == a.short.id
        ocr_cached = s.scalar(select(OcrResult).where(OcrResult.ocr_key.in_(to_delete)).limit(1))
        assert ocr_cached is not None
    assert rt.search.pages_of(a.short.id)

    with rt.sessions.begin() as s:  # its text, confirmed by a reviewer, kept to train the classifier
        s.add(TrainingExample(dossier_id=a.short.id, business_type="x", pages=["文本"], actor=BOB, reason="approved"))
    made = _propose(a, [a.short.id], ALICE, now, reason="保管期限届满，经鉴定无继续保存价值")
    with pytest.raises(Forbidden) as err:
        _approve(a, made.id, ALICE, now)
    assert err.value.code == "self_approval_disposition" and "提议人" in err.value.message
    with pytest.raises(NotFound):  # an approver of another office does not see it
        _approve(a, made.id, BOB, now, office="999999")
    with rt.sessions() as s:
        assert s.get(Dossier, a.short.id).status == "archived"
        assert s.scalars(select(DestructionRegister)).all() == []

    # The store's clock is still today: its lock (to the retention end) holds after our clock passed it.
    assert a.store_clock.now < _at(end)
    decision = _approve(a, made.id, BOB, now)
    assert decision.appraisal.status == "approved" and decision.appraisal.decided_by == BOB
    reg = decision.register
    assert reg is not None and reg.key == register_key(reg.id) == f"registers/destruction/{reg.id}.json"
    assert (reg.objects_to_delete, reg.objects_kept_shared) == (7, 1)
    assert rt.store.hold(reg.key).legal_hold is True

    # The register document: one entry with everything the rule asks for.
    doc = json.loads(rt.store.get(reg.key))
    assert doc["title"] == "销毁清册" and doc["id"] == reg.id and doc["appraisal_id"] == made.id
    assert (doc["decision"], doc["reason"]) == ("destroy", "保管期限届满，经鉴定无继续保存价值")
    assert (doc["proposed_by"], doc["approved_by"]) == (ALICE, BOB)
    assert doc["approved_at"] == now.isoformat() and doc["proposed_at"] == now.isoformat()
    [entry] = doc["entries"]
    assert entry["archive_number"] == a.short.archive_number and entry["title"] == a.short.title
    assert entry["date_start"] == (a.short.date_start.isoformat() if a.short.date_start else None)
    assert entry["date_end"] == a.short.date_end.isoformat()
    assert (entry["retention"], entry["retention_end"]) == ("10年", end.isoformat())
    assert entry["page_count"] == 3
    listed = {o["key"]: o for o in entry["objects"]}
    assert set(listed) == set(keys)
    with rt.sessions() as s:
        pages = s.scalars(select(Page).where(Page.dossier_id == a.short.id)).all()
    for page in pages:
        assert listed[page.image_key]["sha256"] == page.image_sha256
        assert listed[page.image_key]["action"] == "delete"
    assert listed[original]["action"] == "keep_shared"
    assert sorted(listed[original]["shared_with"]) == sorted([a.permanent.archive_number, a.long.archive_number])
    assert doc["totals"] == {
        "dossiers": 1,
        "pages": 3,
        "objects": 8,
        "objects_to_delete": 7,
        "objects_kept_shared": 1,
    }

    # The records: register row, content cleared, destroyed, out of the index and out of sight.
    with rt.sessions() as s:
        row = s.get(DestructionRegister, reg.id)
        assert row is not None and row.sha256 == reg.sha256 and row.created_by == BOB
        d = s.get(Dossier, a.short.id)
        assert d.status == "destroyed"
        assert (d.person_name, d.person_id_number, d.unit_name, d.unit_uscc) == (None, None, None, None)
        assert d.record == {} and d.identifiers == {}
        assert d.archive_number == a.short.archive_number  # the description stays, with the register
        assert all(p.text == "" and p.lines == [] for p in s.scalars(select(Page).where(Page.dossier_id == d.id)))
        assert s.scalar(select(OcrResult).where(OcrResult.ocr_key.in_(to_delete)).limit(1)) is None
        assert s.scalars(select(TrainingExample).where(TrainingExample.dossier_id == d.id)).all() == []
        assert "destroyed" in s.scalars(select(DossierEvent.action).where(DossierEvent.dossier_id == d.id)).all()
        with pytest.raises(NotFound):
            load_visible(s, _caseworker(), a.short.id)
        assert load_visible(s, _caseworker(), a.long.id).id == a.long.id  # the others stay readable
    assert rt.search.pages_of(a.short.id) == []
    assert a.short.id not in set(rt.search.dossier_ids())
    assert a.long.id in set(rt.search.dossier_ids())
    assert rt.indexer.check("embedded").ok  # a destroyed dossier missing from the index is no drift
    assert _due_ids(a, date(2999, 1, 1)) == [a.long.id]

    # Deletion: the store refuses while its own lock holds; everything stays, recorded as pending.
    report = destroy.destroy_objects(rt.store, rt.sessions, reg.id, now)
    assert report.totals == {"pending": 7, "shared": 1} and not report.finished
    assert all("仍受保护" in o.detail for o in report.tried if o.outcome == "pending")
    assert all(rt.store.exists(k) for k in keys)
    assert [r.totals for r in destroy.purge(rt.store, rt.sessions, now)] == [{"pending": 7, "shared": 1}]

    # The store's clock passes the lock: purge deletes them; the shared original and the register stay.
    a.store_clock.now = _at(end)
    [done] = destroy.purge(rt.store, rt.sessions, _at(end))
    assert done.totals == {"deleted": 7, "shared": 1} and done.finished
    assert not any(rt.store.exists(k) for k in to_delete)
    assert rt.store.exists(original)
    assert destroy.purge(rt.store, rt.sessions, _at(end)) == []  # nothing left to do
    a.store_clock.now = _at(date(2999, 1, 1))
    with pytest.raises(RetentionActive):
        rt.store.dispose(reg.key)  # the register is under a legal hold for good
    with rt.sessions() as s:
        view = open_register(s, rt.store, reg.id, OFFICE)
        outcomes = {o["key"]: (o["outcome"], o["attempts"]) for o in view.objects}
        assert outcomes[original][0] == "shared" and "共用" in next(
            o["detail"] for o in view.objects if o["key"] == original
        )
        assert {outcomes[k] for k in to_delete} == {("deleted", 3)}
        with pytest.raises(NotFound):
            open_register(s, rt.store, reg.id, "999999")
        rows = s.scalars(select(DisposalObject).where(DisposalObject.register_id == reg.id)).all()
        assert len(rows) == 8


def test_an_object_already_gone_is_recorded_as_gone(archive: Archive) -> None:
    a, rt = archive, archive.rt
    end = _end(a, a.short)
    a.store_clock.now = _at(end)
    made = _propose(a, [a.short.id], ALICE, _at(end))
    reg = _approve(a, made.id, BOB, _at(end)).register
    assert reg is not None
    pdf = next(k for k, kind in _keys(a, a.short.id).items() if kind == "searchable_pdf")
    assert rt.store.dispose(pdf) is True  # someone deleted it before us
    report = destroy.destroy_objects(rt.store, rt.sessions, reg.id, _at(end))
    assert report.totals == {"deleted": 6, "gone": 1, "shared": 1}


def test_destroying_every_dossier_of_an_original_deletes_the_original_too(archive: Archive) -> None:
    a, rt = archive, archive.rt
    with rt.sessions.begin() as s:  # make all three due by 2200 (the 永久 one becomes 10年 here)
        s.execute(update(Dossier).where(Dossier.id == a.permanent.id).values(retention="10年"))
    now = _at(date(2200, 1, 1))
    a.store_clock.now = now
    ids = [a.permanent.id, a.long.id, a.short.id]
    original = next(k for k, kind in _keys(a, a.short.id).items() if kind == "original")
    assert not rt.store.hold(original).legal_hold  # none of the three was 永久 when ingested
    first = _propose(a, [a.short.id], ALICE, now)
    reg = _approve(a, first.id, BOB, now).register
    assert reg is not None and reg.objects_kept_shared == 1
    destroy.destroy_objects(rt.store, rt.sessions, reg.id, now)
    assert rt.store.exists(original)
    second = _propose(a, ids[:2], BOB, now)
    reg2 = _approve(a, second.id, ALICE, now).register
    assert reg2 is not None and reg2.objects_kept_shared == 0  # the destroyed one no longer counts
    report = destroy.destroy_objects(rt.store, rt.sessions, reg2.id, now)
    assert set(report.totals) == {"deleted"}
    assert not rt.store.exists(original)
    with rt.sessions() as s:
        assert s.get(Original, a.short.original_id) is not None  # the row stays, the file is gone
        assert {d.status for d in s.scalars(select(Dossier))} == {"destroyed"}
    assert list(rt.search.dossier_ids()) == []


def test_an_object_that_became_shared_before_deletion_is_kept(archive: Archive) -> None:
    a, rt = archive, archive.rt
    end = _end(a, a.short)
    a.store_clock.now = _at(end)
    made = _propose(a, [a.short.id], ALICE, _at(end))
    reg = _approve(a, made.id, BOB, _at(end)).register
    assert reg is not None
    with rt.sessions.begin() as s:  # meanwhile another dossier came to use one of its page images
        page = s.scalars(select(Page).where(Page.dossier_id == a.short.id).order_by(Page.number)).first()
        other = s.scalars(select(Page).where(Page.dossier_id == a.long.id).order_by(Page.number)).first()
        other.image_key = page.image_key
        image_key = page.image_key
    report = destroy.destroy_objects(rt.store, rt.sessions, reg.id, _at(end))
    kept = [o for o in report.tried if o.key == image_key]
    assert kept[0].outcome == "shared" and a.long.archive_number in kept[0].detail
    assert rt.store.exists(image_key)


# -- decline and keep -----------------------------------------------------------------------------


def test_decline_needs_another_person_and_a_reason(archive: Archive) -> None:
    a = archive
    now = _at(_end(a, a.short))
    made = _propose(a, [a.short.id], ALICE, now)
    with a.rt.sessions.begin() as s, pytest.raises(Forbidden) as err:
        appraisal.decline(s, made.id, actor=ALICE, office=None, reason="撤回", now=now)
    assert err.value.code == "self_approval_disposition"
    with a.rt.sessions.begin() as s, pytest.raises(Invalid) as err:
        appraisal.decline(s, made.id, actor=BOB, office=None, reason="", now=now)
    assert err.value.code == "reason_required"
    with a.rt.sessions.begin() as s:
        declined = appraisal.decline(s, made.id, actor=BOB, office=None, reason="仍有查考价值", now=now)
    assert (declined.status, declined.decided_by, declined.decline_reason) == ("declined", BOB, "仍有查考价值")
    with pytest.raises(Invalid) as err:
        _approve(a, made.id, ALICE, now)
    assert err.value.code == "appraisal_decided"
    with a.rt.sessions() as s:
        [back] = due.due_list(s, now.date())
        assert back.id == a.short.id and back.appraisal is None
        assert s.get(Dossier, a.short.id).status == "archived"
    again = _propose(a, [a.short.id], BOB, now, decision="keep", keep_years=5)  # free to be proposed again
    assert again.status == "proposed"


def test_keep_extends_retention_and_the_store_holds(archive: Archive) -> None:
    a, rt = archive, archive.rt
    end = _end(a, a.short)
    now = _at(end)
    made = _propose(a, [a.short.id], ALICE, now, decision="keep", keep_years=5, reason="涉及未结争议，延长保管")
    decision = _approve(a, made.id, BOB, now)
    new_end = date(end.year + 5, 1, 1)
    assert decision.register is None
    assert decision.extended_until == {a.short.id: new_end.isoformat()}
    assert decision.holds is not None and decision.holds["ok"] is True
    with rt.sessions() as s:
        d = s.get(Dossier, a.short.id)
        assert d.retention_extended_until == new_end and d.status == "archived"
        assert retention_end(d) == new_end
        assert d.hold_applied == new_end.isoformat()
        assert (
            "retention_extended" in s.scalars(select(DossierEvent.action).where(DossierEvent.dossier_id == d.id)).all()
        )
    for key, kind in _keys(a, a.short.id).items():
        hold = rt.store.hold(key)
        if kind != "original":  # the shared original already carries the longest period of the three
            assert hold.retain_until == datetime.combine(new_end, time.min, tzinfo=UTC)
    assert _due_ids(a, end) == []
    assert _due_ids(a, date.fromordinal(new_end.toordinal() - 1)) == []
    assert _due_ids(a, new_end) == [a.short.id]
    assert rt.store.exists(next(iter(_keys(a, a.short.id))))
    with rt.sessions() as s:
        assert s.scalars(select(DestructionRegister)).all() == []


# -- the command line -----------------------------------------------------------------------------


def _cli(home: Path, monkeypatch: pytest.MonkeyPatch, actor: str, *args: str) -> Result:
    """``archive disposition …`` run as the OS user ``actor`` names (system:<name>)."""
    monkeypatch.setattr(cli_disposition, "current_user", lambda: actor)
    monkeypatch.setattr(cli_common, "current_user", lambda: actor)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli_disposition.disposition, list(args), env={"ARCHIVE_HOME": str(home)})
    finally:
        get_settings.cache_clear()


def _log(home: Path, action: str) -> list[AccessLogEntry]:
    rt = open_runtime(Settings(home=home, ocr_workers=0))
    try:
        with rt.sessions() as s:
            return list(s.scalars(select(AccessLogEntry).where(AccessLogEntry.action == action)))
    finally:
        rt.close()


def test_command_line_cycle_is_two_person_and_logged(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI runs at the real time: the 10年 dossier's dates are moved back so its period ended in
    2011, while the store still holds its objects to the end computed at ingest (in 2037)."""
    rt = open_runtime(Settings(home=home, ocr_workers=0))
    try:
        with rt.sessions.begin() as s:
            short = s.scalars(select(Dossier).where(Dossier.retention == "10年")).one()
            short.date_end = date(2000, 6, 1)
            short.created_at = datetime(2000, 7, 1, tzinfo=UTC)
            short_id = short.id
            page_key = s.scalars(select(Page.image_key).where(Page.dossier_id == short_id)).first()
    finally:
        rt.close()

    listed = _cli(home, monkeypatch, ALICE, "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert [i["id"] for i in json.loads(listed.stdout)["items"]] == [short_id]

    refused = _cli(home, monkeypatch, ALICE, "propose", short_id, "--decision", "destroy", "--reason", " ")
    assert refused.exit_code != 0 and "[reason_required]" in refused.output
    proposed = _cli(home, monkeypatch, ALICE, "propose", short_id, "--decision", "destroy", "--reason", "期满销毁")
    assert proposed.exit_code == 0, proposed.output
    appraisal_id = proposed.stdout.strip()

    own = _cli(home, monkeypatch, ALICE, "approve", appraisal_id)
    assert own.exit_code != 0 and "[self_approval_disposition]" in own.output
    approved = _cli(home, monkeypatch, BOB, "approve", appraisal_id, "--json")
    assert approved.exit_code == 0, approved.output
    out = json.loads(approved.stdout)
    register_id = out["register"]["id"]
    assert out["disposal"]["totals"]["pending"] == 7 and out["disposal"]["finished"] is False

    shown = _cli(home, monkeypatch, ALICE, "register", register_id, "--json")
    assert shown.exit_code == 0, shown.output
    view = json.loads(shown.stdout)
    assert view["document"]["entries"][0]["dossier_id"] == short_id
    assert view["totals"] == {"pending": 7, "shared": 1}
    copy = home.parent / "register.json"
    assert _cli(home, monkeypatch, ALICE, "register", register_id, "-o", str(copy)).exit_code == 0
    assert json.loads(copy.read_bytes())["id"] == register_id
    missing = _cli(home, monkeypatch, ALICE, "register", "01900000-0000-7000-8000-000000000000")
    assert missing.exit_code != 0 and "[register_not_found]" in missing.output

    purged = _cli(home, monkeypatch, ALICE, "purge", "--json")
    assert purged.exit_code == 0, purged.output
    [still] = json.loads(purged.stdout)["registers"]
    assert still["totals"] == {"pending": 7, "shared": 1}  # the store's real clock is before 2037
    rt = open_runtime(Settings(home=home, ocr_workers=0))
    try:
        assert rt.store.exists(page_key)
        assert rt.store.hold(register_key(register_id)).legal_hold
    finally:
        rt.close()

    proposals = _log(home, "disposition_propose")
    assert [(e.actor, e.outcome) for e in proposals] == [(ALICE, "denied"), (ALICE, "allowed")]
    assert proposals[1].targets == [appraisal_id, short_id]
    approvals = _log(home, "disposition_approve")
    assert [(e.actor, e.outcome) for e in approvals] == [(ALICE, "denied"), (BOB, "allowed")]
    assert approvals[0].detail["code"] == "self_approval_disposition"
    assert approvals[1].detail["register"] == register_id
    assert approvals[1].detail["sha256"] == out["register"]["sha256"]
    assert short_id in approvals[1].targets
    reads = _log(home, "disposition_register")
    assert [(e.outcome, e.targets) for e in reads] == [
        ("allowed", [register_id]),
        ("allowed", [register_id]),
        ("denied", ["01900000-0000-7000-8000-000000000000"]),
    ]
    assert [e.detail["totals"] for e in _log(home, "disposition_destroy")] == [{"pending": 7, "shared": 1}]
    assert len(_log(home, "disposition_purge")) == 1
    assert len(_log(home, "disposition_due")) == 1
