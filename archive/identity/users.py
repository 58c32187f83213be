"""Local user accounts: create, disable, change password, and sign-in with lockout."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from archive.errors import Invalid, NotFound, Unauthorized
from archive.identifiers import OFFICE_PATTERN
from archive.identity.passwords import check_policy, hash_password, needs_rehash, verify_password
from archive.identity.principal import ALL_OFFICES, Principal
from archive.identity.roles import Role
from archive.records.models import AuthToken, User, as_utc

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,63}")
# Roles that may hold every office (*): their work is not about one office's dossiers.
WIDE_ROLES = {Role.AUDITOR, Role.ADMIN}


@dataclass(frozen=True)
class LockPolicy:
    max_failures: int = 5
    lock_minutes: int = 15


def _now() -> datetime:
    return datetime.now(UTC)


def validate_account(name: str, role: str, office: str) -> Role:
    if not NAME_PATTERN.fullmatch(name) or name.startswith("system"):
        raise Invalid("invalid_user_name", "用户名须为 2–64 位字母、数字、点、下划线或连字符，且不能以 system 开头")
    try:
        kind = Role(role)
    except ValueError as exc:
        raise Invalid("invalid_role", f"未知角色 {role}；可选：{'、'.join(r.value for r in Role)}") from exc
    if office == ALL_OFFICES:
        if kind not in WIDE_ROLES:
            raise Invalid("invalid_office", "只有审计员和系统管理员可以覆盖全部经办机构（*）")
    elif not OFFICE_PATTERN.fullmatch(office):
        raise Invalid("invalid_office", "经办机构代码应为 1–32 位字母、数字、下划线或连字符")
    return kind


def add_user(
    session: Session,
    name: str,
    role: str,
    office: str,
    password: str,
    created_by: str,
    display_name: str = "",
    *,
    must_change: bool = False,
) -> User:
    """A new local user; ``must_change`` when someone else chose the password (the user must
    replace it before doing anything else)."""
    kind = validate_account(name, role, office)
    check_policy(name, password)
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise Invalid("user_exists", f"用户 {name} 已存在")
    user = User(
        name=name,
        display_name=display_name.strip()[:100],
        role=kind.value,
        office=office,
        provider="local",
        password_hash=hash_password(password),
        password_changed_at=_now(),
        must_change_password=must_change,
        disabled=False,
        failed_logins=0,
        created_by=created_by,
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound("user_not_found", f"用户 {name} 不存在")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


def revoke_all_tokens(session: Session, user_id: str) -> int:
    result = session.execute(
        update(AuthToken).where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None)).values(revoked_at=_now())
    )
    return result.rowcount or 0


def set_disabled(session: Session, name: str, disabled: bool, actor: str) -> User:
    user = get_user(session, name)
    if disabled and name == actor:
        raise Invalid("self_disable", "不能停用自己的账户")
    user.disabled = disabled
    if disabled:
        revoke_all_tokens(session, user.id)
    else:
        user.failed_logins, user.locked_until = 0, None
    return user


def set_password(session: Session, name: str, password: str, *, must_change: bool = True) -> User:
    """A new password (by an administrator: the user must change it at next sign-in); every
    token of the user is revoked."""
    user = get_user(session, name)
    check_policy(name, password)
    user.password_hash = hash_password(password)
    user.password_changed_at = _now()
    user.must_change_password = must_change
    user.failed_logins, user.locked_until = 0, None
    revoke_all_tokens(session, user.id)
    return user


def change_own_password(session: Session, principal: Principal, current: str, new: str) -> User:
    user = get_user(session, principal.name)
    if not verify_password(user.password_hash, current):
        raise Invalid("wrong_password", "当前密码不正确")
    if current == new:
        raise Invalid("weak_password", "新密码不能与当前密码相同")
    return set_password(session, principal.name, new, must_change=False)


def authenticate(session: Session, name: str, password: str, policy: LockPolicy) -> User:
    """The user whose password this is, or Unauthorized.

    After ``max_failures`` wrong passwords in a row the account is locked for ``lock_minutes``,
    doubling with each further failure (at most 64×); the count starts again once a lock has run
    out.  While locked, a wrong password gets the same answer as an unknown name, so the lock is
    revealed only to someone who knows the password.  Trade-off, documented: anyone can lock an
    account by guessing wrong five times (the per-address rate limit slows that down; an
    administrator unlocks with ``users enable``).
    """
    now = _now()
    user = session.scalar(select(User).where(User.name == name))
    if user is None or user.provider != "local":
        verify_password(None, password)
        raise Unauthorized("invalid_credentials", "用户名或密码错误")
    locked_until = as_utc(user.locked_until) if user.locked_until else None
    if locked_until is not None and locked_until <= now:  # the lock has run out: a fresh start
        session.execute(update(User).where(User.id == user.id).values(failed_logins=0, locked_until=None))
        locked_until = None
    correct = verify_password(user.password_hash, password)
    if locked_until is not None:
        if not correct:
            raise Unauthorized("invalid_credentials", "用户名或密码错误")
        minutes = max(1, int((locked_until - now).total_seconds() // 60) + 1)
        raise Unauthorized("account_locked", f"登录失败次数过多，账户已临时锁定，请 {minutes} 分钟后再试")
    if not correct:
        # One atomic increment, so parallel guesses are all counted (SQLite has no row locks).
        failures = session.execute(
            update(User)
            .where(User.id == user.id)
            .values(failed_logins=User.failed_logins + 1)
            .returning(User.failed_logins)
        ).scalar_one()
        over = failures - policy.max_failures
        if over >= 0:
            lock = now + timedelta(minutes=policy.lock_minutes * 2 ** min(over, 6))
            session.execute(update(User).where(User.id == user.id).values(locked_until=lock))
        raise Unauthorized("invalid_credentials", "用户名或密码错误")
    if user.disabled:
        raise Unauthorized("account_disabled", "账户已停用，请联系系统管理员")
    user.failed_logins, user.locked_until = 0, None
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user
