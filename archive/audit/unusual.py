"""Unusual-access report over a time window, for auditors.

Four kinds of finding (``Finding.kind``):

* ``many_dossiers`` — a user read far more distinct dossiers on one day than usual: more than
  ``max(volume_factor × median, volume_floor)``, the median taken over the user's active days
  (days with at least one read) in the ``history_days`` before that day;
* ``off_hours`` — access outside office hours (default 08:00–18:00 Beijing time, Monday to
  Friday, plus any configured holidays), one finding per user and day;
* ``repeated_denied`` — at least ``denied_threshold`` refused attempts by one user within
  ``denied_window``, one finding per burst;
* ``many_readers`` — the dossiers of one person (same 身份证号) read by at least
  ``readers_threshold`` distinct users in the window.

Reads are the actions in ``READS`` with outcome ``allowed``.  Days are Beijing-time days.  Every
finding carries the ids of the entries that are its evidence.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit.query import LogFilter, bounds, instant, zone
from archive.identifiers import mask_id_number
from archive.records.models import AccessLogEntry, Dossier

READS = ("dossier_open", "page_view", "download")
WEEKDAYS = "一二三四五六日"


@dataclass(frozen=True)
class UnusualConfig:
    timezone: str = "Asia/Shanghai"
    office_start: time = time(8, 0)
    office_end: time = time(18, 0)
    workdays: frozenset[int] = frozenset(range(5))  # Monday = 0
    holidays: frozenset[date] = frozenset()
    off_hours_ignore: tuple[str, ...] = ("ingest", "audit_verify")  # scheduled jobs, not people
    history_days: int = 30
    volume_factor: float = 3.0
    volume_floor: int = 20
    denied_threshold: int = 5
    denied_window: timedelta = timedelta(hours=1)
    readers_threshold: int = 3


@dataclass(frozen=True)
class Finding:
    kind: str  # many_dossiers | off_hours | repeated_denied | many_readers
    description: str
    actor: str | None  # the user, where the finding is about one
    target: str | None  # the day (many_dossiers, off_hours) or the person's 身份证号 (many_readers)
    count: int
    first_at: str
    last_at: str
    entry_ids: tuple[str, ...]
    threshold: float | None = None
    baseline: float | None = None  # many_dossiers: the usual (median) daily count
    actors: tuple[str, ...] = ()  # many_readers: who read

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class UnusualReport:
    since: str
    until: str
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "findings": [f.as_dict() for f in self.findings]}


@dataclass(frozen=True)
class _Entry:
    id: str
    at: str
    moment: datetime  # local time
    actor: str
    action: str
    outcome: str
    targets: tuple[str, ...]


def _entries(session: Session, since: str, until: str, local: tzinfo) -> Iterator[_Entry]:
    stmt = (
        select(
            AccessLogEntry.id,
            AccessLogEntry.at,
            AccessLogEntry.actor,
            AccessLogEntry.action,
            AccessLogEntry.outcome,
            AccessLogEntry.targets,
        )
        .where(AccessLogEntry.at >= since, AccessLogEntry.at < until)
        .order_by(AccessLogEntry.seq)
        .execution_options(yield_per=5000)
    )
    for row in session.execute(stmt):
        try:
            moment = datetime.fromisoformat(row.at).astimezone(local)
        except (TypeError, ValueError):
            continue  # not a time: verification reports such a row
        targets = tuple(t for t in row.targets if isinstance(t, str)) if isinstance(row.targets, list) else ()
        yield _Entry(row.id, row.at, moment, row.actor, row.action, row.outcome, targets)


def unusual_access(
    session: Session,
    since: str | datetime | date,
    until: str | datetime | date,
    config: UnusualConfig | None = None,
) -> UnusualReport:
    """Findings for entries with since <= at < until (bounds as in ``query.LogFilter``)."""
    config = config or UnusualConfig()
    local = zone(config.timezone)
    lo, hi = bounds(LogFilter(since=since, until=until))
    assert lo is not None and hi is not None
    history_from = instant(datetime.fromisoformat(lo) - timedelta(days=config.history_days + 1))
    history: list[_Entry] = []
    window: list[_Entry] = []
    for entry in _entries(session, history_from, hi, local):
        if entry.at >= lo:
            window.append(entry)
        elif entry.outcome == "allowed" and entry.action in READS:
            history.append(entry)
    findings = [
        *_many_dossiers(history, window, config),
        *_off_hours(window, config),
        *_repeated_denied(window, config),
        *_many_readers(session, window, config),
    ]
    return UnusualReport(lo, hi, findings)


def _span(entries: Sequence[_Entry]) -> tuple[str, str, tuple[str, ...]]:
    return entries[0].at, entries[-1].at, tuple(e.id for e in entries)


def _many_dossiers(history: list[_Entry], window: list[_Entry], config: UnusualConfig) -> Iterator[Finding]:
    per_day: dict[str, dict[date, set[str]]] = defaultdict(lambda: defaultdict(set))
    evidence: dict[tuple[str, date], list[_Entry]] = defaultdict(list)
    for entry in history + window:
        if entry.outcome == "allowed" and entry.action in READS and entry.targets:
            per_day[entry.actor][entry.moment.date()].update(entry.targets)
    for entry in window:
        if entry.outcome == "allowed" and entry.action in READS and entry.targets:
            evidence[entry.actor, entry.moment.date()].append(entry)
    for (actor, day), entries in evidence.items():
        days = per_day[actor]
        count = len(days[day])
        earlier = [len(d) for when, d in days.items() if day - timedelta(days=config.history_days) <= when < day and d]
        usual = float(statistics.median(earlier)) if earlier else 0.0
        threshold = max(config.volume_factor * usual, float(config.volume_floor))
        if count > threshold:
            first, last, ids = _span(entries)
            yield Finding(
                "many_dossiers",
                f"{actor} 于 {day} 查阅 {count} 份案卷，远超其日常水平"
                f"（此前 {config.history_days} 天活跃日中位数 {usual:g} 份，阈值 {threshold:g} 份）",
                actor,
                day.isoformat(),
                count,
                first,
                last,
                ids,
                threshold=threshold,
                baseline=usual,
            )


def _off_hours(window: list[_Entry], config: UnusualConfig) -> Iterator[Finding]:
    grouped: dict[tuple[str, date], list[_Entry]] = defaultdict(list)
    for entry in window:
        if entry.action in config.off_hours_ignore:
            continue
        local = entry.moment
        working_day = local.weekday() in config.workdays and local.date() not in config.holidays
        if not (working_day and config.office_start <= local.time() < config.office_end):
            grouped[entry.actor, local.date()].append(entry)
    hours = f"{config.office_start:%H:%M}–{config.office_end:%H:%M}"
    for (actor, day), entries in grouped.items():
        first, last, ids = _span(entries)
        times = "、".join(dict.fromkeys(e.moment.strftime("%H:%M") for e in entries[:5]))
        more = " 等" if len(entries) > 5 else ""
        yield Finding(
            "off_hours",
            f"{actor} 于非工作时间访问 {len(entries)} 次：{day} 星期{WEEKDAYS[day.weekday()]} {times}{more}"
            f"（工作时间为工作日 {hours}）",
            actor,
            day.isoformat(),
            len(entries),
            first,
            last,
            ids,
        )


def _repeated_denied(window: list[_Entry], config: UnusualConfig) -> Iterator[Finding]:
    denied: dict[str, list[_Entry]] = defaultdict(list)
    for entry in window:
        if entry.outcome == "denied":
            denied[entry.actor].append(entry)
    need = config.denied_threshold
    for actor, entries in denied.items():
        entries.sort(key=lambda e: e.moment)
        flagged = [False] * len(entries)
        for i in range(len(entries) - need + 1):  # every run of `need` within the window
            if entries[i + need - 1].moment - entries[i].moment <= config.denied_window:
                flagged[i : i + need] = [True] * need
        bursts: list[list[_Entry]] = []
        for entry, hit in zip(entries, flagged, strict=True):
            if not hit:
                continue
            if bursts and entry.moment - bursts[-1][-1].moment <= config.denied_window:
                bursts[-1].append(entry)
            else:
                bursts.append([entry])
        minutes = int(config.denied_window.total_seconds() // 60)
        for burst in bursts:
            first, last, ids = _span(burst)
            yield Finding(
                "repeated_denied",
                f"{actor} 在 {minutes} 分钟内被拒绝 {len(burst)} 次"
                f"（{burst[0].moment:%Y-%m-%d %H:%M}–{burst[-1].moment:%H:%M}）",
                actor,
                None,
                len(burst),
                first,
                last,
                ids,
                threshold=float(need),
            )


def _many_readers(session: Session, window: list[_Entry], config: UnusualConfig) -> Iterator[Finding]:
    reads = [e for e in window if e.outcome == "allowed" and e.action in READS and e.targets]
    wanted = sorted({t for e in reads for t in e.targets})
    person: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.execute(
            select(Dossier.id, Dossier.person_id_number).where(
                Dossier.id.in_(chunk), Dossier.person_id_number.is_not(None)
            )
        )
        person.update({row.id: row.person_id_number.upper() for row in rows if row.person_id_number})
    by_person: dict[str, list[_Entry]] = defaultdict(list)
    for entry in reads:
        for number in dict.fromkeys(person[t] for t in entry.targets if t in person):
            by_person[number].append(entry)
    for number, entries in by_person.items():
        actors = tuple(dict.fromkeys(e.actor for e in entries))
        if len(actors) >= config.readers_threshold:
            first, last, ids = _span(entries)
            yield Finding(
                "many_readers",
                f"参保人 {mask_id_number(number)} 的案卷被 {len(actors)} 名用户查阅 {len(entries)} 次：{'、'.join(actors)}",
                None,
                number,
                len(entries),
                first,
                last,
                ids,
                threshold=float(config.readers_threshold),
                actors=actors,
            )
