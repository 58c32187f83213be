"""The appraisal list (鉴定清单): archived dossiers whose retention (保管期限) has ended on a given day.

A dossier is due when ``archive.retention.period.retention_end(dossier) <= as_of``; 永久 and unknown
periods never are (their end is None).  The database narrows the candidates with a bound every 定期
period satisfies (a period of N years ends no earlier than N years after its start, the later of filing
and the last date), then the period module decides each one, so it alone defines when a period ends.
A dossier already in an open appraisal is listed with that appraisal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, load_only

from archive.disposition.scope import office_clause
from archive.records.models import Appraisal, AppraisalItem, Dossier, as_utc
from archive.retention.period import Retained, retention_end
from archive.taxonomy import PERMANENT, RETENTIONS

CHUNK = 500


def add_years(day: date, years: int) -> date:
    """The same month and day ``years`` later (or earlier); 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def is_due(dossier: Retained, as_of: date) -> bool:
    end = retention_end(dossier)
    return end is not None and end <= as_of


@dataclass(frozen=True)
class OpenAppraisal:
    """The open (proposed, not yet decided) appraisal a dossier is in."""

    id: str
    decision: str
    keep_years: int | None
    proposed_by: str
    proposed_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "decision": self.decision,
            "keep_years": self.keep_years,
            "proposed_by": self.proposed_by,
            "proposed_at": as_utc(self.proposed_at).isoformat(),
        }


@dataclass(frozen=True)
class DueDossier:
    id: str
    archive_number: str | None
    title: str | None
    office: str
    business_type: str | None
    retention: str
    retention_end: date
    date_start: date | None
    date_end: date | None
    page_count: int
    appraisal: OpenAppraisal | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "archive_number": self.archive_number,
            "title": self.title,
            "office": self.office,
            "business_type": self.business_type,
            "retention": self.retention,
            "retention_end": self.retention_end.isoformat(),
            "date_start": self.date_start.isoformat() if self.date_start else None,
            "date_end": self.date_end.isoformat() if self.date_end else None,
            "page_count": self.page_count,
            "appraisal": self.appraisal.to_json() if self.appraisal else None,
        }


_COLUMNS = (
    Dossier.id,
    Dossier.archive_number,
    Dossier.title,
    Dossier.office,
    Dossier.business_type,
    Dossier.retention,
    Dossier.status,
    Dossier.date_start,
    Dossier.date_end,
    Dossier.page_count,
    Dossier.reviewed_at,
    Dossier.created_at,
    Dossier.retention_extended_until,
)


def _candidates(as_of: date):
    """A superset of the dossiers due on ``as_of``, for the WHERE clause."""
    filed = func.coalesce(Dossier.reviewed_at, Dossier.created_at)
    per_period = []
    for period in RETENTIONS:
        if period == PERMANENT:
            continue
        bound = add_years(as_of, -int(period.removesuffix("年")))
        per_period.append(
            and_(
                Dossier.retention == period,
                filed < datetime.combine(bound + timedelta(days=1), time.min, tzinfo=UTC),
                or_(Dossier.date_end.is_(None), Dossier.date_end <= bound),
            )
        )
    extended = or_(Dossier.retention_extended_until.is_(None), Dossier.retention_extended_until <= as_of)
    return and_(Dossier.status == "archived", or_(*per_period), extended)


def open_appraisals(session: Session, dossier_ids: Sequence[str]) -> dict[str, OpenAppraisal]:
    """dossier id -> the open appraisal it is in, for those of ``dossier_ids`` that are in one."""
    found: dict[str, OpenAppraisal] = {}
    for start in range(0, len(dossier_ids), CHUNK):
        chunk = list(dossier_ids[start : start + CHUNK])
        rows = session.execute(
            select(AppraisalItem.dossier_id, Appraisal)
            .join(Appraisal, Appraisal.id == AppraisalItem.appraisal_id)
            .where(AppraisalItem.open_dossier_id.in_(chunk))
        )
        for dossier_id, a in rows:
            found[dossier_id] = OpenAppraisal(a.id, a.decision, a.keep_years, a.proposed_by, as_utc(a.proposed_at))
    return found


def due_list(session: Session, as_of: date, office: str | None = None, limit: int | None = None) -> list[DueDossier]:
    """Archived dossiers of ``office`` (None or ``*``: every office) whose retention ended on or
    before ``as_of``: the earliest end first."""
    query = (
        select(Dossier)
        .options(load_only(*_COLUMNS))
        .where(_candidates(as_of), office_clause(Dossier.office, office))
        .execution_options(yield_per=1000)
    )
    due: list[tuple[Dossier, date]] = []
    for dossier in session.scalars(query):
        end = retention_end(dossier)
        if end is not None and end <= as_of:
            due.append((dossier, end))
    due.sort(key=lambda pair: (pair[1], pair[0].archive_number or "", pair[0].id))
    if limit is not None:
        due = due[:limit]
    appraisals = open_appraisals(session, [d.id for d, _ in due])
    return [
        DueDossier(
            id=d.id,
            archive_number=d.archive_number,
            title=d.title,
            office=d.office,
            business_type=d.business_type,
            retention=d.retention or "",
            retention_end=end,
            date_start=d.date_start,
            date_end=d.date_end,
            page_count=d.page_count,
            appraisal=appraisals.get(d.id),
        )
        for d, end in due
    ]
