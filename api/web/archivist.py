"""Pages of the web interface: the archivist's uploads and batches.

``/batches/upload`` — drop scans, watch each file go up, then the batch's live status;
``/batches`` — the office's batch history; ``/batches/{id}`` — one batch's status panel, rendered
here and kept current by ``batch.js`` polling the API.  Uploading itself goes through the JSON API
(``POST /api/v1/batches``); the reads here call the same functions as the API and are logged alike.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import HTMLResponse

from api.batches import BatchWorker, describe, find_batch, listed_dossiers, recent_batches
from api.deps import AppState
from api.schemas import BatchOut
from api.web.render import page
from api.web.session import page_user
from archive.identity.principal import ALL_OFFICES, Principal
from archive.identity.roles import Perm, allowed

router = APIRouter(include_in_schema=False)

HISTORY_PAGE = 25  # batches per history page
RECENT = 5  # batches shown beside the upload form
ACCEPT = ".pdf,.tif,.tiff,.jpg,.jpeg,.png"

# Every label the status panel shows; the same map goes to batch.js (data-labels), so the page
# rendered here and the page updated by the script read alike.
LABELS: dict[str, dict[str, str]] = {
    "state": {
        "queued": "排队中",
        "running": "识别中",
        "finished": "已完成",
        "failed": "处理中断",
        "unknown": "已中断",
    },
    "batch": {"running": "处理中", "completed": "已完成", "interrupted": "已中断"},
    "file": {"pending": "等待处理", "ingested": "已入库", "duplicate": "重复（未重复存储）", "rejected": "拒收"},
    "dossier": {"archived": "已归档", "needs_review": "待审核", "rejected": "已驳回", "destroyed": "已销毁"},
}
STATE_BADGE = {"queued": "", "running": "warn", "finished": "ok", "failed": "bad", "unknown": "bad"}
FILE_BADGE = {"pending": "", "ingested": "ok", "duplicate": "warn", "rejected": "bad"}
FINAL_STATES = ("finished", "failed", "unknown")

PageUpload = Annotated[Principal, Depends(page_user(Perm.BATCH_UPLOAD, "page_view"))]
PageBatches = Annotated[Principal, Depends(page_user(Perm.BATCH_READ, "batch_view"))]


def _state(request: Request) -> AppState:
    return request.app.state.archive


def _worker(state: AppState) -> BatchWorker:
    return state.batches  # type: ignore[return-value]


def opens_at(principal: Principal) -> str:
    """Where a dossier of a batch opens: the review workbench for those who decide, else the viewer."""
    return "/review/" if allowed(principal.role, Perm.REVIEW_DECIDE) else "/dossiers/"


def _shared(principal: Principal, **context: Any) -> dict[str, Any]:
    return {
        "open_base": opens_at(principal),
        "labels": LABELS,
        "state_badge": STATE_BADGE,
        "file_badge": FILE_BADGE,
        "final_states": FINAL_STATES,
        **context,
    }


def human_size(size: int) -> str:
    """Bytes as people read them: 1.5 GB, 300 MB, 12 KB."""
    value = float(size)
    for unit in ("字节", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return (
                f"{value:.0f} {unit}" if unit == "字节" or value >= 100 else f"{value:.1f} {unit}".replace(".0 ", " ")
            )
        value /= 1024
    return f"{size} 字节"  # not reached


def _listed(request: Request, principal: Principal, limit: int, before: str | None) -> list[BatchOut]:
    """The office's batches, newest first, logged like ``GET /api/v1/batches``."""
    state = _state(request)
    with state.rt.sessions() as session:
        batches = recent_batches(session, principal, limit, before)
        out = describe(session, batches, _worker(state).progress, principal.role)
    state.trail.record(principal, "batch_view", [b.id for b in out], detail={"results": len(out)})
    return out


@router.get("/batches/upload", response_class=HTMLResponse)
def upload_page(request: Request, principal: PageUpload) -> HTMLResponse:
    settings = _state(request).rt.settings
    recent = [] if principal.office == ALL_OFFICES else _listed(request, principal, RECENT, None)
    limits = {
        "max_files": settings.upload_max_files,
        "max_bytes": settings.upload_max_bytes,
        "max_file_bytes": settings.max_file_bytes,
    }
    return page(
        request,
        "archivist_upload.html",
        principal,
        **_shared(
            principal,
            limits=limits,
            limits_text={name: human_size(value) for name, value in limits.items() if name != "max_files"},
            accept=ACCEPT,
            recent=recent,
            needs_office=principal.office == ALL_OFFICES,
        ),
    )


@router.get("/batches", response_class=HTMLResponse)
def history_page(
    request: Request,
    principal: PageBatches,
    before: Annotated[str | None, Query(max_length=36)] = None,
) -> HTMLResponse:
    batches = _listed(request, principal, HISTORY_PAGE, before)
    more = batches[-1].id if len(batches) == HISTORY_PAGE else None
    return page(
        request,
        "archivist_history.html",
        principal,
        **_shared(
            principal, batches=batches, more=more, before=before, can_upload=allowed(principal.role, Perm.BATCH_UPLOAD)
        ),
    )


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
def batch_page(request: Request, batch_id: str, principal: PageBatches) -> HTMLResponse:
    """One batch; another office's batch is answered as not found, as by the API."""
    state = _state(request)
    targets = [batch_id]
    with state.trail.attempt(principal, "batch_view", targets) as logged, state.rt.sessions() as session:
        batch = find_batch(session, principal, batch_id)
        out = describe(session, [batch], _worker(state).progress, principal.role, detailed=True)[0]
        targets.extend(listed_dossiers(out))  # the entry, written as the block ends, names every dossier shown
        logged["lists"] = True
    return page(
        request,
        "archivist_batch.html",
        principal,
        **_shared(principal, batch=out),
    )
