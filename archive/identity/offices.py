"""The offices (经办机构) an administrator has listed: code and name.

Codes follow the rule every office code follows (``archive.identifiers.OFFICE_PATTERN``: users,
batches and dossiers carry the same codes, usually the 6-digit administrative-division code of the
office, such as 370303).  The list is what forms offer; it does not restrict which codes a user or
a batch may carry, so accounts created before an office was listed keep working.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.errors import Invalid, NotFound
from archive.identifiers import OFFICE_PATTERN
from archive.identity.principal import ALL_OFFICES
from archive.records.models import Office

NAME_MAX = 100


def validate_code(code: str) -> str:
    code = code.strip()
    if code == ALL_OFFICES or not OFFICE_PATTERN.fullmatch(code):
        raise Invalid(
            "invalid_office", "经办机构代码应为 1–32 位字母、数字、下划线或连字符（通常为 6 位行政区划代码，如 370303）"
        )
    return code


def validate_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise Invalid("invalid_office_name", "请填写经办机构名称")
    if len(name) > NAME_MAX:
        raise Invalid("invalid_office_name", f"经办机构名称不能超过 {NAME_MAX} 个字符")
    return name


def list_offices(session: Session) -> list[Office]:
    return list(session.scalars(select(Office).order_by(Office.code)))


def names(session: Session) -> dict[str, str]:
    """Office code → name, for labels."""
    return {code: name for code, name in session.execute(select(Office.code, Office.name))}


def get_office(session: Session, code: str) -> Office:
    office = session.scalar(select(Office).where(Office.code == code))
    if office is None:
        raise NotFound("office_not_found", f"经办机构 {code} 不存在")
    return office


def add_office(session: Session, code: str, name: str, created_by: str) -> Office:
    code, name = validate_code(code), validate_name(name)
    if session.scalar(select(Office.id).where(Office.code == code)) is not None:
        raise Invalid("office_exists", f"经办机构代码 {code} 已存在")
    office = Office(code=code, name=name, created_by=created_by)
    session.add(office)
    session.flush()  # the unique code refuses a second office added at the same moment
    return office


def rename_office(session: Session, code: str, name: str) -> tuple[Office, str]:
    """The office with its new name, and the name it had before."""
    new_name = validate_name(name)
    office = get_office(session, code)
    before = office.name
    office.name = new_name
    session.flush()
    return office, before
