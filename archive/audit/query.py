"""Searching the access log for auditors: filters, and keyset paging by an opaque cursor.

Times: ``since`` is inclusive, ``until`` exclusive.  A datetime or ISO string without a zone is
Beijing time (Asia/Shanghai); a bare date (``2026-03-01``) means that whole day, so
``until="2026-03-01"`` includes 1 March.  Entries store ``at`` as UTC ISO text, which compares
correctly as text once the bounds are written the same way.

``dossier_id`` matches entries whose ``targets`` hold that id; ``person_id_number`` matches
entries targeting any dossier of that person, or whose ``detail`` mentions the number (a search
logs its query text there).  Both are substring tests on the stored JSON text (ids are looked for
with their JSON quotes), which work alike on SQLite and PostgreSQL and never fail on a malformed
row.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, Select, String, cast, false, func, or_, select
from sqlalchemy.orm import Session

from archive.errors import Invalid
from archive.records.models import AccessLogEntry, Dossier


def zone(name: str) -> tzinfo:
    """The named time zone; Asia/Shanghai (no DST since 1991) even without a tz database."""
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        if name == "Asia/Shanghai":
            return timezone(timedelta(hours=8), "Asia/Shanghai")
        raise


LOCAL = zone("Asia/Shanghai")
MAX_LIMIT = 1000
OUTCOMES = ("allowed", "denied")
ENTRY_FIELDS = (
    "seq",
    "id",
    "at",
    "actor",
    "role",
    "office",
    "client",
    "action",
    "targets",
    "reason",
    "outcome",
    "detail",
    "prev",
    "hash",
    "algorithm",
)
_COLUMNS = tuple(getattr(AccessLogEntry, name) for name in ENTRY_FIELDS)
_CURSOR = re.compile(r"audit:(\d{1,18})")


@dataclass(frozen=True)
class LogFilter:
    actor: str | None = None
    dossier_id: str | None = None
    person_id_number: str | None = None
    action: str | None = None
    outcome: str | None = None
    since: str | datetime | date | None = None
    until: str | datetime | date | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, times as given (datetimes in ISO form); unset fields left out."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = value.isoformat() if isinstance(value, date) else value
        return out


class LogPage(NamedTuple):
    entries: list[dict[str, Any]]
    next_cursor: str | None  # None: no further entries


def instant(value: str | datetime | date, *, end: bool = False) -> str:
    """A bound as stored ``at`` text (UTC, microseconds).  A bare date is its day's start, or with
    ``end`` the next day's start (an exclusive end that includes the day)."""
    moment: datetime
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        try:
            moment = datetime.combine(value + timedelta(days=1) if end else value, time())
        except OverflowError:
            raise Invalid("bad_time", f"时间超出可查询范围：{value!r}") from None
    elif isinstance(value, str):
        text = value.strip()
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                day = date.fromisoformat(text)
                moment = datetime.combine(day + timedelta(days=1) if end else day, time())
            else:
                moment = datetime.fromisoformat(text)
        except (ValueError, OverflowError):
            raise Invalid(
                "bad_time", f"时间格式无法识别：{value!r}（应为 ISO 8601，如 2026-03-01T09:00:00+08:00）"
            ) from None
    else:
        raise Invalid("bad_time", f"时间格式无法识别：{value!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL)
    try:
        return moment.astimezone(UTC).isoformat(timespec="microseconds")
    except OverflowError:  # a moment at the calendar's edge (9999-12-31 in a zone west of UTC…)
        raise Invalid("bad_time", f"时间超出可查询范围：{value!r}") from None


def bounds(flt: LogFilter) -> tuple[str | None, str | None]:
    since = instant(flt.since) if flt.since is not None else None
    until = instant(flt.until, end=True) if flt.until is not None else None
    if since is not None and until is not None and since >= until:
        raise Invalid("bad_time", "起始时间须早于截止时间")
    return since, until


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"audit:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    match = _CURSOR.fullmatch(raw)
    if match is None:
        raise Invalid("invalid_cursor", "分页游标无效")
    return int(match.group(1))


def _text(value: str | None, name: str, limit: int = 200) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit or "\x00" in value:
        raise Invalid("bad_filter", f"筛选条件 {name} 无效")
    return value.strip()


def _contains(session: Session, column: ColumnElement[Any], needle: str) -> ColumnElement[bool]:
    """``needle`` occurs in the column's stored text (case-sensitive, no wildcards)."""
    as_text = cast(column, String)
    if session.get_bind().dialect.name == "sqlite":
        return func.instr(as_text, needle) > 0
    return func.strpos(as_text, needle) > 0


def _targets(session: Session, ids: Sequence[str]) -> ColumnElement[bool]:
    if not ids:
        return false()
    return or_(*(_contains(session, AccessLogEntry.targets, json.dumps(i, ensure_ascii=False)) for i in ids))


def conditions(session: Session, flt: LogFilter) -> list[ColumnElement[bool]]:
    """The WHERE clauses for a filter (validated; ``Invalid`` when a value is unusable)."""
    out: list[ColumnElement[bool]] = []
    actor = _text(flt.actor, "actor")
    if actor is not None:
        out.append(AccessLogEntry.actor == actor)
    action = _text(flt.action, "action", 32)
    if action is not None:
        out.append(AccessLogEntry.action == action)
    if flt.outcome is not None:
        if flt.outcome not in OUTCOMES:
            raise Invalid("bad_filter", f"筛选条件 outcome 须为 {'、'.join(OUTCOMES)} 之一")
        out.append(AccessLogEntry.outcome == flt.outcome)
    dossier_id = _text(flt.dossier_id, "dossier_id", 64)
    if dossier_id is not None:
        out.append(_targets(session, [dossier_id]))
    person = _text(flt.person_id_number, "person_id_number", 32)
    if person is not None:
        person = person.upper()
        ids = session.scalars(
            select(Dossier.id).where(Dossier.person_id_number.in_(list(dict.fromkeys((person, person.lower())))))
        ).all()
        mentioned = func.instr if session.get_bind().dialect.name == "sqlite" else func.strpos
        out.append(or_(_targets(session, ids), mentioned(func.upper(cast(AccessLogEntry.detail, String)), person) > 0))
    since, until = bounds(flt)
    if since is not None:
        out.append(AccessLogEntry.at >= since)
    if until is not None:
        out.append(AccessLogEntry.at < until)
    return out


def entry_dict(row: Any) -> dict[str, Any]:
    """A row of ``_COLUMNS`` (or an ``AccessLogEntry``) as a JSON-ready dict."""
    return {name: getattr(row, name) for name in ENTRY_FIELDS}


def _select(where: Sequence[ColumnElement[bool]], after: int | None, newest_first: bool, limit: int) -> Select:
    stmt = select(*_COLUMNS).where(*where)
    if after is not None:
        stmt = stmt.where(AccessLogEntry.seq < after if newest_first else AccessLogEntry.seq > after)
    order = AccessLogEntry.seq.desc() if newest_first else AccessLogEntry.seq
    return stmt.order_by(order).limit(limit)


def query(
    session: Session, flt: LogFilter, cursor: str | None = None, limit: int = 100, *, newest_first: bool = False
) -> LogPage:
    """One page of matching entries in chain order (or newest first) and the cursor for the next."""
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise Invalid("bad_limit", f"每页条数须在 1 到 {MAX_LIMIT} 之间")
    after = decode_cursor(cursor) if cursor is not None else None
    rows = session.execute(_select(conditions(session, flt), after, newest_first, limit + 1)).all()
    entries = [entry_dict(row) for row in rows[:limit]]
    more = len(rows) > limit
    return LogPage(entries, encode_cursor(entries[-1]["seq"]) if more else None)


def scan(
    sessions: Callable[[], Session], flt: LogFilter, through: int | None = None, page: int = 1000
) -> Iterator[dict[str, Any]]:
    """Every matching entry with seq <= ``through``, in chain order.

    Each page of ``page`` entries is read in a session of its own, so a slow consumer (a streamed
    download) holds no connection or transaction between pages.
    """
    with sessions() as session:
        where = conditions(session, flt)
    if through is not None:
        where.append(AccessLogEntry.seq <= through)
    after: int | None = None
    while True:
        with sessions() as session:
            rows = session.execute(_select(where, after, False, page)).all()
        for row in rows:
            yield entry_dict(row)
        if len(rows) < page:
            return
        after = rows[-1].seq
