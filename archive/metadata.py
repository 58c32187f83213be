"""The minimum description of an archived dossier (GB/T 18894-2016): 题名, 文件编号 (档号 or 业务编号),
责任者 (the office, or a catalogue entry's 责任者), 日期, 机构或问题 (business type), 保管期限.

One rule for the three places that ask: ingest (a dossier missing any of them is not archived
automatically), approval (题名 and a number, which a reviewer can supply, are required) and the
integrity check's ``required_metadata``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from archive.taxonomy import RETENTIONS, UNCLASSIFIED

TITLE = "题名"
NUMBER = "档号或文件编号"
RESPONSIBLE = "责任者"
DATE = "日期"
SUBJECT = "机构或问题（业务类型）"
RETENTION = "保管期限"


@dataclass(frozen=True)
class Description:
    title: str | None
    archive_number: str | None
    business_number: str | None
    responsible: bool  # an office, or a catalogue entry naming its 责任者
    dated: date | bool | None  # any date of the dossier or of its catalogue entries
    business_type: str | None
    retention: str | None


def missing(d: Description) -> list[str]:
    """The required elements the description lacks, in the standard's order (empty: complete)."""
    gaps = []
    if not (d.title or "").strip():
        gaps.append(TITLE)
    if not ((d.archive_number or "").strip() or (d.business_number or "").strip()):
        gaps.append(NUMBER)
    if not d.responsible:
        gaps.append(RESPONSIBLE)
    if not d.dated:
        gaps.append(DATE)
    if not d.business_type or d.business_type == UNCLASSIFIED:
        gaps.append(SUBJECT)
    if d.retention not in RETENTIONS:
        gaps.append(RETENTION)
    return gaps


def missing_before_filing(d: Description) -> list[str]:
    """What the dossier lacks that filing will not supply: everything ``missing`` names but the 档号,
    which is assigned when it is archived (``archive.numbering``)."""
    return [gap for gap in missing(d) if gap != NUMBER]


def problem_detail(gaps: list[str]) -> str:
    """The review problem ``metadata_missing`` for these gaps (Chinese, for the reviewer)."""
    return f"未识别到必备著录项：{'、'.join(gaps)}（GB/T 18894-2016），请核对补录后再归档"


def composed_title(
    person_name: str | None, unit_name: str | None, business_type: str | None, unit_first: bool = False
) -> str | None:
    """A 题名 composed (拟写) as 责任对象 + 业务 when the dossier prints none, e.g. "田志职工参保登记";
    the unit leads for a unit's business (``unit_first``: its key fields name the unit before the
    person), e.g. "淄博金桥船务代理有限公司单位参保登记".  None when neither the person nor the unit,
    or the business type, is known."""
    person, unit = (person_name or "").strip(), (unit_name or "").strip()
    who = (unit or person) if unit_first else (person or unit)
    if not who or not business_type or business_type == UNCLASSIFIED:
        return None
    return f"{who}{business_type}"


def unit_leads(key_fields: tuple[str, ...]) -> bool:
    """Whether a business type's 责任对象 is the unit: its key fields name the unit before the person."""
    order = [f for f in key_fields if f in ("person_name", "unit_name")]
    return bool(order) and order[0] == "unit_name"
