"""Pages for auditors: the access-log explorer (``/audit``) with the chain verification and the
CSV export, and the unusual-access report (``/audit/unusual``).

The reads are the API's own (``api.routes.audit.logged_query`` / ``logged_unusual``), logged the
same way; verifying the chain and exporting go to the JSON API itself (``/api/v1/audit/verify``
from ``audit.js``, ``/api/v1/audit/export`` as a plain GET form that carries the filters).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from api.deps import AppState
from api.routes.audit import logged_query, logged_unusual, report_window
from api.web.render import BEIJING, page
from api.web.session import page_user
from archive.audit.query import LogFilter, query
from archive.audit.unusual import Finding
from archive.errors import Invalid
from archive.identifiers import mask_id_number
from archive.identity.principal import Principal
from archive.identity.roles import ROLE_ZH, Perm, Role, allowed

router = APIRouter(include_in_schema=False)

API_VERIFY = "/api/v1/audit/verify"
API_EXPORT = "/api/v1/audit/export"
PAGE_SIZES = (50, 100, 200, 500)
REPORT_DAYS = (1, 3, 7, 14, 30, 90)
SUMMARY_CHARS = 160

ACTION_ZH: dict[str, str] = {
    "login": "登录",
    "logout": "退出登录",
    "search": "检索",
    "dossier_open": "打开案卷",
    "page_view": "查看页面",
    "text_view": "查看识别文本",
    "download": "下载",
    "export": "导出访问日志",
    "review": "审核",
    "review_queue": "查看审核队列",
    "ingest": "入库",
    "batch_view": "查看批次",
    "admin": "系统管理",
    "audit_query": "查询访问日志",
    "audit_verify": "校验访问日志",
    "dashboard_view": "查看概览",
    "disposition_due": "查看到期鉴定",
    "disposition_appraisals": "查看鉴定",
    "disposition_propose": "提出鉴定",
    "disposition_approve": "批准鉴定",
    "disposition_decline": "驳回鉴定",
    "disposition_destroy": "销毁案卷",
    "disposition_register": "查看销毁清册",
    "backup_create": "创建备份",
    "backup_verify": "校验备份",
    "backup_restore": "恢复备份",
}
# Actions whose targets are dossiers: their ids link to the entries about that dossier.
DOSSIER_ACTIONS = frozenset(
    {"search", "dossier_open", "page_view", "text_view", "download", "review", "review_queue", "disposition_due"}
)
DETAIL_ZH: dict[str, str] = {
    "query": "查询条件",
    "results": "结果数",
    "code": "代码",
    "path": "路径",
    "page": "页码",
    "decision": "决定",
    "change": "变更",
    "name": "用户",
    "format": "格式",
    "report": "报告",
    "findings": "发现",
    "ok": "校验通过",
    "entries": "条目数",
    "checkpoints": "检查点",
    "first_bad": "首条异常",
    "verified": "校验通过",
    "through_seq": "截至序号",
    "kind": "类型",
    "files": "文件",
    "office": "机构",
    "since": "起",
    "until": "止",
    "via": "方式",
    "status": "状态",
    "totals": "合计",
}
FILTER_FIELDS = ("actor", "dossier_id", "person_id_number", "action", "outcome", "since", "until")


@dataclass(frozen=True)
class Kind:
    title: str
    explanation: str


KINDS: dict[str, Kind] = {
    "many_dossiers": Kind(
        "单日查阅案卷数量异常",
        "该用户当天查阅的不同案卷数远超其日常水平（超过此前 30 天活跃日中位数的 3 倍，且至少 20 份）。"
        "可能是批量浏览或账号被他人使用，请向本人核实业务需要。",
    ),
    "off_hours": Kind(
        "非工作时间访问",
        "在工作时间（工作日 08:00–18:00，北京时间）以外访问了系统，包括周末和节假日。"
        "请核实是否为经批准的加班或值班操作。",
    ),
    "repeated_denied": Kind(
        "短时间内多次被拒绝",
        "一小时内至少 5 次操作被系统拒绝。可能是在尝试越权访问，也可能是权限配置不当，请核实原因。",
    ),
    "many_readers": Kind(
        "同一参保人的案卷被多人查阅",
        "同一参保人（按身份证号）的案卷在所选时段内被至少 3 名不同用户查阅。请核实每次查阅是否都有业务需要。",
    ),
}

Text = Annotated[str | None, Query(max_length=200)]
Moment = Annotated[str | None, Query(max_length=40)]


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


@dataclass(frozen=True)
class Filters:
    """The explorer's form as given (blank fields left out)."""

    values: dict[str, str]

    def log_filter(self) -> LogFilter:
        return LogFilter(**self.values)

    def query_string(self, **extra: object) -> str:
        """The filters (and ``extra``) as a URL query, for the paging links."""
        return urlencode({**self.values, **{k: str(v) for k, v in extra.items() if v is not None}})


def filters(
    actor: Text = None,
    dossier_id: Text = None,
    person_id_number: Annotated[str | None, Query(max_length=32)] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    outcome: Annotated[str | None, Query(max_length=16)] = None,
    since: Moment = None,
    until: Moment = None,
) -> Filters:
    given = dict(
        actor=actor,
        dossier_id=dossier_id,
        person_id_number=person_id_number,
        action=action,
        outcome=outcome,
        since=since,
        until=until,
    )
    return Filters({k: v for k, raw in given.items() if (v := _blank(raw)) is not None})


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Mapping):
        if not value:
            return "无"
        return "，".join(f"{DETAIL_ZH.get(str(k), k)}={_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        shown = "、".join(_value(v) for v in value[:5])
        return shown + (f" 等 {len(value)} 项" if len(value) > 5 else "")
    return "—" if value is None else str(value)


def summarise(detail: Any) -> str:
    """An entry's detail in one line of Chinese labels, cut at ``SUMMARY_CHARS``."""
    if not isinstance(detail, Mapping) or not detail:
        return ""
    text = "；".join(f"{DETAIL_ZH.get(str(k), k)}：{_value(v)}" for k, v in detail.items())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


@dataclass(frozen=True)
class Row:
    """One entry as the explorer's table shows it."""

    entry: dict[str, Any]
    summary: str
    full: str  # the detail as JSON, shown when the summary had to be cut

    @property
    def action_zh(self) -> str:
        return ACTION_ZH.get(self.entry["action"], self.entry["action"])

    @property
    def role_zh(self) -> str:
        role = self.entry["role"]
        try:
            return ROLE_ZH[Role(role)]
        except ValueError:
            return role or "—"

    @property
    def dossier_targets(self) -> bool:
        return self.entry["action"] in DOSSIER_ACTIONS


def row_of(entry: dict[str, Any]) -> Row:
    summary = summarise(entry.get("detail"))
    full = json.dumps(entry.get("detail"), ensure_ascii=False, indent=1) if summary.endswith("…") else ""
    return Row(entry, summary, full)


@dataclass(frozen=True)
class LastVerification:
    at: str
    actor: str
    ok: bool
    entries: int | None
    code: str | None
    first_bad: int | None


def last_verification(session: Any) -> LastVerification | None:
    """The latest recorded run of the chain verification (API, page or ``archive audit verify``):
    the newest allowed ``audit_verify`` entry of the log, or None when none was ever run."""
    found = query(session, LogFilter(action="audit_verify", outcome="allowed"), None, 1, newest_first=True)
    if not found.entries:
        return None
    entry = found.entries[0]
    detail = entry["detail"] if isinstance(entry["detail"], dict) else {}
    return LastVerification(
        at=entry["at"],
        actor=entry["actor"],
        ok=bool(detail.get("ok")),
        entries=detail.get("entries"),
        code=detail.get("code"),
        first_bad=detail.get("first_bad"),
    )


def action_choices(current: str | None) -> list[tuple[str, str]]:
    choices = sorted(ACTION_ZH.items(), key=lambda kv: kv[1])
    if current and current not in ACTION_ZH:
        choices.append((current, current))
    return choices


def _state(request: Request) -> AppState:
    return request.app.state.archive


@router.get("/audit")
def explorer(
    request: Request,
    principal: Annotated[Principal, Depends(page_user(Perm.AUDIT_READ, "audit_query"))],
    given: Annotated[Filters, Depends(filters)],
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = PAGE_SIZES[0],
) -> Response:
    state = _state(request)
    cursor = _blank(cursor)
    rows: list[Row] = []
    next_cursor: str | None = None
    error: Invalid | None = None
    with state.rt.sessions() as session:
        try:
            found = logged_query(state, session, principal, given.log_filter(), cursor, limit)
            rows, next_cursor = [row_of(e) for e in found.entries], found.next_cursor
        except Invalid as exc:  # logged as refused by logged_query; shown beside the form
            error = exc
        verification = last_verification(session)
    return page(
        request,
        "auditor_log.html",
        principal,
        422 if error else 200,
        f=given.values,
        rows=rows,
        error=error,
        limit=limit,
        page_sizes=PAGE_SIZES if limit in PAGE_SIZES else (*PAGE_SIZES, limit),
        actions=action_choices(given.values.get("action")),
        next_url=f"/audit?{given.query_string(limit=limit, cursor=next_cursor)}" if next_cursor else None,
        first_url=f"/audit?{given.query_string(limit=limit)}" if cursor else None,
        can_export=allowed(principal.role, Perm.AUDIT_EXPORT),
        export_url=API_EXPORT,
        verify_url=API_VERIFY,
        verification=verification,
        tab="log",
    )


# -- the unusual-access report --------------------------------------------------------------------


def _minute(moment: str, later: bool = False) -> str:
    """A stored UTC time as a Beijing ``datetime-local`` value; ``later``: the next minute (an
    exclusive end that still holds ``moment``)."""
    local = datetime.fromisoformat(moment).astimezone(BEIJING).replace(second=0, microsecond=0)
    if later:
        local += timedelta(minutes=1)
    return local.strftime("%Y-%m-%dT%H:%M")


@dataclass(frozen=True)
class FindingView:
    finding: Finding | dict[str, Any]
    person: str | None  # many_readers: the masked 身份证号
    evidence_url: str


def finding_view(finding: Finding) -> FindingView:
    """A finding with a link to its entries in the explorer (same user or person, same span)."""
    span = {"since": _minute(finding.first_at), "until": _minute(finding.last_at, later=True)}
    who = {"actor": finding.actor} if finding.actor else {}
    person = None
    if finding.kind == "many_readers" and finding.target:
        who = {"person_id_number": finding.target}
        person = mask_id_number(finding.target)
    return FindingView(finding, person, "/audit?" + urlencode({**who, **span}))


@router.get("/audit/unusual")
def unusual(
    request: Request,
    principal: Annotated[Principal, Depends(page_user(Perm.AUDIT_READ, "audit_query"))],
    days: Annotated[int, Query(ge=1, le=max(REPORT_DAYS))] = 7,
) -> Response:
    state = _state(request)
    window = report_window(None, None, days)
    with state.rt.sessions() as session:
        report = logged_unusual(state, session, principal, window)
    groups = [
        (kind, KINDS[kind], [finding_view(f) for f in report.findings if f.kind == kind])
        for kind in KINDS
        if any(f.kind == kind for f in report.findings)
    ]
    others = [finding_view(f) for f in report.findings if f.kind not in KINDS]
    if others:
        groups.append(("other", Kind("其他发现", "其他类型的异常访问。"), others))
    return page(
        request,
        "auditor_unusual.html",
        principal,
        days=days,
        choices=REPORT_DAYS if days in REPORT_DAYS else tuple(sorted((*REPORT_DAYS, days))),
        since=report.since,
        until=report.until,
        total=len(report.findings),
        groups=groups,
        kinds=KINDS,
        tab="unusual",
    )
