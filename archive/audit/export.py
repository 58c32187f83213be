"""Exporting access-log entries for auditors, as CSV or JSON, with the chain verification attached.

The export is a snapshot: the chain head is read first, the whole chain is then verified, and
only entries up to that head are exported, so every exported entry is covered by the attached
verification (``Export.verification``, also suitable for a response header).  The body is a
generator of UTF-8 chunks, one per page of entries, so an HTTP response can stream it.

CSV (``text/csv``): UTF-8 with a BOM, so Excel opens the Chinese correctly; CRLF line ends; one
header row of Chinese column names (``CSV_COLUMNS`` maps them to the entry fields).  The
verification travels on every row rather than in a preamble, so the file stays one plain table
that any CSV reader takes as is, and a row cut out or re-sorted in Excel still carries its
verdict: ``本条校验`` is 通过 when the entry lies before the first bad entry of the chain (all of
them, when the chain is intact), else 未通过; ``日志校验`` is the summary of the whole chain.
``targets`` and ``detail`` are their JSON text; times are given in UTC as stored and in Beijing
time.  Text beginning with = + - @ (or a tab/CR) gets a leading ' so that Excel shows it instead
of evaluating it as a formula (CSV injection); the JSON export is verbatim.

JSON (``application/json``): ``{"verification": {...}, "filter": {...}, "through_seq": N,
"exported_at": "...", "entries": [{..., "verified": true}, ...], "count": N}``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from archive.audit.query import LOCAL, LogFilter, conditions, scan
from archive.audit.verify import Verification, verify
from archive.records.models import AccessLogHead
from archive.runtime import Runtime

BOM = "\ufeff"
CSV_COLUMNS: tuple[tuple[str, str], ...] = (
    ("seq", "序号"),
    ("id", "条目编号"),
    ("at", "时间(UTC)"),
    ("at_local", "时间(北京时间)"),
    ("actor", "用户"),
    ("role", "角色"),
    ("office", "经办机构"),
    ("client", "客户端"),
    ("action", "操作"),
    ("outcome", "结果"),
    ("targets", "对象"),
    ("reason", "事由"),
    ("detail", "详情"),
    ("prev", "前一条哈希"),
    ("hash", "本条哈希"),
    ("algorithm", "哈希算法"),
    ("verified", "本条校验"),
    ("verification", "日志校验"),
)
PASSED, FAILED = "通过", "未通过"
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Export:
    verification: Verification
    through_seq: int  # entries appended after the export began are left out
    media_type: str
    filename: str
    chunks: Iterator[bytes]


def _snapshot(rt: Runtime, flt: LogFilter) -> tuple[int, Verification]:
    with rt.sessions() as session:
        conditions(session, flt)  # refuse a bad filter before the verification and the streaming begin
        through = session.scalar(select(AccessLogHead.seq).where(AccessLogHead.id == 1)) or 0
    return through, verify(rt)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def local_time(at: str) -> str:
    """Stored UTC ISO text as Beijing time, ``2026-03-01 09:30:00``; as given if unreadable."""
    try:
        return datetime.fromisoformat(at).astimezone(LOCAL).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return str(at)


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def _csv_row(entry: dict[str, Any], verification: Verification, summary: str) -> list[Any]:
    values = {
        **entry,
        "at_local": local_time(entry["at"]),
        "targets": json.dumps(entry["targets"], ensure_ascii=False),
        "detail": json.dumps(entry["detail"], ensure_ascii=False, sort_keys=True),
        "verified": PASSED if verification.covers(entry["seq"]) else FAILED,
        "verification": summary,
    }
    return [_cell(values[name]) for name, _ in CSV_COLUMNS]


def export_csv(rt: Runtime, flt: LogFilter, page: int = 1000) -> Export:
    """Verify the chain, then stream the matching entries as CSV (see the module docstring)."""
    through, verification = _snapshot(rt, flt)

    def chunks() -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write(BOM)
        writer.writerow([label for _, label in CSV_COLUMNS])
        summary = verification.summary()
        for n, entry in enumerate(scan(rt.sessions, flt, through, page), 1):
            writer.writerow(_csv_row(entry, verification, summary))
            if n % page == 0:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode("utf-8")

    return Export(verification, through, "text/csv; charset=utf-8", f"access-log-{_stamp()}.csv", chunks())


def export_json(rt: Runtime, flt: LogFilter, page: int = 1000) -> Export:
    """Verify the chain, then stream the matching entries as one JSON document."""
    through, verification = _snapshot(rt, flt)

    def chunks() -> Iterator[bytes]:
        head = {
            "verification": verification.as_dict(),
            "filter": flt.as_dict(),
            "through_seq": through,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        parts = [json.dumps(head, ensure_ascii=False)[:-1] + ', "entries": [']
        count = 0
        for entry in scan(rt.sessions, flt, through, page):
            entry["verified"] = verification.covers(entry["seq"])
            parts.append(("," if count else "") + "\n" + json.dumps(entry, ensure_ascii=False))
            count += 1
            if count % page == 0:
                yield "".join(parts).encode("utf-8")
                parts = []
        parts.append(f'\n], "count": {count}}}')
        yield "".join(parts).encode("utf-8")

    return Export(verification, through, "application/json", f"access-log-{_stamp()}.json", chunks())
