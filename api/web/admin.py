"""Pages for administrators: users, roles and offices (``/admin/users``), the business-type taxonomy
(``/admin/taxonomy``) and the system status (``/admin/status``).

The pages read through the same service functions as the API and log each view (action ``admin``).
Every change (create, disable, enable, reset a password, add or rename an office, save the
taxonomy) goes to the JSON API from ``admin.js``, where its rules and its access-log entry live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.deps import AppState
from api.routes.offices import user_counts
from api.routes.system import collect_status, taxonomy_view
from api.web.render import local_time, page
from api.web.session import page_user
from archive import taxonomy_edit
from archive.errors import Invalid
from archive.identity import offices as office_service
from archive.identity import users as user_service
from archive.identity.principal import ALL_OFFICES, Principal
from archive.identity.roles import GRANTS, ROLE_ZH, VISIBLE_STATUSES, Perm, Role
from archive.records.models import AuthToken, User, as_utc

router = APIRouter(include_in_schema=False)
AdminPage = Annotated[Principal, Depends(page_user(Perm.USER_ADMIN, "admin"))]

PERM_ZH: dict[Perm, str] = {
    Perm.BATCH_UPLOAD: "上传扫描件批次",
    Perm.BATCH_READ: "查看批次及处理进度",
    Perm.DOSSIER_READ: "查阅案卷（列表、页面、识别文本）",
    Perm.DOSSIER_DOWNLOAD: "下载可检索 PDF（须填写事由）",
    Perm.RECORD_LOOKUP: "按业务信息查询档案",
    Perm.REVIEW_CORRECT: "更正业务类型与著录项",
    Perm.REVIEW_DECIDE: "审批归档或驳回",
    Perm.USER_ADMIN: "管理用户、经办机构、分类表，查看系统状态",
    Perm.AUDIT_READ: "查询访问日志",
    Perm.AUDIT_EXPORT: "导出访问日志",
    Perm.DISPOSITION_READ: "查看到期鉴定与销毁清册",
    Perm.DISPOSITION_PROPOSE: "提出鉴定（销毁或延期保管）",
    Perm.DISPOSITION_APPROVE: "批准或驳回他人的鉴定提议",
}
ROLE_NAMES = {role.value: label for role, label in ROLE_ZH.items()}
STATUS_ZH = {"needs_review": "待审核", "rejected": "已驳回", "archived": "已归档"}

# The system status page: each state's words and badge, each fact's label (admin.js has the same).
STATE_ZH = {"ok": "正常", "warn": "需注意", "error": "异常"}
STATE_BADGE = {"ok": "ok", "warn": "warn", "error": "bad"}
FACT_ZH = {
    "dialect": "数据库类型",
    "revision": "架构版本",
    "latency_ms": "响应时间",
    "queued": "排队的批次",
    "running": "正在处理的批次",
    "failed": "本次运行中断的批次",
    "unfinished_batches": "未完成的批次（数据库）",
    "interrupted_batches": "中断的批次（数据库）",
    "search_pending": "检索待更新的案卷",
    "engine": "识别引擎",
    "workers": "识别进程数",
    "threads": "每个进程的线程数",
    "busy": "正在识别",
    "alive": "批次处理线程运行中",
    "backend": "后端",
    "failing_objects": "核验未通过的对象",
    "last_verified": "最近核验对象的时间",
    "last_check": "最近一次四性检测",
    "last_check_ok": "最近一次检测通过",
    "last_check_failures": "最近一次检测的不合格项",
    "disk_free_bytes": "数据目录磁盘可用空间",
    "disk_free_share": "数据目录磁盘可用比例",
    "pages": "已索引的页数",
}
TIME_FACTS = frozenset({"last_verified", "last_check"})


def _state(request: Request) -> AppState:
    return request.app.state.archive


@dataclass(frozen=True)
class UserRow:
    name: str
    display_name: str
    role: str
    role_zh: str
    office: str
    office_name: str
    disabled: bool
    locked: bool
    must_change: bool
    last_login: datetime | None
    created_at: datetime
    created_by: str
    is_self: bool


@dataclass(frozen=True)
class OfficeChoice:
    code: str
    name: str
    listed: bool  # in the offices table (else only carried by existing users)


def _last_sign_ins(session: Session) -> dict[str, datetime]:
    """When each user last signed in: the newest token or session issued to them."""
    rows = session.execute(select(AuthToken.user_id, func.max(AuthToken.created_at)).group_by(AuthToken.user_id))
    return {user_id: as_utc(at) for user_id, at in rows if at is not None}


def user_rows(session: Session, principal: Principal, names: dict[str, str]) -> list[UserRow]:
    """The users this administrator manages (one office's, or everyone's for *)."""
    now = datetime.now(UTC)
    last = _last_sign_ins(session)
    rows = []
    for user in user_service.list_users(session):
        if principal.office not in (ALL_OFFICES, user.office):
            continue
        rows.append(
            UserRow(
                name=user.name,
                display_name=user.display_name,
                role=user.role,
                role_zh=ROLE_NAMES.get(user.role, user.role),
                office=user.office,
                office_name=names.get(user.office, ""),
                disabled=user.disabled,
                locked=user.locked_until is not None and as_utc(user.locked_until) > now,
                must_change=user.must_change_password,
                last_login=last.get(user.id),
                created_at=as_utc(user.created_at),
                created_by=user.created_by,
                is_self=user.name == principal.name,
            )
        )
    return rows


def office_choices(session: Session, principal: Principal, names: dict[str, str]) -> list[OfficeChoice]:
    """Offices the user form offers: the listed ones and those existing users carry (an office
    administrator: only their own)."""
    if principal.office != ALL_OFFICES:
        return [OfficeChoice(principal.office, names.get(principal.office, ""), principal.office in names)]
    carried = set(session.scalars(select(User.office).distinct())) - {ALL_OFFICES}
    return [OfficeChoice(code, names.get(code, ""), code in names) for code in sorted(set(names) | carried)]


def role_matrix() -> list[tuple[str, str, list[bool]]]:
    """(permission, its Chinese description, granted per role in ``Role`` order)."""
    return [(perm.value, PERM_ZH.get(perm, perm.value), [perm in GRANTS[role] for role in Role]) for perm in Perm]


@router.get("/admin/users")
def users_page(request: Request, principal: AdminPage) -> Response:
    state = _state(request)
    with (
        state.trail.attempt(principal, "admin", (), detail={"change": "users_view"}),
        state.rt.sessions() as session,
    ):
        names = office_service.names(session)
        rows = user_rows(session, principal, names)
        choices = office_choices(session, principal, names)
        counts = user_counts(session)
        offices = [(o, counts.get(o.code, 0)) for o in office_service.list_offices(session)]
    roles = [(role.value, ROLE_ZH[role]) for role in Role]
    visible = ["、".join(STATUS_ZH.get(s, s) for s in sorted(VISIBLE_STATUSES.get(role, ()))) for role in Role]
    return page(
        request,
        "admin_users.html",
        principal,
        users=rows,
        roles=roles,
        wide_roles=sorted(r.value for r in user_service.WIDE_ROLES),
        choices=choices,
        offices=offices,
        matrix=role_matrix(),
        visible=visible,
        wide=principal.office == ALL_OFFICES,
    )


@router.get("/admin/taxonomy")
def taxonomy_page(request: Request, principal: AdminPage, saved: bool = False) -> Response:
    state = _state(request)
    settings = state.rt.settings
    with state.trail.attempt(principal, "admin", (), detail={"change": "taxonomy_view"}):
        error = None
        try:
            view = taxonomy_view(state)
            text, sha, types, source, path = view.text, view.sha256, view.types, view.source, view.path
        except Invalid as exc:  # the file in use was broken by hand: show it so that it can be mended
            now = taxonomy_edit.current(settings)
            text, sha, types, source, path = now.text, now.sha256, [], "file", str(now.path)
            error = exc.message
        history = [
            (p.name, datetime.fromtimestamp(p.stat().st_mtime, UTC)) for p in taxonomy_edit.history(settings, 10)
        ]
    return page(
        request,
        "admin_taxonomy.html",
        principal,
        text=text,
        sha256=sha,
        types=types,
        source=source,
        file_path=path,
        target=str(taxonomy_edit.target_path(settings)),
        history_dir=str(taxonomy_edit.history_dir(settings)),
        history=history,
        error=error,
        saved=saved,
        can_edit=principal.office == ALL_OFFICES,
    )


def fact_text(key: str, value: Any) -> str:
    """A status fact as people read it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if key in TIME_FACTS:
        return local_time(value)
    if key == "disk_free_bytes":
        return f"{value / 1024**3:.1f} GB"
    if key == "disk_free_share":
        return f"{value:.0%}"
    if key == "latency_ms":
        return f"{value} 毫秒"
    return str(value)


def uptime_text(seconds: int) -> str:
    days, rest = divmod(max(0, seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} 天 {hours} 小时"
    if hours:
        return f"{hours} 小时 {minutes} 分钟"
    return f"{minutes} 分钟"


@router.get("/admin/status")
def status_page(request: Request, principal: AdminPage) -> Response:
    state = _state(request)
    with state.trail.attempt(principal, "admin", (), detail={"change": "status_view"}):
        status = collect_status(state)
    parts = [(part, [(FACT_ZH.get(k, k), fact_text(k, v)) for k, v in part.facts.items()]) for part in status.parts]
    return page(
        request,
        "admin_status.html",
        principal,
        status=status,
        parts=parts,
        uptime=uptime_text(status.uptime_seconds),
        state_zh=STATE_ZH,
        state_badge=STATE_BADGE,
        fact_labels=FACT_ZH,
    )
