"""Dossiers: list and search (IDs masked), open one (logged), page images and thumbnails, OCR
text, downloads of the searchable PDF and of a page image (a reason is required; the served copy
carries a visible watermark with the user, office and time)."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from api.deps import MEANINGFUL, DbDep, StateDep, authorise
from api.errors import ERROR_RESPONSES, ErrorBody
from api.schemas import DossierDetail, DossierPage, DossierSummary, DossierText, PageText
from archive.identity.principal import Principal
from archive.identity.roles import Perm, sees_clean_scans
from archive.reading import dossiers as reading
from archive.reading import thumbnails
from archive.reading.watermark import Stamp, watermark_image, watermark_pdf

router = APIRouter(prefix="/dossiers", tags=["案卷"], responses=ERROR_RESPONSES)

DossierId = Annotated[str, Path(pattern=reading.ID_PATTERN.pattern, description="案卷 ID")]
PageNumber = Annotated[int, Path(ge=1, le=100_000)]
Reason = Annotated[str, Query(min_length=2, max_length=200, description="下载原因（必填，记入访问日志）"), MEANINGFUL]


@router.get("", response_model=DossierPage, summary="案卷列表与检索（身份证号掩码显示）")
def list_dossiers(
    *,
    business_type: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    office: Annotated[str | None, Query(max_length=32)] = None,
    archive_number: Annotated[str | None, Query(max_length=100)] = None,
    person_id_number: Annotated[str | None, Query(max_length=18)] = None,
    unit_uscc: Annotated[str | None, Query(max_length=18)] = None,
    business_number: Annotated[str | None, Query(max_length=64)] = None,
    date_from: date | None = None,
    date_to: date | None = None,
    q: Annotated[str | None, Query(max_length=100, description="题名、姓名或单位名称中的文字")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    principal: Annotated[Principal, Depends(authorise(Perm.DOSSIER_READ, "search"))],
    state: StateDep,
    session: DbDep,
) -> DossierPage:
    flt = reading.DossierFilter(
        business_type=business_type,
        status=status,
        office=office,
        archive_number=archive_number,
        person_id_number=person_id_number,
        unit_uscc=unit_uscc,
        business_number=business_number,
        date_from=date_from,
        date_to=date_to,
        text=q,
    )
    with state.trail.attempt(principal, "search", (), detail={"query": flt.as_log()}) as detail:
        state.search_limit.hit(principal.name)  # paging counts too: no bulk harvesting of the list
        rows, nxt = reading.list_dossiers(session, principal, flt, cursor, limit)
        detail["results"] = len(rows)
    return DossierPage(items=[DossierSummary(**reading.summary(d)) for d in rows], next=nxt)


@router.get("/{dossier_id}", response_model=DossierDetail, summary="打开案卷（完整身份证号，记入访问日志）")
def open_dossier(
    dossier_id: DossierId,
    principal: Annotated[Principal, Depends(authorise(Perm.DOSSIER_READ, "dossier_open"))],
    state: StateDep,
    session: DbDep,
) -> DossierDetail:
    with state.trail.attempt(principal, "dossier_open", (dossier_id,)):
        data = reading.open_dossier(session, principal, dossier_id)
    return DossierDetail(**data)


@router.get(
    "/{dossier_id}/pages/{number}/image",
    summary="页面图像（记入访问日志）",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/tiff": {}}}, 404: {"model": ErrorBody}},
)
def page_image(
    dossier_id: DossierId,
    number: Annotated[int, Path(ge=1, le=100_000)],
    principal: Annotated[Principal, Depends(authorise(Perm.DOSSIER_READ, "page_view"))],
    state: StateDep,
    session: DbDep,
) -> Response:
    """As scanned for those who correct OCR; for every other role upright, with the reader's name,
    office and the time drawn in (``sees_clean_scans``)."""
    with state.trail.attempt(principal, "page_view", (dossier_id,), detail={"page": number}):
        data, media_type, rotation = reading.page_image(session, state.rt.store, principal, dossier_id, number)
    if not sees_clean_scans(principal.role):
        data, media_type = watermark_image(data, media_type, Stamp.now(principal.name, principal.office), rotation)
    return Response(data, media_type=media_type, headers={"Content-Disposition": "inline"})


@router.get(
    "/{dossier_id}/pages/{number}/thumbnail",
    summary="页面缩略图（宽 200 像素的 JPEG，记入访问日志）",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"model": ErrorBody}},
)
def page_thumbnail(
    dossier_id: DossierId,
    number: PageNumber,
    principal: Annotated[Principal, Depends(authorise(Perm.DOSSIER_READ, "page_view"))],
    state: StateDep,
    session: DbDep,
) -> Response:
    detail = {"page": number, "size": "thumbnail"}
    with state.trail.attempt(principal, "page_view", (dossier_id,), detail=detail):
        data = thumbnails.page_thumbnail(
            session, state.rt.store, principal, dossier_id, number, state.rt.settings.cache_dir
        )
    # Not cached by the browser (the API's no-store): every view is a logged read, like the page image.
    return Response(data, media_type=thumbnails.MEDIA_TYPE, headers={"Content-Disposition": "inline"})


@router.get(
    "/{dossier_id}/pages/{number}/text",
    response_model=PageText,
    summary="单页 OCR 文本（记入访问日志）",
)
def page_text(
    dossier_id: DossierId,
    number: PageNumber,
    principal: Annotated[Principal, Depends(authorise(Perm.DOSSIER_READ, "text_view"))],
    state: StateDep,
    session: DbDep,
) -> PageText:
    with state.trail.attempt(principal, "text_view", (dossier_id,), detail={"page": number}):
        data = reading.one_page_text(session, principal, dossier_id, number)
    return PageText(**data)


@router.get(
    "/{dossier_id}/pages/{number}/download",
    summary="下载页面图像（须填写原因；图像带可见水印：用户、机构、时间；记入访问日志）",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}, 404: {"model": ErrorBody}},
)
def page_download(
    *,
    dossier_id: DossierId,
    number: PageNumber,
    reason: Reason,
    principal: Annotated[Principal, Depends(authorise(Perm.DOSSIER_DOWNLOAD, "download"))],
    state: StateDep,
    session: DbDep,
) -> Response:
    detail = {"page": number, "format": "image"}
    with state.trail.attempt(principal, "download", (dossier_id,), reason=reason.strip(), detail=detail):
        data, media_type, rotation, name = reading.page_download(session, state.rt.store, principal, dossier_id, number)
        marked, media_type = watermark_image(data, media_type, Stamp.now(principal.name, principal.office), rotation)
    name = f"{name}-p{number:04d}.{'jpg' if media_type == 'image/jpeg' else 'png'}"
    return Response(marked, media_type=media_type, headers={"Content-Disposition": _attachment(name)})


@router.get("/{dossier_id}/text", response_model=DossierText, summary="OCR 文本（记入访问日志）")
def ocr_text(
    dossier_id: DossierId,
    principal: Annotated[Principal, Depends(authorise(Perm.DOSSIER_READ, "text_view"))],
    state: StateDep,
    session: DbDep,
) -> DossierText:
    with state.trail.attempt(principal, "text_view", (dossier_id,)):
        pages = reading.page_text(session, principal, dossier_id)
    return DossierText(id=dossier_id, pages=[PageText(**p) for p in pages])


@router.get(
    "/{dossier_id}/pdf",
    summary="下载可检索 PDF（须填写原因；每页带可见水印：用户、机构、时间；记入访问日志）",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, 404: {"model": ErrorBody}},
)
def searchable_pdf(
    *,
    dossier_id: DossierId,
    reason: Reason,
    principal: Annotated[Principal, Depends(authorise(Perm.DOSSIER_DOWNLOAD, "download"))],
    state: StateDep,
    session: DbDep,
) -> Response:
    with state.trail.attempt(principal, "download", (dossier_id,), reason=reason.strip()):
        data, name = reading.searchable_pdf(session, state.rt.store, principal, dossier_id)
        marked = watermark_pdf(data, Stamp.now(principal.name, principal.office))
    return Response(marked, media_type="application/pdf", headers={"Content-Disposition": _attachment(name)})


def _attachment(name: str) -> str:
    return f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"
