"""Full-text search of dossier pages, within the caller's role and office (inside the engine query),
logged with its query and rate-limited like every listing."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from api.deps import StateDep, authorise
from api.errors import ERROR_RESPONSES
from api.schemas import SearchAnswer
from archive.identity.principal import Principal
from archive.identity.roles import Perm
from archive.reading.finding import search_pages, to_contract
from search import SearchQuery
from search.text import MAX_QUERY_CHARS

router = APIRouter(prefix="/search", tags=["检索"], responses=ERROR_RESPONSES)

Values = Annotated[list[str] | None, Query(max_length=20)]


@router.get("", response_model=SearchAnswer, summary="全文检索案卷页面（仅限本人角色与机构可见范围，记入访问日志）")
def search(
    *,
    q: Annotated[
        str,
        Query(
            max_length=MAX_QUERY_CHARS,
            description='检索词：空格分隔的词须全部出现；"引号" 内为短语；身份证号、信用代码、档号、业务编号精确匹配',
        ),
    ] = "",
    business_type: Values = None,
    category: Values = None,
    office: Values = None,
    status: Values = None,
    retention: Values = None,
    date_from: date | None = None,
    date_to: date | None = None,
    sort: Literal["relevance", "date"] = "relevance",
    facets: bool = False,
    fuzzy: bool = True,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    principal: Annotated[Principal, Depends(authorise(Perm.DOSSIER_READ, "search"))],
    state: StateDep,
) -> SearchAnswer:
    query = SearchQuery(
        text=q,
        business_types=frozenset(business_type or ()),
        categories=frozenset(category or ()),
        offices=frozenset(office or ()),
        statuses=frozenset(status or ()),
        retentions=frozenset(retention or ()),
        date_from=date_from,
        date_to=date_to,
        sort=sort,
        limit=limit,
        cursor=cursor,
        facets=facets,
        fuzzy=fuzzy,
    )
    logged = {
        "query": q,
        "filters": {
            k: v
            for k, v in {
                "business_type": business_type,
                "category": category,
                "office": office,
                "status": status,
                "retention": retention,
                "date_from": str(date_from) if date_from else None,
                "date_to": str(date_to) if date_to else None,
            }.items()
            if v
        },
        "page": bool(cursor),
    }
    shown: list[str] = []  # the entry's targets: filled with the dossiers whose snippets are returned
    with state.trail.attempt(principal, "search", shown, detail=logged) as detail:
        state.search_limit.hit(principal.name)
        result = search_pages(state.rt.search, principal, query)
        detail["results"] = result.total
        shown.extend(sorted({hit.dossier_id for hit in result.hits}))
    return SearchAnswer(**to_contract(result))
