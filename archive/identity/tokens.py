"""Bearer tokens and browser sessions: random secrets of which only the SHA-256 is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.identity.principal import Principal
from archive.records.models import AuthToken, User, as_utc

PREFIX = "arc_"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Issued:
    token_id: str
    secret: str
    csrf: str | None
    expires_at: datetime


def issue(session: Session, user: User, kind: str, minutes: int, client: str) -> Issued:
    """A new bearer token or session for ``user``; sessions also get a CSRF secret."""
    secret = PREFIX + secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32) if kind == "session" else None
    expires = datetime.now(UTC) + timedelta(minutes=minutes)
    token = AuthToken(
        secret_sha256=_digest(secret),
        user_id=user.id,
        kind=kind,
        csrf_sha256=_digest(csrf) if csrf else None,
        client=client[:64],
        expires_at=expires,
    )
    session.add(token)
    session.flush()
    return Issued(token.id, secret, csrf, expires)


def resolve(session: Session, secret: str, kind: str, client: str = "") -> tuple[Principal, AuthToken] | None:
    """The principal a live, unrevoked token of ``kind`` belongs to; None otherwise."""
    if not secret.startswith(PREFIX) or len(secret) > 100:
        return None
    row = session.execute(
        select(AuthToken, User)
        .join(User, User.id == AuthToken.user_id)
        .where(AuthToken.secret_sha256 == _digest(secret), AuthToken.kind == kind)
    ).first()
    if row is None:
        return None
    token, user = row
    if token.revoked_at is not None or as_utc(token.expires_at) <= datetime.now(UTC) or user.disabled:
        return None
    principal = Principal(
        user.id, user.name, user.role, user.office, client, token.id, "password", user.must_change_password
    )
    return principal, token


def csrf_matches(token: AuthToken, presented: str | None) -> bool:
    if not token.csrf_sha256 or not presented:
        return False
    return hmac.compare_digest(token.csrf_sha256, _digest(presented))


def revoke(session: Session, token_id: str) -> None:
    token = session.get(AuthToken, token_id)
    if token is not None and token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
