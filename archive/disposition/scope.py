"""Office scope for appraisal and disposition: one office, or every office (``*`` / None).

Appraisals and registers belong to one office.  A caller limited to an office sees only that office's
dossiers, appraisals and registers; anything else is reported exactly like something that does not
exist (``NotFound``), as for dossiers (``archive.reading.scope``).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, true
from sqlalchemy.orm import InstrumentedAttribute

from archive.identity.principal import ALL_OFFICES


def every_office(office: str | None) -> bool:
    return office is None or office == ALL_OFFICES


def sees(office: str | None, item_office: str) -> bool:
    return every_office(office) or office == item_office


def office_clause(column: InstrumentedAttribute[str], office: str | None) -> ColumnElement[bool]:
    return true() if every_office(office) else column == office
