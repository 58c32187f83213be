"""Aggregate figures for the dashboard: counts only (no names, no ID numbers), by SQL GROUP BY.

Scope is an office code or ``None`` for every office (a principal whose office is ``*``).
Dossiers whose disposition destroyed them count in the status figures (as ``destroyed``) but
their pages do not count in the page figures.  Days are Beijing-time days: a dossier's pages
count on the day it was ingested (``Dossier.created_at``).  The day is computed in the database,
which stores times differently: SQLite keeps UTC as text (``date(t, '+8 hours')``), PostgreSQL
a ``timestamptz`` (``timezone('Asia/Shanghai', t)``).

Cost: the type/status counts read only ``dossiers``; pages per day visit the window's dossiers
and count their pages on the ``(dossier_id, number)`` index; the confidence histogram, which
also gives the page total, is the one pass over ``pages`` (``mean_confidence`` is in no index).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from archive.audit.query import LOCAL as BEIJING  # Asia/Shanghai, the offices' time
from archive.identity.principal import ALL_OFFICES, Principal
from archive.records.models import Batch, Dossier, Page

STATUS_ORDER = ("archived", "needs_review", "rejected", "destroyed")
GONE = "destroyed"
# Confidence bins: [low, high), the last one closed (1.0 belongs to it).
CONFIDENCE_EDGES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


@dataclass(frozen=True)
class TypeStatusCount:
    business_type: str | None  # None: not classified
    status: str
    count: int


@dataclass(frozen=True)
class ConfidenceBin:
    low: float
    high: float
    count: int

    @property
    def label(self) -> str:
        return f"{self.low:g}–{self.high:g}"


@dataclass(frozen=True)
class Overview:
    office: str | None  # None: every office
    by_type_status: list[TypeStatusCount]
    pages: int
    batches_today: int
    pages_per_day: list[tuple[date, int]]
    confidence: list[ConfidenceBin]
    unmeasured_pages: int  # pages without an OCR confidence
    status_totals: dict[str, int] = field(default_factory=dict)


def office_scope(principal: Principal) -> str | None:
    """The office a principal's figures are limited to, or None for every office."""
    return None if principal.office == ALL_OFFICES else principal.office


def _dossier_scope(office: str | None) -> list[ColumnElement[bool]]:
    return [] if office is None else [Dossier.office == office]


def _live_pages(office: str | None) -> list[ColumnElement[bool]]:
    return [Dossier.status != GONE, *_dossier_scope(office)]


def by_type_and_status(session: Session, office: str | None) -> list[TypeStatusCount]:
    stmt = (
        select(Dossier.business_type, Dossier.status, func.count().label("n"))
        .where(*_dossier_scope(office))
        .group_by(Dossier.business_type, Dossier.status)
    )
    return [TypeStatusCount(row.business_type, row.status, int(row.n)) for row in session.execute(stmt)]


def status_totals(rows: Sequence[TypeStatusCount]) -> dict[str, int]:
    """Dossiers per status (every status of ``STATUS_ORDER``, zero where none)."""
    out = dict.fromkeys(STATUS_ORDER, 0)
    for row in rows:
        out[row.status] = out.get(row.status, 0) + row.count
    return out


def batches_since(session: Session, office: str | None, since: datetime) -> int:
    clauses = [Batch.created_at >= since.astimezone(UTC)]
    if office is not None:
        clauses.append(Batch.office == office)
    return int(session.scalar(select(func.count(Batch.id)).where(*clauses)) or 0)


def _local_day(session: Session, column: Any) -> ColumnElement[Any]:
    """The Beijing-time calendar day of a stored UTC time, in the database's own SQL."""
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column, "+8 hours")
    return func.date(func.timezone("Asia/Shanghai", column))


def _as_date(value: date | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def day_start(day: date) -> datetime:
    """The first instant of a Beijing-time day, in UTC."""
    return datetime.combine(day, time(), BEIJING).astimezone(UTC)


def pages_per_day(session: Session, office: str | None, today: date, days: int = 30) -> list[tuple[date, int]]:
    """Pages ingested on each of the ``days`` days ending with ``today`` (oldest first, zeros
    included).  Driven by the window's dossiers, each counting its pages on the
    ``(dossier_id, number)`` index, so the cost follows the window, not the whole archive."""
    first = today - timedelta(days=days - 1)
    pages = select(func.count()).where(Page.dossier_id == Dossier.id).correlate(Dossier).scalar_subquery()
    day = _local_day(session, Dossier.created_at).label("day")
    stmt = (
        select(day, func.sum(pages).label("n"))
        .where(Dossier.created_at >= day_start(first), Dossier.created_at < day_start(today + timedelta(days=1)))
        .where(*_live_pages(office))
        .group_by("day")  # by the label: PostgreSQL would see the bound parameters of two copies as different
    )
    counts = {_as_date(row.day): int(row.n or 0) for row in session.execute(stmt) if row.day is not None}
    return [(first + timedelta(days=i), counts.get(first + timedelta(days=i), 0)) for i in range(days)]


def confidence_histogram(session: Session, office: str | None) -> tuple[list[ConfidenceBin], int]:
    """Pages per OCR mean-confidence bin (``CONFIDENCE_EDGES``), and the pages without one."""
    column = Page.mean_confidence
    inner = CONFIDENCE_EDGES[1:-1]
    whens = [(column.is_(None), -1)] + [(column < edge, index) for index, edge in enumerate(inner)]
    bucket = case(*whens, else_=len(inner)).label("bucket")
    stmt = (
        select(bucket, func.count().label("n"))
        .select_from(Page)
        .join(Dossier, Page.dossier_id == Dossier.id)
        .where(*_live_pages(office))
        .group_by("bucket")
    )
    counts = {int(row.bucket): int(row.n) for row in session.execute(stmt)}
    bins = [
        ConfidenceBin(low, high, counts.get(index, 0))
        for index, (low, high) in enumerate(zip(CONFIDENCE_EDGES, CONFIDENCE_EDGES[1:], strict=False))
    ]
    return bins, counts.get(-1, 0)


def overview(session: Session, principal: Principal, now: datetime | None = None, days: int = 30) -> Overview:
    """Every dashboard figure for what ``principal``'s office covers."""
    now = now or datetime.now(UTC)
    office = office_scope(principal)
    today = now.astimezone(BEIJING).date()
    rows = by_type_and_status(session, office)
    bins, unmeasured = confidence_histogram(session, office)
    return Overview(
        office=office,
        by_type_status=rows,
        pages=sum(b.count for b in bins) + unmeasured,  # every live page falls in one bin or none
        batches_today=batches_since(session, office, day_start(today)),
        pages_per_day=pages_per_day(session, office, today, days),
        confidence=bins,
        unmeasured_pages=unmeasured,
        status_totals=status_totals(rows),
    )
