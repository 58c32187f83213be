"""User administration (admin only): list, create, disable, enable, reset a password.
An administrator bound to one office manages that office's users only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlalchemy.orm import Session

from api.deps import AppState, DbDep, StateDep, authorise
from api.errors import ERROR_RESPONSES
from api.schemas import Ok, PasswordReset, UserIn, UserList, UserOut
from archive.errors import NotFound
from archive.identity import users as service
from archive.identity.principal import ALL_OFFICES, Principal
from archive.identity.roles import Perm
from archive.records.models import User, as_utc

router = APIRouter(prefix="/users", tags=["用户管理"], responses=ERROR_RESPONSES)
UserName = Annotated[str, Path(pattern=service.NAME_PATTERN.pattern, description="用户名")]


def _out(user: User) -> UserOut:
    locked = user.locked_until is not None and as_utc(user.locked_until) > datetime.now(UTC)
    return UserOut(
        name=user.name,
        display_name=user.display_name,
        role=user.role,
        office=user.office,
        provider=user.provider,
        disabled=user.disabled,
        locked=locked,
        created_at=user.created_at,
        created_by=user.created_by,
    )


def _managed(session: Session, principal: Principal, name: str) -> User:
    user = service.get_user(session, name)
    if principal.office != ALL_OFFICES and user.office != principal.office:
        raise NotFound("user_not_found", f"用户 {name} 不存在")
    return user


def _check_office(principal: Principal, office: str) -> None:
    if principal.office != ALL_OFFICES and office != principal.office:
        raise NotFound("office_not_managed", "只能管理本经办机构的用户")


@router.get("", response_model=UserList, summary="用户列表")
def list_users(
    principal: Annotated[Principal, Depends(authorise(Perm.USER_ADMIN, "admin"))], session: DbDep
) -> UserList:
    users = [u for u in service.list_users(session) if principal.office in (ALL_OFFICES, u.office)]
    return UserList(items=[_out(u) for u in users])


@router.post("", status_code=201, response_model=UserOut, summary="新建用户")
def create_user(
    body: UserIn,
    principal: Annotated[Principal, Depends(authorise(Perm.USER_ADMIN, "admin"))],
    state: StateDep,
) -> UserOut:
    detail = {"change": "user_add", "name": body.name, "role": body.role, "office": body.office}
    with state.trail.attempt(principal, "admin", (), detail=detail), state.rt.sessions.begin() as session:
        _check_office(principal, body.office)
        user = service.add_user(
            session,
            body.name,
            body.role,
            body.office,
            body.password,
            principal.name,
            body.display_name,
            must_change=True,
        )
        return _out(user)


def _set_disabled(principal: Principal, state: AppState, name: str, disabled: bool) -> UserOut:
    change = "user_disable" if disabled else "user_enable"
    with (
        state.trail.attempt(principal, "admin", (), detail={"change": change, "name": name}),
        state.rt.sessions.begin() as session,
    ):
        _managed(session, principal, name)
        return _out(service.set_disabled(session, name, disabled, principal.name))


@router.post("/{name}/disable", response_model=UserOut, summary="停用用户（吊销其全部令牌）")
def disable_user(
    name: UserName,
    principal: Annotated[Principal, Depends(authorise(Perm.USER_ADMIN, "admin"))],
    state: StateDep,
) -> UserOut:
    return _set_disabled(principal, state, name, True)


@router.post("/{name}/enable", response_model=UserOut, summary="启用用户（解除锁定）")
def enable_user(
    name: UserName,
    principal: Annotated[Principal, Depends(authorise(Perm.USER_ADMIN, "admin"))],
    state: StateDep,
) -> UserOut:
    return _set_disabled(principal, state, name, False)


@router.post("/{name}/password", response_model=Ok, summary="重置密码（吊销其全部令牌）")
def reset_password(
    *,
    name: UserName,
    body: PasswordReset,
    principal: Annotated[Principal, Depends(authorise(Perm.USER_ADMIN, "admin"))],
    state: StateDep,
) -> Ok:
    with (
        state.trail.attempt(principal, "admin", (), detail={"change": "password_reset", "name": name}),
        state.rt.sessions.begin() as session,
    ):
        _managed(session, principal, name)
        service.set_password(session, name, body.password)
    return Ok(message="密码已重置，该用户须重新登录")
