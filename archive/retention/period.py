"""When a dossier's retention period (保管期限) ends, and the store hold that keeps it until then.

定期 N年: the period counts from 1 January of the year after the file was formed (DA/T 22-2015) and the
issue's rule counts from the year after filing (归档); a backlog scanned years later makes the two differ,
so the later of the two years is used: nothing becomes destructible before either reading allows.  The
formed date is the dossier's last date (``date_end``); filing is the day it was archived (approved, or
archived at ingest).  An appraisal that keeps a dossier longer sets ``retention_extended_until``.  永久, or a period that is unknown or invalid, needs a legal hold: never destructible
without a decision.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Protocol

from archive.storage.base import Hold
from archive.taxonomy import PERMANENT, RETENTIONS, retain_until


class Retained(Protocol):
    retention: str | None
    date_end: date | None
    reviewed_at: datetime | None
    created_at: datetime
    retention_extended_until: date | None


def filed_on(dossier: Retained) -> date:
    """The day the dossier entered the archive: its approval, or its ingest when archived automatically."""
    moment = dossier.reviewed_at or dossier.created_at
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).date()


def retention_end(dossier: Retained) -> date | None:
    """The first day the dossier may be appraised for destruction; None for 永久 or an unknown period."""
    if dossier.retention == PERMANENT or dossier.retention not in RETENTIONS:
        return None
    filed = filed_on(dossier)
    start = max(filed, dossier.date_end) if dossier.date_end is not None else filed
    end = retain_until(dossier.retention, start)
    extended = dossier.retention_extended_until
    return max(end, extended) if extended is not None else end


def required_hold(dossier: Retained) -> Hold:
    """The store protection the dossier's objects need: retention to the period's end, else a legal hold."""
    end = retention_end(dossier)
    if end is None:
        return Hold(legal_hold=True)
    return Hold(retain_until=datetime.combine(end, time.min, tzinfo=UTC))
