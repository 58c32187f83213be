"""Auditor features on both databases: filtered search with paging, CSV/JSON export with the chain
verification attached, and the unusual-access report."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from archive.audit.export import BOM, CSV_COLUMNS, export_csv, export_json
from archive.audit.log import AccessEvent, AccessLog
from archive.audit.query import LOCAL, LogFilter, decode_cursor, encode_cursor, query
from archive.audit.unusual import UnusualConfig, unusual_access
from archive.errors import Invalid
from archive.identifiers import mask_id_number
from archive.records.models import Batch, Dossier, Original
from archive.runtime import Runtime
from tests.test_audit import _rogue_dba, _sql

PERSON = "37030319800101123X"
OTHER_PERSON = "370303199001012345"


class Clock:
    """The time AccessLog stamps entries with, set by the test (Beijing time when naive)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 10, 0, tzinfo=LOCAL)

    def set(self, when: str) -> None:
        moment = datetime.fromisoformat(when)
        self.now = moment if moment.tzinfo else moment.replace(tzinfo=LOCAL)

    def __call__(self) -> datetime:
        return self.now


def _dossiers(rt: Runtime, person: str, n: int) -> list[str]:
    with rt.sessions.begin() as session:
        batch = Batch(created_by="ingester", office="370303", fingerprint=uuid.uuid4().hex, engine="test")
        session.add(batch)
        session.flush()
        ids = []
        for i in range(n):
            original = Original(
                sha256=uuid.uuid4().hex * 2,
                size=1,
                media_type="application/pdf",
                filename=f"{i}.pdf",
                object_key=f"originals/{i}",
                batch_id=batch.id,
            )
            session.add(original)
            session.flush()
            dossier = Dossier(
                batch_id=batch.id, original_id=original.id, seq_in_source=1, office="370303", person_id_number=person
            )
            session.add(dossier)
            session.flush()
            ids.append(dossier.id)
    return ids


def _event(actor: str, action: str = "dossier_open", targets: tuple[str, ...] = (), **kw) -> AccessEvent:
    return AccessEvent(actor=actor, role=kw.pop("role", "caseworker"), action=action, targets=targets, **kw)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(runtime: Runtime, clock: Clock) -> AccessLog:
    return AccessLog(runtime, checkpoint_every=5, clock=clock)


@pytest.fixture
def sample(runtime: Runtime, log: AccessLog, clock: Clock) -> dict[str, str]:
    """A small log: two people's dossiers, searches, a denial, entries on three days."""
    p1, p2 = _dossiers(runtime, PERSON, 2)
    (q1,) = _dossiers(runtime, OTHER_PERSON, 1)
    ids = {}

    def put(name: str, when: str, event: AccessEvent) -> None:
        clock.set(when)
        ids[name] = log.append(event).id

    put("alice_p1", "2026-03-02T09:00:00", _event("alice", targets=(p1,)))
    put("alice_search", "2026-03-02T09:05:00", _event("alice", "search", detail={"query": f"身份证 {PERSON.lower()}"}))
    put("bob_p2", "2026-03-02T10:00:00", _event("bob", "page_view", targets=(p2,), detail={"page": 3}))
    put("bob_q1_denied", "2026-03-03T11:00:00", _event("bob", targets=(q1,), outcome="denied", reason="越权"))
    put("carol_q1", "2026-03-03T23:59:59", _event("carol", "download", targets=(q1,)))
    put("carol_both", "2026-03-04T00:00:00", _event("carol", "export", targets=(p1, q1)))
    put("dave_search", "2026-03-04T08:30:00", _event("dave", "search", detail={"query": "张三"}))
    return {**ids, "p1": p1, "p2": p2, "q1": q1}


def _ids(runtime: Runtime, flt: LogFilter) -> list[str]:
    with runtime.sessions() as session:
        return [e["id"] for e in query(session, flt, limit=1000).entries]


def test_filters_select_exactly_the_matching_entries(runtime: Runtime, sample: dict[str, str]) -> None:
    s = sample
    assert _ids(runtime, LogFilter()) == [
        s["alice_p1"],
        s["alice_search"],
        s["bob_p2"],
        s["bob_q1_denied"],
        s["carol_q1"],
        s["carol_both"],
        s["dave_search"],
    ]
    assert _ids(runtime, LogFilter(actor="carol")) == [s["carol_q1"], s["carol_both"]]
    assert _ids(runtime, LogFilter(action="search")) == [s["alice_search"], s["dave_search"]]
    assert _ids(runtime, LogFilter(outcome="denied")) == [s["bob_q1_denied"]]
    assert _ids(runtime, LogFilter(dossier_id=s["q1"])) == [s["bob_q1_denied"], s["carol_q1"], s["carol_both"]]
    assert _ids(runtime, LogFilter(dossier_id=s["q1"], outcome="allowed", actor="carol", action="download")) == [
        s["carol_q1"]
    ]
    assert _ids(runtime, LogFilter(dossier_id=str(uuid.uuid4()))) == []
    # a person: entries on either of their dossiers, and the search that named them (in lower case)
    assert _ids(runtime, LogFilter(person_id_number=PERSON)) == [
        s["alice_p1"],
        s["alice_search"],
        s["bob_p2"],
        s["carol_both"],
    ]
    assert _ids(runtime, LogFilter(person_id_number=OTHER_PERSON)) == [
        s["bob_q1_denied"],
        s["carol_q1"],
        s["carol_both"],
    ]
    assert _ids(runtime, LogFilter(person_id_number="110101199001010000")) == []


def test_time_bounds_are_beijing_days_and_instants(runtime: Runtime, sample: dict[str, str]) -> None:
    s = sample
    # a bare date is the whole Beijing day: 3 March holds the denial and carol's 23:59:59 download
    assert _ids(runtime, LogFilter(since="2026-03-03", until="2026-03-03")) == [s["bob_q1_denied"], s["carol_q1"]]
    # naive instants are Beijing time; since inclusive, until exclusive
    assert _ids(runtime, LogFilter(since="2026-03-02T09:05:00", until="2026-03-02T10:00:00")) == [s["alice_search"]]
    # the same instants in UTC, as ISO text with a zone and as datetimes
    assert _ids(runtime, LogFilter(since="2026-03-02T01:05:00Z", until="2026-03-02T02:00:00+00:00")) == [
        s["alice_search"]
    ]
    since = datetime(2026, 3, 3, 15, 59, 59, tzinfo=UTC)
    assert _ids(runtime, LogFilter(since=since, until=since + timedelta(seconds=1))) == [s["carol_q1"]]
    for bad in (LogFilter(since="yesterday"), LogFilter(since="2026-03-04", until="2026-03-03")):
        with pytest.raises(Invalid) as caught, runtime.sessions() as session:
            query(session, bad)
        assert caught.value.code == "bad_time"


def test_paging_walks_every_entry_once_with_an_opaque_cursor(runtime: Runtime, sample: dict[str, str]) -> None:
    everything = _ids(runtime, LogFilter())
    seen, cursor, pages = [], None, 0
    with runtime.sessions() as session:
        while True:
            page = query(session, LogFilter(), cursor, limit=3)
            seen += [e["id"] for e in page.entries]
            pages += 1
            if page.next_cursor is None:
                break
            assert not page.next_cursor.isdigit()
            cursor = page.next_cursor
        assert seen == everything and pages == 3
        # a filter pages the same way
        first = query(session, LogFilter(actor="carol"), limit=1)
        second = query(session, LogFilter(actor="carol"), first.next_cursor, limit=1)
        assert [e["id"] for e in first.entries + second.entries] == [sample["carol_q1"], sample["carol_both"]]
        assert second.next_cursor is None
        newest = query(session, LogFilter(), limit=2, newest_first=True)
        assert [e["id"] for e in newest.entries] == everything[:-3:-1]
        older = query(session, LogFilter(), newest.next_cursor, limit=2, newest_first=True)
        assert [e["id"] for e in older.entries] == everything[-3:-5:-1]
        entry = first.entries[0]
        assert entry["targets"] == [sample["q1"]] and entry["action"] == "download" and len(entry["hash"]) == 64
        for cursor_text in ("12", "bm9wZQ", "!!", encode_cursor(5)[:-2]):
            with pytest.raises(Invalid) as caught:
                query(session, LogFilter(), cursor_text)
            assert caught.value.code == "invalid_cursor"
        for limit in (0, 1001):
            with pytest.raises(Invalid):
                query(session, LogFilter(), limit=limit)
        with pytest.raises(Invalid):
            query(session, LogFilter(outcome="maybe"))
    assert decode_cursor(encode_cursor(123456)) == 123456


def _csv(export) -> tuple[str, list[dict[str, str]]]:
    body = b"".join(export.chunks)
    assert body.startswith(BOM.encode("utf-8"))
    text = body.decode("utf-8-sig")
    return text, list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_export_parses_back_and_carries_the_verification(
    runtime: Runtime, log: AccessLog, clock: Clock, sample: dict[str, str]
) -> None:
    clock.set("2026-03-04T09:00:00")
    log.append(_event('=HYPERLINK("http://x")', "search", detail={"query": "-1+1"}))
    export = export_csv(runtime, LogFilter(person_id_number=PERSON))
    assert export.verification.ok and export.media_type.startswith("text/csv") and export.filename.endswith(".csv")
    text, rows = _csv(export)
    assert list(rows[0]) == [label for _, label in CSV_COLUMNS]
    assert [r["条目编号"] for r in rows] == [
        sample["alice_p1"],
        sample["alice_search"],
        sample["bob_p2"],
        sample["carol_both"],
    ]
    carol = rows[3]
    assert carol["用户"] == "carol" and carol["操作"] == "export" and carol["结果"] == "allowed"
    assert json.loads(carol["对象"]) == [sample["p1"], sample["q1"]]
    assert carol["时间(北京时间)"] == "2026-03-04 00:00:00" and carol["时间(UTC)"].startswith("2026-03-03T16:00:00")
    assert json.loads(rows[1]["详情"]) == {"query": f"身份证 {PERSON.lower()}"}
    assert all(r["本条校验"] == "通过" and "完整" in r["日志校验"] for r in rows)
    # a cell Excel would evaluate is defused
    _, everyone = _csv(export_csv(runtime, LogFilter(action="search")))
    assert everyone[-1]["用户"] == '\'=HYPERLINK("http://x")'
    # empty result: the header alone
    _, none = _csv(export_csv(runtime, LogFilter(actor="nobody")))
    assert none == []

    _rogue_dba(runtime)
    _sql(runtime, "UPDATE access_log SET reason = 'cover-up' WHERE seq = 3")
    export = export_csv(runtime, LogFilter(person_id_number=PERSON))
    assert (export.verification.ok, export.verification.first_bad) == (False, 3)
    _, rows = _csv(export)
    assert [r["本条校验"] for r in rows] == ["通过", "通过", "未通过", "未通过"]
    assert all("被篡改" in r["日志校验"] and "entry_altered" in r["日志校验"] for r in rows)


def test_json_export_parses_back_and_carries_the_verification(runtime: Runtime, sample: dict[str, str]) -> None:
    export = export_json(runtime, LogFilter(dossier_id=sample["q1"]), page=2)
    assert export.media_type == "application/json"
    document = json.loads(b"".join(export.chunks).decode("utf-8"))
    assert document["verification"]["ok"] is True and document["verification"]["entries"] == 7
    assert document["filter"] == {"dossier_id": sample["q1"]}
    assert document["count"] == 3 and document["through_seq"] == 7
    assert [e["id"] for e in document["entries"]] == [sample["bob_q1_denied"], sample["carol_q1"], sample["carol_both"]]
    assert document["entries"][0]["reason"] == "越权" and all(e["verified"] for e in document["entries"])

    _rogue_dba(runtime)
    _sql(runtime, "DELETE FROM access_log WHERE seq = 5")
    document = json.loads(b"".join(export_json(runtime, LogFilter(dossier_id=sample["q1"])).chunks))
    assert document["verification"]["ok"] is False and document["verification"]["code"] == "entry_missing"
    assert document["verification"]["first_bad"] == 5 and "第 5 条" in document["verification"]["summary"]
    assert [(e["seq"], e["verified"]) for e in document["entries"]] == [(4, True), (6, False)]
    empty = json.loads(b"".join(export_json(runtime, LogFilter(actor="nobody")).chunks))
    assert empty["entries"] == [] and empty["count"] == 0


def test_export_refuses_a_bad_filter_before_verifying(runtime: Runtime) -> None:
    with pytest.raises(Invalid):
        export_csv(runtime, LogFilter(since="not a time"))


# -- unusual access ----------------------------------------------------------------------------------


def _reads(log: AccessLog, clock: Clock, actor: str, when: str, dossiers: list[str], action: str = "dossier_open"):
    clock.set(when)
    return log.append_many([_event(actor, action, (d,)) for d in dossiers])


def _routine(log: AccessLog, clock: Clock, days: int) -> None:
    """Ordinary office work on the weekdays of ``days`` days from Monday 9 February 2026: alice
    reads 12 dossiers a day, bob 6, and bob has one search refused each morning."""
    start = datetime(2026, 2, 9)
    for offset in range(days):
        day = start + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for n, actor in enumerate(("alice", "bob")):
            pool = [f"{actor}-{day:%m%d}-{i}" for i in range(12 if actor == "alice" else 6)]
            _reads(log, clock, actor, f"{day:%Y-%m-%d}T{9 + n:02d}:15:00", pool)
        clock.set(f"{day:%Y-%m-%d}T08:00:00")
        log.append(_event("bob", "search", detail={"query": "王五"}, outcome="denied"))


def _kinds(report) -> set[tuple[str, str | None, str | None]]:
    return {(f.kind, f.actor, f.target) for f in report.findings}


def test_unusual_access_is_quiet_on_normal_activity(runtime: Runtime, log: AccessLog, clock: Clock) -> None:
    _routine(log, clock, 27)  # three weeks before the report window, and the window's weekdays
    p1, p2 = _dossiers(runtime, PERSON, 2)
    _reads(log, clock, "alice", "2026-03-03T17:59:59", [p1])  # inside office hours, just
    _reads(log, clock, "bob", "2026-03-04T08:00:00", [p2])
    clock.set("2026-03-05T10:00:00")
    log.append_many([_event("carol", outcome="denied", targets=(p1,)) for _ in range(4)])  # 4 < 5
    for hour in range(10, 15):  # 5 refusals, but an hour apart
        clock.set(f"2026-03-06T{hour}:30:00")
        log.append(_event("dave", outcome="denied"))
    clock.set("2026-03-06T11:00:00")
    log.append(_event("erin", "search", detail={"query": PERSON}))  # a search is not a read of the dossiers
    _reads(log, clock, "erin", "2026-03-06T11:01:00", [p1], action="review")  # nor is a review
    with runtime.sessions() as session:
        report = unusual_access(session, "2026-03-02", "2026-03-08")
    assert report.findings == [], [f.description for f in report.findings]


def test_each_kind_of_unusual_access_is_found(runtime: Runtime, log: AccessLog, clock: Clock) -> None:
    _routine(log, clock, 21)  # the three weeks before the report window
    p1, p2 = _dossiers(runtime, PERSON, 2)
    (q1,) = _dossiers(runtime, OTHER_PERSON, 1)
    # (a) bob usually reads 6 a day: 25 is far more (threshold max(3 × 6, 20) = 20); alice usually
    # reads 12: 25 is not (threshold 36); frank has no history: 21 passes the floor of 20
    bulk = _reads(log, clock, "bob", "2026-03-03T10:00:00", [f"bulk-{i}" for i in range(25)])
    _reads(log, clock, "bob", "2026-03-03T10:30:00", ["bulk-0", "bulk-1"], action="page_view")  # not distinct
    _reads(log, clock, "alice", "2026-03-03T10:00:00", [f"a-bulk-{i}" for i in range(25)])
    _reads(log, clock, "frank", "2026-03-04T10:00:00", [f"f-bulk-{i}" for i in range(21)])
    _reads(log, clock, "gina", "2026-03-04T10:00:00", [f"g-bulk-{i}" for i in range(20)])  # 20: not more
    # (b) off hours: a weekday night and a Saturday morning; the scheduled ingest at night is ignored
    late = _reads(log, clock, "henry", "2026-03-04T22:30:00", [q1])
    early = _reads(log, clock, "henry", "2026-03-05T07:59:00", [q1], action="download")
    saturday = _reads(log, clock, "ivan", "2026-03-07T10:00:00", [q1])
    clock.set("2026-03-04T02:00:00")
    log.append(_event("system", "ingest", role="admin-cli"))
    # (c) five refusals within the hour
    denied = []
    for minute in (0, 10, 20, 30, 40):
        clock.set(f"2026-03-05T14:{minute:02d}:00")
        denied.append(log.append(_event("judy", targets=(p2,), outcome="denied")))
    # (d) three users read the same person's dossiers (two dossiers); the other person has two readers
    person_reads = [
        *_reads(log, clock, "alice", "2026-03-06T09:00:00", [p1]),
        *_reads(log, clock, "bob", "2026-03-06T09:30:00", [p2], action="page_view"),
        *_reads(log, clock, "kate", "2026-03-06T10:00:00", [p1, p2], action="download"),
    ]
    clock.set("2026-03-06T10:30:00")
    log.append(_event("leo", targets=(p1,), outcome="denied"))  # a refused read is no read

    with runtime.sessions() as session:
        report = unusual_access(session, "2026-03-02", "2026-03-08")
    assert _kinds(report) == {
        ("many_dossiers", "bob", "2026-03-03"),
        ("many_dossiers", "frank", "2026-03-04"),
        ("off_hours", "henry", "2026-03-04"),
        ("off_hours", "henry", "2026-03-05"),
        ("off_hours", "ivan", "2026-03-07"),
        ("repeated_denied", "judy", None),
        ("many_readers", None, PERSON),
    }
    by = {(f.kind, f.actor, f.target): f for f in report.findings}
    bob = by["many_dossiers", "bob", "2026-03-03"]
    assert (bob.count, bob.baseline, bob.threshold) == (25, 6.0, 20.0)
    assert set(bob.entry_ids) >= {e.id for e in bulk} and len(bob.entry_ids) == 27
    assert "bob" in bob.description and "25" in bob.description
    frank = by["many_dossiers", "frank", "2026-03-04"]
    assert (frank.count, frank.baseline, frank.threshold) == (21, 0.0, 20.0)
    assert by["off_hours", "henry", "2026-03-04"].entry_ids == (late[0].id,)
    assert by["off_hours", "henry", "2026-03-05"].entry_ids == (early[0].id,)
    assert by["off_hours", "ivan", "2026-03-07"].entry_ids == (saturday[0].id,)
    assert "星期六" in by["off_hours", "ivan", "2026-03-07"].description
    judy = by["repeated_denied", "judy", None]
    assert judy.count == 5 and judy.entry_ids == tuple(e.id for e in denied) and "拒绝" in judy.description
    readers = by["many_readers", None, PERSON]
    assert readers.actors == ("alice", "bob", "kate") and readers.count == 4
    assert readers.entry_ids == tuple(e.id for e in person_reads)
    assert PERSON not in readers.description and mask_id_number(PERSON) in readers.description
    assert report.as_dict()["findings"][0]["kind"] in {"many_dossiers", "off_hours", "repeated_denied", "many_readers"}

    # the thresholds are configurable, and the window bounds the report
    config = UnusualConfig(readers_threshold=4, denied_threshold=6, volume_floor=30)
    with runtime.sessions() as session:
        stricter = unusual_access(session, "2026-03-02", "2026-03-08", config)
        one_day = unusual_access(session, "2026-03-07", "2026-03-07")
    assert {k for k, _, _ in _kinds(stricter)} == {"off_hours"}
    assert _kinds(one_day) == {("off_hours", "ivan", "2026-03-07")}
