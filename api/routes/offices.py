"""Offices (经办机构, admin only): list, add, rename.  Any administrator reads the list (the user
form offers it); adding and renaming are for an administrator of every office (*)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import DbDep, StateDep, authorise
from api.errors import ERROR_RESPONSES
from api.schemas import OfficeIn, OfficeList, OfficeOut, OfficeRename
from archive.errors import Forbidden
from archive.identifiers import OFFICE_PATTERN
from archive.identity import offices as service
from archive.identity.principal import ALL_OFFICES, Principal
from archive.identity.roles import Perm
from archive.records.models import Office, User

router = APIRouter(prefix="/offices", tags=["经办机构"], responses=ERROR_RESPONSES)
OfficeCode = Annotated[str, Path(pattern=OFFICE_PATTERN.pattern, description="经办机构代码")]
Admin = Annotated[Principal, Depends(authorise(Perm.USER_ADMIN, "admin"))]


def user_counts(session: Session) -> dict[str, int]:
    return {office: count for office, count in session.execute(select(User.office, func.count()).group_by(User.office))}


def office_out(office: Office, users: int) -> OfficeOut:
    return OfficeOut(
        code=office.code, name=office.name, users=users, created_at=office.created_at, created_by=office.created_by
    )


def require_wide(principal: Principal) -> None:
    if principal.office != ALL_OFFICES:
        raise Forbidden("office_admin_wide_only", "只有管理全部经办机构（*）的系统管理员可以添加或修改经办机构")


@router.get("", response_model=OfficeList, summary="经办机构列表")
def list_offices(principal: Admin, session: DbDep) -> OfficeList:
    counts = user_counts(session)
    return OfficeList(items=[office_out(o, counts.get(o.code, 0)) for o in service.list_offices(session)])


@router.post("", status_code=201, response_model=OfficeOut, summary="添加经办机构")
def add_office(body: OfficeIn, principal: Admin, state: StateDep) -> OfficeOut:
    detail = {"change": "office_add", "code": body.code, "name": body.name}
    with state.trail.attempt(principal, "admin", (), detail=detail), state.rt.sessions.begin() as session:
        require_wide(principal)
        office = service.add_office(session, body.code, body.name, principal.name)
        return office_out(office, user_counts(session).get(office.code, 0))


@router.patch("/{code}", response_model=OfficeOut, summary="修改经办机构名称")
def rename_office(code: OfficeCode, body: OfficeRename, principal: Admin, state: StateDep) -> OfficeOut:
    detail = {"change": "office_rename", "code": code, "name": body.name}
    with state.trail.attempt(principal, "admin", (), detail=detail) as logged, state.rt.sessions.begin() as session:
        require_wide(principal)
        office, before = service.rename_office(session, code, body.name)
        logged["before"] = before
        return office_out(office, user_counts(session).get(office.code, 0))
