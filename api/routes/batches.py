"""Batches: upload scans (streamed to disk, size- and type-checked) and follow their progress."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.batches import BatchWorker, check_upload, describe, find_batch, listed_dossiers, recent_batches, safe_name
from api.deps import AppState, DbDep, StateDep, authorise
from api.errors import ERROR_RESPONSES
from api.schemas import BatchCreated, BatchList, BatchOut
from archive.errors import Invalid, TooLarge
from archive.identity.principal import ALL_OFFICES, Principal
from archive.identity.roles import Perm

router = APIRouter(prefix="/batches", tags=["批次"], responses=ERROR_RESPONSES)
CHUNK = 1024 * 1024


def _store_upload(upload: UploadFile, target: Path, limit: int) -> int:
    head = upload.file.read(1024)
    check_upload(upload.filename or target.name, head)
    size = len(head)
    with target.open("xb") as out:
        out.write(head)
        while chunk := upload.file.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise TooLarge("file_too_large", f"文件 {upload.filename} 超过上限 {limit // (1024 * 1024)} MB")
            out.write(chunk)
    if size == 0:
        raise Invalid("empty_file", f"文件 {upload.filename} 为空")
    return size


UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["files"],
                "properties": {
                    "files": {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "description": "PDF、TIFF、JPEG 或 PNG 扫描件，可多个",
                    }
                },
            }
        }
    },
}


@router.post(
    "",
    status_code=202,
    response_model=BatchCreated,
    summary="上传扫描件，新建批次（后台 OCR 入库）",
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def upload(
    request: Request,
    principal: Annotated[Principal, Depends(authorise(Perm.BATCH_UPLOAD, "ingest"))],
    state: StateDep,
) -> BatchCreated:
    """The body is read only after the caller is known and allowed to upload."""
    settings = state.rt.settings
    async with request.form(max_files=settings.upload_max_files + 1, max_fields=10) as form:
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        return await run_in_threadpool(_accept, state, principal, files)


def _accept(state: AppState, principal: Principal, files: list[UploadFile]) -> BatchCreated:
    settings = state.rt.settings
    worker: BatchWorker = state.batches  # type: ignore[assignment]
    names = [f.filename or "" for f in files]
    with state.trail.attempt(principal, "ingest", (), detail={"files": names[:50]}) as detail:
        if principal.office == ALL_OFFICES:
            raise Invalid("office_required", "上传批次需要具体的经办机构：请使用属于某一经办机构的账户")
        if not files:
            raise Invalid("no_files", "请选择要上传的扫描件（表单字段 files）")
        if len(files) > settings.upload_max_files:
            raise Invalid("too_many_files", f"一个批次最多 {settings.upload_max_files} 个文件")
        folder = worker.new_folder()
        try:
            sources = []
            for position, upload_file in enumerate(files):
                target = folder / safe_name(upload_file.filename, position)
                _store_upload(upload_file, target, settings.max_file_bytes)
                sources.append(str(target))
            batch_id = worker.submit(principal, folder, sources)
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        detail["batch_id"] = batch_id
    return BatchCreated(id=batch_id, files=len(sources), status_url=f"/api/v1/batches/{batch_id}")


@router.get("", response_model=BatchList, summary="本机构最近的批次")
def list_batches(
    *,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[str | None, Query(max_length=36, description="只列出此批次之前的批次（翻页）")] = None,
    principal: Annotated[Principal, Depends(authorise(Perm.BATCH_READ, "batch_view"))],
    state: StateDep,
    session: DbDep,
) -> BatchList:
    batches = recent_batches(session, principal, limit, before)
    worker: BatchWorker = state.batches  # type: ignore[assignment]
    state.trail.record(principal, "batch_view", [b.id for b in batches], detail={"results": len(batches)})
    return BatchList(items=describe(session, batches, worker.progress, principal.role))


@router.get("/{batch_id}", response_model=BatchOut, summary="批次状态与进度")
def batch_status(
    *,
    batch_id: str,
    detail: Annotated[bool, Query(description="同时给出未结问题清单和待审核案卷（记入访问日志）")] = True,
    principal: Annotated[Principal, Depends(authorise(Perm.BATCH_READ, "batch_view"))],
    state: StateDep,
    session: DbDep,
) -> BatchOut:
    worker: BatchWorker = state.batches  # type: ignore[assignment]
    targets = [batch_id]
    with state.trail.attempt(principal, "batch_view", targets) as logged:
        batch = find_batch(session, principal, batch_id)
        out = describe(session, [batch], worker.progress, principal.role, detailed=detail)[0]
        targets.extend(listed_dossiers(out))  # the entry, written as the block ends, names every dossier shown
        logged["lists"] = detail
    return out
