"""档号 for a dossier that enters the archive without one read from it (a separator sheet's QR code, or
the cover's 档号): ``{office}-{type}-{year}-{retention}-{serial}`` after DA/T 13 (全宗-类别-年度-保管期限-
件号), e.g. ``370303-UNIT-2017-永久-0042``.  The year is the one the dossier was formed in (else the year
of filing); the serial counts per prefix from a locked counter row and skips any number already borne
by another dossier (one read from a scan, say), so two dossiers never share an assigned 档号.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from archive.records.models import ArchiveNumberCounter, Dossier


def prefix_for(dossier: Dossier, type_short: str) -> str:
    year = dossier.date_end.year if dossier.date_end else datetime.now(UTC).year
    return f"{dossier.office}-{type_short}-{year}-{dossier.retention or '未定'}"


def assign(session: Session, dossier: Dossier, type_short: str) -> str:
    """Give ``dossier`` the next free 档号 under its prefix (inside the caller's transaction)."""
    prefix = prefix_for(dossier, type_short)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(ArchiveNumberCounter).values(prefix=prefix, last=0).on_conflict_do_nothing())
    counter = session.scalars(
        select(ArchiveNumberCounter).where(ArchiveNumberCounter.prefix == prefix).with_for_update()
    ).one()
    serial = counter.last
    while True:
        serial += 1
        number = f"{prefix}-{serial:04d}"
        taken = session.scalar(select(Dossier.id).where(Dossier.archive_number == number).limit(1))
        if taken is None:
            break
    counter.last = serial
    dossier.archive_number = number
    return number
