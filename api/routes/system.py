"""System information for administrators: the effective settings (secrets masked), the business-type
taxonomy (read and save), and the system status (database, queues, OCR, storage, search index)."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from api import health
from api.deps import AppState, StateDep, authorise
from api.errors import ERROR_RESPONSES
from api.schemas import StatusPart, SystemStatus, TaxonomyIn, TaxonomyOut, TaxonomySaved, TaxonomyTypeOut
from archive import __version__, taxonomy_edit
from archive.audit.query import LOCAL as BEIJING  # Asia/Shanghai, the offices' time
from archive.classify.store import model_labels
from archive.errors import Forbidden
from archive.identity.principal import ALL_OFFICES, Principal
from archive.identity.roles import Perm
from archive.indexing import outbox
from archive.indexing.backend import backend_name
from archive.integrity.run import AUDIT_ACTION, store_label
from archive.records.models import AccessLogEntry, Batch, FixityCheck, Original, SearchPending, TaskFailure, as_utc
from archive.settings import Settings

router = APIRouter(prefix="/system", tags=["系统"], responses=ERROR_RESPONSES)
Admin = Annotated[Principal, Depends(authorise(Perm.USER_ADMIN, "admin"))]


class SettingsOut(BaseModel):
    settings: dict[str, Any]


@router.get("/settings", response_model=SettingsOut, summary="当前生效的设置（口令已隐去）")
def effective_settings(*, principal: Admin, state: StateDep) -> SettingsOut:
    values = state.rt.settings.model_dump(mode="json")
    for name in ("database_url", "es_url", "broker_url", "result_url"):  # URLs may carry a password
        if values.get(name):
            values[name] = make_url(values[name]).render_as_string(hide_password=True)
    state.trail.record(principal, "admin", (), detail={"change": "settings_view"})
    return SettingsOut(settings=values)


# -- the business-type taxonomy -------------------------------------------------------------------


def taxonomy_view(state: AppState) -> TaxonomyOut:
    """The taxonomy in use as text and as types, with how many dossiers use each type."""
    settings: Settings = state.rt.settings
    now = taxonomy_edit.current(settings)
    taxonomy = taxonomy_edit.parse_text(now.text)
    with state.rt.sessions() as session:
        counts = taxonomy_edit.dossier_counts(session)
    types = [
        TaxonomyTypeOut(
            name=t.name,
            code=t.code,
            short=t.short,
            insurance_line=t.insurance_line,
            category=t.category,
            retention=t.retention,
            form_titles=list(t.form_titles),
            keywords=list(t.keywords),
            key_fields=list(t.key_fields),
            dossiers=counts.get(t.name, 0),
        )
        for t in (*taxonomy.types, taxonomy.unclassified)
    ]
    return TaxonomyOut(
        source="builtin" if now.path is None else "file",
        path=None if now.path is None else str(now.path),
        sha256=now.sha256,
        text=now.text,
        types=types,
    )


def require_wide(principal: Principal) -> None:
    if principal.office != ALL_OFFICES:
        raise Forbidden(
            "taxonomy_admin_wide_only", "分类表由所有经办机构共用，只有管理全部经办机构（*）的系统管理员可以修改"
        )


@router.get("/taxonomy", response_model=TaxonomyOut, summary="业务类型分类表（YAML 全文与各业务类型）")
def read_taxonomy(*, principal: Admin, state: StateDep) -> TaxonomyOut:
    with state.trail.attempt(principal, "admin", (), detail={"change": "taxonomy_view"}):
        return taxonomy_view(state)


@router.put("/taxonomy", response_model=TaxonomySaved, summary="保存业务类型分类表（校验、留存上一版本、立即生效）")
def save_taxonomy(*, body: TaxonomyIn, principal: Admin, state: StateDep) -> TaxonomySaved:
    settings: Settings = state.rt.settings
    detail = {"change": "taxonomy_save", "sha256": taxonomy_edit.sha256_text(body.text)}
    with state.trail.attempt(principal, "admin", (), detail=detail) as logged:
        require_wide(principal)
        with state.rt.sessions() as session:
            saved = taxonomy_edit.save_taxonomy(
                session, settings, body.text, base_sha256=body.base_sha256, model_labels=model_labels(settings)
            )
        state.taxonomy = saved.taxonomy  # review and approval in this process use it from now on
        logged.update(previous_sha256=saved.previous_sha256, types=len(saved.taxonomy), path=str(saved.path))
    return TaxonomySaved(
        message=f"分类表已保存并生效（{len(saved.taxonomy)} 个业务类型）；上一版本已留存为 {saved.previous_copy.name}",
        path=str(saved.path),
        sha256=saved.sha256,
        previous_sha256=saved.previous_sha256,
        previous_copy=str(saved.previous_copy),
        types=len(saved.taxonomy),
    )


# -- system status --------------------------------------------------------------------------------
# Each part answers ok | warn | error with a Chinese explanation and the facts behind it.  Every
# check only reads: the object store is probed with ``stat``/``exists``, never a write.

STARTED = datetime.now(UTC)  # when this server process loaded its routes
SEARCH_BEHIND = timedelta(minutes=10)  # a dossier queued for search longer than this: warn
INTEGRITY_DUE = timedelta(days=100)  # the scheduled check runs every 90 days by default
LOW_DISK = 0.10  # free share of the data home's disk under which storage warns
ORDER = {"ok": 0, "warn": 1, "error": 2}
ENGINE_ZH = {"paddle": "PaddleOCR", "rapid": "RapidOCR"}


def _part(key: str, label: str, status: str, message: str, **facts: Any) -> StatusPart:
    return StatusPart(key=key, label=label, status=status, message=message, facts=facts)


_failure = health.failure


def _database(state: AppState) -> StatusPart:
    check = health.database(state.rt)
    dialect, label = check.facts["dialect"], check.facts["label"]
    if not check.ok:
        return _part("database", "数据库", "error", check.message, dialect=dialect)
    revision, ms = check.facts["revision"], check.facts["latency_ms"]
    status = "ok" if ms < 1000 else "warn"
    slow = "" if status == "ok" else "，响应偏慢"
    return _part(
        "database",
        "数据库",
        status,
        f"数据库可访问（{label}，架构版本 {revision}，响应 {ms} 毫秒{slow}）",
        dialect=dialect,
        revision=revision,
        latency_ms=ms,
    )


def _queue_counts(state: AppState) -> dict[str, Any]:
    with state.rt.sessions() as session:
        batches = dict(
            session.execute(
                select(Batch.status, func.count())
                .where(Batch.status.in_(("running", "interrupted")))
                .group_by(Batch.status)
            ).all()
        )
        pending = outbox.backlog(session)
        oldest = session.scalar(select(func.min(SearchPending.queued_at)))
    return {"batches": batches, "pending": pending, "oldest": as_utc(oldest) if oldest else None}


_worker_alive = health.worker_alive


def _queue(state: AppState, counts: dict[str, Any], now: datetime) -> StatusPart:
    progress = list(getattr(state.batches, "progress", {}).values())
    states = Counter(p.state for p in progress)
    queued, running, failed = states["queued"], states["running"], states["failed"]
    unfinished = counts["batches"].get("running", 0)
    interrupted = counts["batches"].get("interrupted", 0)
    pending, oldest = counts["pending"], counts["oldest"]
    behind = oldest is not None and now - oldest > SEARCH_BEHIND
    facts = {
        "queued": queued,
        "running": running,
        "failed": failed,
        "unfinished_batches": unfinished,
        "interrupted_batches": interrupted,
        "search_pending": pending,
    }
    summary = f"排队 {queued} 个批次，正在处理 {running} 个；检索待更新 {pending} 个案卷"
    if not _worker_alive(state.batches):
        return _part(
            "queue", "处理队列", "error", f"批次处理线程已停止，上传的批次不会被处理，请重启服务。{summary}", **facts
        )
    problems = []
    if failed:
        problems.append(f"{failed} 个批次处理中断（上传文件已保留，重启服务后继续）")
    if interrupted:
        problems.append(f"数据库中有 {interrupted} 个中断的批次")
    if behind:
        problems.append(f"检索更新已滞后超过 {int(SEARCH_BEHIND.total_seconds() // 60)} 分钟")
    if problems:
        return _part("queue", "处理队列", "warn", f"{summary}；" + "；".join(problems), **facts)
    return _part("queue", "处理队列", "ok", summary, **facts)


def _ocr_on_workers(state: AppState, engine: str) -> StatusPart:
    """With ``ARCHIVE_BROKER_URL``: the Celery workers that answer, the tasks waiting, the failures kept."""
    from archive.distributed.app import FILES_QUEUE, PAGES_QUEUE
    from archive.distributed.queues import workers_online

    s = state.rt.settings
    facts: dict[str, Any] = {"engine": s.ocr_engine, "mode": "celery", "threads": s.ocr_threads}
    unreachable = f"{engine}：任务队列（Redis）无法访问"
    check = health.broker(state.rt, timeout=1.0)
    if not check.ok:
        return _part("ocr", "文字识别", "error", f"{unreachable}：{check.facts['why']}", **facts)
    waiting = check.facts["waiting"]
    try:
        nodes = workers_online(s, timeout=0.5)
    except Exception as exc:  # noqa: BLE001 — the answer is the status
        return _part("ocr", "文字识别", "error", f"{unreachable}：{_failure(exc)}", **facts)
    with state.rt.sessions() as session:
        failed = (
            session.scalar(select(func.count()).select_from(TaskFailure).where(TaskFailure.retried_at.is_(None))) or 0
        )
    facts.update(
        nodes=nodes, waiting_pages=waiting[PAGES_QUEUE], waiting_files=waiting[FILES_QUEUE], failed_tasks=failed
    )
    summary = f"{engine}，{len(nodes)} 个工作节点在线；排队 {waiting[PAGES_QUEUE]} 页、{waiting[FILES_QUEUE]} 个文件"
    if not nodes:
        return _part(
            "ocr", "文字识别", "error", f"{summary}：没有在线的工作节点，批次会停在识别，请启动 archive worker", **facts
        )
    if failed:
        return _part(
            "ocr",
            "文字识别",
            "warn",
            f"{summary}；{failed} 个任务最终失败，请查看 archive tasks failed 并重试",
            **facts,
        )
    return _part("ocr", "文字识别", "ok", summary, **facts)


def _ocr(state: AppState) -> StatusPart:
    s = state.rt.settings
    if s.broker_url:
        return _ocr_on_workers(state, ENGINE_ZH.get(s.ocr_engine, s.ocr_engine))
    engine = ENGINE_ZH.get(s.ocr_engine, s.ocr_engine)
    busy = any(p.state == "running" for p in list(getattr(state.batches, "progress", {}).values()))
    alive = _worker_alive(state.batches)
    facts = {"engine": s.ocr_engine, "workers": s.ocr_workers, "threads": s.ocr_threads, "busy": busy, "alive": alive}
    if s.ocr_workers:
        mode = f"配置 {s.ocr_workers} 个识别进程（每个 {s.ocr_threads} 个线程），处理批次时启动、处理完即退出"
    else:
        mode = "识别在服务进程内进行（ocr_workers=0，仅适合测试）"
    doing = "正在处理批次" if busy else "当前空闲"
    if not alive:
        return _part("ocr", "文字识别", "error", f"{engine}：批次处理线程已停止，识别不会进行，请重启服务", **facts)
    if s.ocr_model_dir is not None and not s.ocr_model_dir.is_dir():
        return _part("ocr", "文字识别", "warn", f"{engine}：找不到模型目录 {s.ocr_model_dir}；{mode}", **facts)
    status = "ok" if s.ocr_workers else "warn"
    return _part("ocr", "文字识别", status, f"{engine}，{mode}；{doing}", **facts)


def _last_integrity(state: AppState) -> dict[str, Any]:
    with state.rt.sessions() as session:
        entry = session.scalar(
            select(AccessLogEntry)
            .where(AccessLogEntry.action == AUDIT_ACTION)
            .order_by(AccessLogEntry.seq.desc())
            .limit(1)
        )
        failing = session.scalar(select(func.count()).select_from(FixityCheck).where(FixityCheck.ok.is_(False))) or 0
        last_read = session.scalar(select(func.max(FixityCheck.checked_at)))
        newest = session.scalar(select(Original.object_key).order_by(Original.created_at.desc()).limit(1))
    facts: dict[str, Any] = {
        "failing_objects": failing,
        "last_verified": as_utc(last_read).isoformat() if last_read else None,
    }
    if entry is not None:
        detail = entry.detail or {}
        facts.update(
            last_check=entry.at, last_check_ok=bool(detail.get("ok")), last_check_failures=detail.get("failures")
        )
    return {"facts": facts, "newest": newest}


def _storage(state: AppState, now: datetime) -> StatusPart:
    label = store_label(state.rt.store)
    found = _last_integrity(state)
    facts = {"backend": label, **found["facts"]}
    usage = shutil.disk_usage(state.rt.settings.home)
    free = usage.free / usage.total if usage.total else 1.0
    facts.update(disk_free_bytes=usage.free, disk_free_share=round(free, 3))
    failed = health.probe_store(state.rt, found["newest"])
    if failed is not None:
        return _part("storage", "存储", "error", f"对象存储无法读取：{label}，{failed}", **facts)
    if facts["failing_objects"]:
        message = f"有 {facts['failing_objects']} 个对象上次核验未通过，请查看四性检测报告（archive integrity check）"
        return _part("storage", "存储", "error", message, **facts)
    if facts.get("last_check_ok") is False:
        return _part("storage", "存储", "error", "最近一次四性检测未通过，请查看检测报告", **facts)
    problems = []
    last = facts.get("last_check")
    if last is None:
        problems.append("尚未做过四性检测（archive integrity check）")
    elif now - datetime.fromisoformat(last) > INTEGRITY_DUE:
        problems.append(f"最近一次四性检测已超过 {INTEGRITY_DUE.days} 天")
    if free < LOW_DISK:
        problems.append(f"数据目录所在磁盘仅剩 {free:.0%} 可用空间")
    when = f"最近一次四性检测通过（{datetime.fromisoformat(last).astimezone(BEIJING):%Y-%m-%d %H:%M}）" if last else ""
    readable = f"对象存储可读取：{label}"
    if problems:
        return _part("storage", "存储", "warn", f"{readable}；" + "；".join(problems), **facts)
    return _part("storage", "存储", "ok", f"{readable}；{when}；磁盘可用 {free:.0%}", **facts)


def _index(state: AppState, counts: dict[str, Any], now: datetime) -> StatusPart:
    backend = backend_name(state.rt.settings)
    label = {"tantivy": "内置检索索引", "elasticsearch": "Elasticsearch"}.get(backend, backend)
    pending, oldest = counts["pending"], counts["oldest"]
    facts: dict[str, Any] = {"backend": backend, "search_pending": pending}
    check = health.index(state.rt)
    if not check.ok:
        return _part("index", "检索索引", "error", f"{label}无法访问：{check.facts['why']}", **facts)
    facts["pages"] = check.facts["pages"]
    try:
        advice = state.rt.search.advice()
    except Exception as exc:  # noqa: BLE001 — the answer is the status
        return _part("index", "检索索引", "error", f"{label}无法访问：{_failure(exc)}", **facts)
    summary = f"{label}可用，已索引 {facts['pages']} 页，待更新 {pending} 个案卷"
    if oldest is not None and now - oldest > SEARCH_BEHIND:
        minutes = int((now - oldest).total_seconds() // 60)
        return _part(
            "index", "检索索引", "warn", f"{summary}；最早的更新已等待 {minutes} 分钟，检索结果可能滞后", **facts
        )
    if advice:
        return _part("index", "检索索引", "warn", f"{summary}；{advice}", **facts)
    return _part("index", "检索索引", "ok", summary, **facts)


def collect_status(state: AppState) -> SystemStatus:
    """The status of every part; a part that cannot be examined reports error, the others still answer."""
    now = datetime.now(UTC)
    parts = [_database(state)]
    try:
        counts = _queue_counts(state)
    except Exception as exc:  # noqa: BLE001 — the database part already says why
        failed = f"无法读取（{_failure(exc)}）"
        parts += [
            _part(key, label, "error", f"{label}{failed}")
            for key, label in (("queue", "处理队列"), ("ocr", "文字识别"), ("storage", "存储"), ("index", "检索索引"))
        ]
    else:
        parts += [_queue(state, counts, now), _ocr(state), _storage(state, now), _index(state, counts, now)]
    worst = max(parts, key=lambda p: ORDER[p.status]).status
    return SystemStatus(
        status=worst,
        checked_at=now,
        version=__version__,
        started_at=STARTED,
        uptime_seconds=int((now - STARTED).total_seconds()),
        parts=parts,
    )


@router.get("/status", response_model=SystemStatus, summary="系统状态：数据库、队列、识别进程、存储与检索索引")
def system_status(*, principal: Admin, state: StateDep) -> SystemStatus:
    """Not written to the access log: the page polls it every few seconds and it carries no
    personal data (opening the status page is logged)."""
    return collect_status(state)
