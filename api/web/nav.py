"""The navigation bar: each entry shows only to roles holding its permission."""

from __future__ import annotations

from dataclasses import dataclass

from archive.identity.principal import Principal
from archive.identity.roles import Perm, Role, allowed


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    perm: Perm | None  # None: every signed-in user


NAV: tuple[NavItem, ...] = (
    NavItem("概览", "/dashboard", None),
    NavItem("上传扫描件", "/batches/upload", Perm.BATCH_UPLOAD),
    NavItem("批次", "/batches", Perm.BATCH_READ),
    NavItem("审核", "/review", Perm.REVIEW_DECIDE),
    NavItem("检索", "/search", Perm.DOSSIER_READ),
    NavItem("业务档案查询", "/records", Perm.RECORD_LOOKUP),
    NavItem("访问日志", "/audit", Perm.AUDIT_READ),
    NavItem("用户与机构", "/admin/users", Perm.USER_ADMIN),
    NavItem("分类表", "/admin/taxonomy", Perm.USER_ADMIN),
    NavItem("系统状态", "/admin/status", Perm.USER_ADMIN),
)

# Where each role lands after signing in.
HOME: dict[str, str] = {
    Role.ARCHIVIST: "/batches/upload",
    Role.REVIEWER: "/review",
    Role.CASEWORKER: "/search",
    Role.AUDITOR: "/audit",
    Role.ADMIN: "/admin/users",
}


def items_for(principal: Principal) -> list[NavItem]:
    return [item for item in NAV if item.perm is None or allowed(principal.role, item.perm)]


def home_of(principal: Principal) -> str:
    return HOME.get(principal.role, "/dashboard")


def current_of(items: list[NavItem], path: str) -> str | None:
    """The entry a path belongs to: the longest href that is the path or a folder above it."""
    matches = [i.href for i in items if path == i.href or path.startswith(i.href + "/")]
    return max(matches, key=len, default=None)
