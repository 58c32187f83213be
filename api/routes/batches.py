"""Batches: upload scans (streamed to disk, size- and type-checked) and follow their progress."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, UploadFile
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from api.batches import BatchWorker, Progress, check_upload, safe_name
from api.deps import DbDep, StateDep, authorise
from api.errors import ERROR_RESPONSES
from api.schemas import BatchCreated, BatchFileOut, BatchList, BatchOut, BatchProgress
from archive.errors import Invalid, NotFound, TooLarge
from archive.identity.principal import ALL_OFFICES, Principal
from archive.identity.roles import Perm
from archive.records.models import Batch, Dossier

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


@router.post("", status_code=202, response_model=BatchCreated, summary="上传扫描件，新建批次（后台 OCR 入库）")
def upload(
    files: Annotated[list[UploadFile], File(description="PDF、TIFF、JPEG 或 PNG 扫描件，可多个")],
    principal: Annotated[Principal, Depends(authorise(Perm.BATCH_UPLOAD, "ingest"))],
    state: StateDep,
) -> BatchCreated:
    settings = state.rt.settings
    worker: BatchWorker = state.batches  # type: ignore[assignment]
    names = [f.filename or "" for f in files]
    with state.trail.attempt(principal, "ingest", (), detail={"files": names[:50]}) as detail:
        if principal.office == ALL_OFFICES:
            raise Invalid("office_required", "上传批次需要具体的经办机构：请使用属于某一经办机构的账户")
        if len(files) > settings.upload_max_files:
            raise Invalid("too_many_files", f"一个批次最多 {settings.upload_max_files} 个文件")
        folder = worker.new_folder()
        sources = []
        try:
            for position, upload_file in enumerate(files):
                target = folder / safe_name(upload_file.filename, position)
                _store_upload(upload_file, target, settings.max_file_bytes)
                sources.append(str(target))
        except Exception:
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()
            raise
        batch_id = worker.submit(principal, folder, sources)
        detail["batch_id"] = batch_id
    return BatchCreated(id=batch_id, files=len(sources), status_url=f"/api/v1/batches/{batch_id}")


def _out(session: Session, batch: Batch, progress: Progress | None) -> BatchOut:
    counts = dict(
        session.execute(
            select(Dossier.status, func.count()).where(Dossier.batch_id == batch.id).group_by(Dossier.status)
        ).all()
    )
    if progress is None:  # a batch of another server process, or from before a restart
        state = {"completed": "finished", "running": "running"}.get(batch.status, "unknown")
        done = Counter(f.status for f in batch.files)
        progress = Progress(state=state, files_total=len(batch.files), files_done=len(batch.files) - done["pending"])
    return BatchOut(
        id=batch.id,
        status=batch.status,
        office=batch.office,
        created_by=batch.created_by,
        created_at=batch.created_at,
        finished_at=batch.finished_at,
        files=[
            BatchFileOut(
                position=f.position,
                name=Path(f.source).name,
                status=f.status,
                problem_code=f.problem_code,
                problem_detail=f.problem_detail,
            )
            for f in batch.files
        ],
        dossiers=counts,
        progress=BatchProgress(
            state=progress.state,
            files_total=progress.files_total,
            files_done=progress.files_done,
            pages_total=progress.pages_total,
            pages_done=progress.pages_done,
            error=progress.error,
        ),
    )


def _scoped(principal: Principal):
    query = select(Batch).options(selectinload(Batch.files))
    if principal.office != ALL_OFFICES:
        query = query.where(Batch.office == principal.office)
    return query


@router.get("", response_model=BatchList, summary="本机构最近的批次")
def list_batches(
    *,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    principal: Annotated[Principal, Depends(authorise(Perm.BATCH_READ, "batch_view"))],
    state: StateDep,
    session: DbDep,
) -> BatchList:
    batches = session.scalars(_scoped(principal).order_by(Batch.id.desc()).limit(limit)).all()
    worker: BatchWorker = state.batches  # type: ignore[assignment]
    return BatchList(items=[_out(session, b, worker.progress.get(b.id)) for b in batches])


@router.get("/{batch_id}", response_model=BatchOut, summary="批次状态与进度")
def batch_status(
    *,
    batch_id: str,
    principal: Annotated[Principal, Depends(authorise(Perm.BATCH_READ, "batch_view"))],
    state: StateDep,
    session: DbDep,
) -> BatchOut:
    batch = session.scalar(_scoped(principal).where(Batch.id == batch_id))
    if batch is None:
        raise NotFound("batch_not_found", "批次不存在或不在您的查阅范围内")
    worker: BatchWorker = state.batches  # type: ignore[assignment]
    return _out(session, batch, worker.progress.get(batch.id))
