"""Caseworker pages: full-text search with facets, the dossier viewer, the case-record lookup.

Every read goes through the same service functions and access-log entries as the JSON API:
``/search`` runs ``api.routes.search.run_search`` (logged ``search``, rate-limited), the viewer
``archive.reading.dossiers.open_dossier`` (logged ``dossier_open``), ``/records``
``api.routes.records.run_lookup`` (logged as a ``record_lookup`` search).  Page images and
thumbnails load lazily from the API (each logged ``page_view``); downloads go to the API with a
reason and come back watermarked.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import groupby
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from markupsafe import Markup, escape
from starlette.responses import Response

from api.deps import AppState
from api.routes.records import run_lookup
from api.routes.search import SearchParams, run_search
from api.web.render import local_time, office_label, page
from api.web.session import page_user
from archive.errors import Invalid, TooMany
from archive.identifiers import is_valid_id_number, is_valid_uscc
from archive.identity.principal import ALL_OFFICES, Principal
from archive.identity.roles import Perm, allowed, sees_clean_scans
from archive.reading import dossiers as reading
from archive.reading.finding import HitContext, hit_context, mask_snippet, year_span
from archive.reading.scope import not_found
from archive.reading.thumbnails import THUMBNAIL_WIDTH, thumbnail_height
from archive.records.models import Dossier
from search import SearchHit, SearchResult
from search.base import MARK_CLOSE, MARK_OPEN
from search.text import MAX_QUERY_CHARS

router = APIRouter(include_in_schema=False)

API = "/api/v1"
PAGE_SIZE = 20
UNCLASSIFIED = "未分类"
DOWNLOAD_REASONS = ("业务经办", "待遇核定", "信访复核", "审计检查")
Values = Annotated[list[str] | None, Query(max_length=20)]


def _state(request: Request) -> AppState:
    return request.app.state.archive


# -- shared bits ----------------------------------------------------------------------------------

_MARKED = re.compile(re.escape(MARK_OPEN) + "(.*?)" + re.escape(MARK_CLOSE), re.S)


def snippet_html(snippet: str) -> Markup:
    """A search snippet as HTML: ID numbers masked, everything escaped, then the engine's 【】
    match brackets turned into <mark> (the index's text is never trusted as HTML)."""
    escaped = str(escape(mask_snippet(snippet)))
    return Markup(_MARKED.sub(lambda m: f"<mark>{m.group(1)}</mark>", escaped))


def period(start: date | None, end: date | None) -> str:
    if start and end and start != end:
        return f"{start:%Y-%m-%d} 至 {end:%Y-%m-%d}"
    if start or end:
        return f"{(start or end):%Y-%m-%d}"
    return "—"


def thumbnail_url(dossier_id: str, number: int) -> str:
    return f"{API}/dossiers/{dossier_id}/pages/{number}/thumbnail"


def viewer_url(dossier_id: str, number: int | None = None) -> str:
    return f"/dossiers/{dossier_id}" + (f"?page={number}#page-{number}" if number else "")


# -- search ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    count: int | None
    checked: bool


@dataclass(frozen=True)
class HitView:
    dossier: str
    page: int
    archive_number: str
    business_type: str
    office: str
    status: str
    fuzzy: bool
    title: str
    period: str
    page_count: int
    snippet: Markup
    href: str
    thumbnail: str
    thumb_width: int
    thumb_height: int


def _hit_view(hit: SearchHit, context: HitContext | None) -> HitView:
    width, height = (context.page_width, context.page_height) if context else (None, None)
    thumb_h = thumbnail_height(width, height) if width and height else round(THUMBNAIL_WIDTH * 1.414)
    return HitView(
        dossier=hit.dossier_id,
        page=hit.page,
        archive_number=hit.archive_number,
        business_type=hit.business_type or UNCLASSIFIED,
        office=hit.office,
        status=hit.status,
        fuzzy=hit.fuzzy,
        title=(context.title if context else None) or hit.archive_number or "（无题名）",
        period=period(context.date_start, context.date_end) if context else "—",
        page_count=context.page_count if context else 0,
        snippet=snippet_html(hit.snippet),
        href=viewer_url(hit.dossier_id, hit.page),
        thumbnail=thumbnail_url(hit.dossier_id, hit.page),
        thumb_width=THUMBNAIL_WIDTH,
        thumb_height=thumb_h,
    )


def facet_options(counts: dict[str, int] | None, selected: list[str], fallback: Iterable[str] = ()) -> list[Option]:
    """Checkbox choices: the values the result has (most pages first) and those already chosen;
    before any search, the ``fallback`` values without counts."""
    if counts is None:
        values = list(dict.fromkeys([*fallback, *selected]))
        return [Option(v, v, None, v in selected) for v in values if v]
    ordered = sorted(((v, n) for v, n in counts.items() if v), key=lambda kv: (-kv[1], kv[0]))  # "": no filter
    options = [Option(v, v, n, v in selected) for v, n in ordered]
    options += [Option(v, v, 0, True) for v in selected if v not in counts]
    return options


def _year(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not re.fullmatch(r"(19|20)[0-9]{2}", value):
        raise Invalid("invalid_year", "年度应为四位数字，例如 2015")
    return int(value)


def _clean(values: list[str] | None) -> list[str]:
    return sorted({v.strip() for v in values or () if v.strip()})


def page_link(request: Request, **changes: str | None) -> str:
    """This page's URL with some query parameters replaced (None: removed)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    kept += [(k, v) for k, v in changes.items() if v is not None]
    return request.url.path + ("?" + urlencode(kept) if kept else "")


@router.get("/search")
def search_page(
    request: Request,
    principal: Annotated[Principal, Depends(page_user(Perm.DOSSIER_READ, "search"))],
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS)] = "",
    business_type: Values = None,
    office: Values = None,
    year_from: Annotated[str, Query(max_length=8)] = "",
    year_to: Annotated[str, Query(max_length=8)] = "",
    sort: Annotated[str, Query(pattern="^(relevance|date)$")] = "relevance",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    state = _state(request)
    types, offices = _clean(business_type), _clean(office)
    single_office = principal.office != ALL_OFFICES
    if single_office:
        offices = []  # one office: the scope is that office already
    asked = bool(q.strip() or types or offices or year_from.strip() or year_to.strip())
    result: SearchResult | None = None
    hits: list[HitView] = []
    error, status, elapsed_ms = "", 200, None
    started = time.perf_counter()
    try:
        first, last = _year(year_from), _year(year_to)
        if first and last and first > last:
            raise Invalid("search_bad_date_range", "起始年度不能晚于截止年度")
        if asked:
            params = SearchParams(
                q=q.strip(),
                business_type=types or None,
                office=offices or None,
                date_from=date(first, 1, 1) if first else None,
                date_to=date(last, 12, 31) if last else None,
                sort="date" if sort == "date" else "relevance",
                facets=True,
                limit=PAGE_SIZE,
                cursor=cursor or None,
            )
            result = run_search(state, principal, params)
            with state.rt.sessions() as session:
                context = hit_context(session, principal, result.hits)
            hits = [_hit_view(h, context.get((h.dossier_id, h.page))) for h in result.hits]
            elapsed_ms = round((time.perf_counter() - started) * 1000)
    except (Invalid, TooMany) as exc:
        error, status = exc.message, 429 if isinstance(exc, TooMany) else 422
    with state.rt.sessions() as session:
        span = year_span(session, principal)
    facets = result.facets if result else None
    years = list(range(span[1], span[0] - 1, -1)) if span else []
    for chosen in (year_from.strip(), year_to.strip()):
        if re.fullmatch(r"[0-9]{4}", chosen) and int(chosen) not in years:
            years = sorted({*years, int(chosen)}, reverse=True)
    return page(
        request,
        "caseworker_search.html",
        principal,
        status,
        q=q,
        asked=asked,
        error=error,
        result=result,
        hits=hits,
        elapsed_ms=elapsed_ms,
        type_options=facet_options(facets.get("business_type") if facets else None, types, state.taxonomy.names),
        office_options=[] if single_office else facet_options(facets.get("office") if facets else None, offices),
        single_office=single_office,
        years=years,
        year_from=year_from.strip(),
        year_to=year_to.strip(),
        sort=sort,
        paged=bool(cursor),
        next_url=page_link(request, cursor=result.next_cursor) if result and result.next_cursor else None,
        first_url=page_link(request, cursor=None) if cursor else None,
    )


# -- the dossier viewer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PageView:
    number: int
    width: int  # of the stored image as scanned (sideways pages: swapped)
    height: int
    rotation: int
    upright_width: int
    upright_height: int
    thumb_height: int
    confidence: float | None
    image: str
    thumbnail: str


def _page_view(dossier_id: str, p: dict[str, Any], served_upright: bool) -> PageView:
    """A page of the viewer; ``served_upright``: the image endpoint turns it (and draws the reader's
    watermark in), so the page needs no turning on screen."""
    width, height = max(int(p["width"] or 1), 1), max(int(p["height"] or 1), 1)
    rotation = 0 if served_upright else int(p.get("rotation") or 0) % 360
    stored = (height, width) if rotation in (90, 270) else (width, height)
    number = int(p["number"])
    return PageView(
        number=number,
        width=stored[0],
        height=stored[1],
        rotation=rotation,
        upright_width=width,
        upright_height=height,
        thumb_height=thumbnail_height(width, height),
        confidence=p.get("mean_confidence"),
        image=f"{API}/dossiers/{dossier_id}/pages/{number}/image",
        thumbnail=thumbnail_url(dossier_id, number),
    )


def _page_number(value: str, count: int) -> int:
    return min(max(int(value), 1), max(count, 1)) if re.fullmatch(r"[0-9]{1,6}", value) else 1


def beijing_now() -> str:
    return local_time(datetime.now(UTC))


@router.get("/dossiers/{dossier_id}")
def dossier_page(
    request: Request,
    dossier_id: Annotated[str, Path(max_length=64)],
    principal: Annotated[Principal, Depends(page_user(Perm.DOSSIER_READ, "dossier_open"))],
    page_: Annotated[str, Query(alias="page", max_length=8)] = "1",
) -> Response:
    state = _state(request)
    if not reading.ID_PATTERN.fullmatch(dossier_id):
        raise not_found(dossier_id)
    with state.trail.attempt(principal, "dossier_open", (dossier_id,)), state.rt.sessions() as session:
        data = reading.open_dossier(session, principal, dossier_id)
    clean = sees_clean_scans(principal.role)  # else the images come watermarked: no overlay needed
    pages = [_page_view(dossier_id, p, not clean) for p in data["pages"]]
    current = _page_number(page_, len(pages))
    downloads = allowed(principal.role, Perm.DOSSIER_DOWNLOAD)
    return page(
        request,
        "caseworker_dossier.html",
        principal,
        d=data,
        period=period(data["date_start"], data["date_end"]),
        pages=pages,
        current=current,
        can_download=downloads,
        overlay=clean,
        pdf_url=f"{API}/dossiers/{dossier_id}/pdf" if downloads and data["has_pdf"] else None,
        reasons=DOWNLOAD_REASONS,
        opened_at=beijing_now(),
        office_text=office_label(principal.office),
    )


@router.get("/watermark.svg")
def watermark_svg(
    request: Request,
    principal: Annotated[Principal, Depends(page_user(Perm.DOSSIER_READ, "page_view"))],
) -> Response:
    """The viewer's on-screen watermark tile: who is looking, from which office, since when."""
    text = escape(f"{principal.name} · {office_label(principal.office)} · {beijing_now()}")
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="420" height="240" viewBox="0 0 420 240">'
        '<text x="210" y="120" text-anchor="middle" dominant-baseline="middle" transform="rotate(-30 210 120)" '
        'font-family="sans-serif" font-size="15" fill="#8c1414" fill-opacity="0.2">'
        f"{text}</text></svg>"
    )
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


# -- the case-record lookup -----------------------------------------------------------------------

LOOKUPS = {
    "person_id_number": "公民身份号码",
    "unit_uscc": "统一社会信用代码",
    "unit_name": "单位名称",
    "business_number": "业务编号",
}


@dataclass(frozen=True)
class RecordGroup:
    business_type: str
    dossiers: list[dict[str, Any]]


def group_records(rows: list[Dossier]) -> list[RecordGroup]:
    """Dossiers grouped by business type (by name), each group oldest first."""

    def type_of(d: Dossier) -> str:
        return d.business_type or UNCLASSIFIED

    def when(d: Dossier) -> tuple[bool, date, str]:
        first = d.date_start or d.date_end
        return (first is None, first or date.max, d.archive_number or "")

    ordered = sorted(rows, key=lambda d: (type_of(d), *when(d)))
    return [
        RecordGroup(
            name,
            [
                {
                    "id": d.id,
                    "archive_number": d.archive_number,
                    "title": d.title,
                    "period": period(d.date_start, d.date_end),
                    "person_name": d.person_name,
                    "unit_name": d.unit_name,
                    "page_count": d.page_count,
                    "status": d.status,
                    "href": viewer_url(d.id),
                }
                for d in members
            ],
        )
        for name, members in groupby(ordered, key=type_of)
    ]


def normalise_key(by: str, value: str) -> tuple[str, str]:
    """The lookup value as stored (codes: no spaces, upper case) and a warning for a code whose
    check character does not add up (still looked up: a code misread on a scan is stored as read)."""
    value = value.strip()
    if by in ("person_id_number", "unit_uscc"):
        value = re.sub(r"\s+", "", value).upper()
    warning = ""
    if by == "person_id_number" and re.fullmatch(r"[0-9]{17}[0-9X]", value) and not is_valid_id_number(value):
        warning = "该公民身份号码的校验位不正确，请核对是否录入有误（仍按此号码查询）"
    if by == "unit_uscc" and re.fullmatch(r"[0-9A-Z]{18}", value) and not is_valid_uscc(value):
        warning = "该统一社会信用代码的校验位不正确，请核对是否录入有误（仍按此代码查询）"
    return value, warning


@router.get("/records")
def records_page(
    request: Request,
    principal: Annotated[Principal, Depends(page_user(Perm.RECORD_LOOKUP, "record_lookup"))],
    by: Annotated[str, Query(max_length=32)] = "person_id_number",
    value: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    state = _state(request)
    by = by if by in LOOKUPS else "person_id_number"
    key, warning = normalise_key(by, value)
    groups: list[RecordGroup] = []
    names: list[str] = []
    error, status, count = "", 200, 0
    if key:
        try:
            with state.rt.sessions() as session:
                rows = run_lookup(state, session, principal, **{by: key})
                groups = group_records(rows)
            count = len(rows)
            field = "person_name" if by == "person_id_number" else "unit_name"
            names = sorted({getattr(d, field) for d in rows if getattr(d, field)})
        except (Invalid, TooMany) as exc:
            error, status, warning = exc.message, 429 if isinstance(exc, TooMany) else 422, ""
    return page(
        request,
        "caseworker_records.html",
        principal,
        status,
        lookups=LOOKUPS,
        by=by,
        value=value,
        key=key,
        asked=bool(key),
        error=error,
        warning=warning,
        groups=groups,
        names=names,
        count=count,
        limited=count >= 100,
    )
