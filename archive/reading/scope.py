"""Role and office scope for dossiers.  Deny by default.

A role without the permission gets 403; a dossier outside the caller's office or status scope
is reported exactly like one that does not exist (404), so scope never reveals existence.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, selectinload

from archive.errors import Forbidden, NotFound
from archive.identity.principal import ALL_OFFICES, Principal
from archive.identity.roles import VISIBLE_STATUSES, Perm, Role, allowed
from archive.records.models import Dossier
from search import ALL, Scope


def require(principal: Principal, perm: Perm) -> None:
    if not allowed(principal.role, perm):
        raise Forbidden("forbidden_role", "当前角色无权执行此操作")


def visible_scope(principal: Principal) -> Scope:
    """What the caller may read: the statuses their role reads, in their office (or every office).
    The records (``dossier_clauses``) and the search engine (``Scope`` in its query) both apply it."""
    require(principal, Perm.DOSSIER_READ)
    statuses = VISIBLE_STATUSES.get(Role(principal.role), frozenset())
    offices = ALL if principal.office == ALL_OFFICES else frozenset({principal.office})
    return Scope(offices=offices, statuses=statuses)


def dossier_clauses(principal: Principal) -> list[ColumnElement[bool]]:
    """WHERE clauses restricting dossiers to the caller's scope."""
    scope = visible_scope(principal)
    clauses: list[ColumnElement[bool]] = [Dossier.status.in_(sorted(scope.statuses))]
    if scope.offices is not ALL:
        clauses.append(Dossier.office.in_(sorted(scope.offices)))  # type: ignore[arg-type]
    return clauses


def not_found(dossier_id: str) -> NotFound:
    return NotFound("dossier_not_found", "案卷不存在或不在您的查阅范围内")


def load_visible(session: Session, principal: Principal, dossier_id: str, *, with_pages: bool = False) -> Dossier:
    """The dossier if it exists and the caller may see it; NotFound otherwise."""
    query = select(Dossier).where(Dossier.id == dossier_id, *dossier_clauses(principal))
    if with_pages:
        query = query.options(selectinload(Dossier.pages), selectinload(Dossier.documents))
    dossier = session.scalar(query)
    if dossier is None:
        raise not_found(dossier_id)
    return dossier
