"""Full-text search of dossier pages, within the caller's role and office (inside the engine query),
logged with its query and rate-limited like every listing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from api.deps import AppState, StateDep, authorise
from api.errors import ERROR_RESPONSES
from api.schemas import SearchAnswer
from archive.identity.principal import Principal
from archive.identity.roles import Perm
from archive.reading.finding import search_pages, to_contract
from search import SearchQuery, SearchResult
from search.text import MAX_QUERY_CHARS

router = APIRouter(prefix="/search", tags=["检索"], responses=ERROR_RESPONSES)

Values = Annotated[list[str] | None, Query(max_length=20)]


@dataclass(frozen=True)
class SearchParams:
    """One search as a caller asked for it (the API's query parameters, the search page's form)."""

    q: str = ""
    business_type: list[str] | None = None
    category: list[str] | None = None
    office: list[str] | None = None
    status: list[str] | None = None
    retention: list[str] | None = None
    date_from: date | None = None
    date_to: date | None = None
    sort: Literal["relevance", "date"] = "relevance"
    facets: bool = False
    fuzzy: bool = True
    limit: int = 20
    cursor: str | None = None

    def query(self) -> SearchQuery:
        return SearchQuery(
            text=self.q,
            business_types=frozenset(self.business_type or ()),
            categories=frozenset(self.category or ()),
            offices=frozenset(self.office or ()),
            statuses=frozenset(self.status or ()),
            retentions=frozenset(self.retention or ()),
            date_from=self.date_from,
            date_to=self.date_to,
            sort=self.sort,
            limit=self.limit,
            cursor=self.cursor,
            facets=self.facets,
            fuzzy=self.fuzzy,
        )

    def logged(self) -> dict[str, Any]:
        """The access-log detail: the query, the filters set, whether it is a following page."""
        filters = {
            "business_type": self.business_type,
            "category": self.category,
            "office": self.office,
            "status": self.status,
            "retention": self.retention,
            "date_from": str(self.date_from) if self.date_from else None,
            "date_to": str(self.date_to) if self.date_to else None,
        }
        return {"query": self.q, "filters": {k: v for k, v in filters.items() if v}, "page": bool(self.cursor)}


def run_search(state: AppState, principal: Principal, params: SearchParams) -> SearchResult:
    """Search within the caller's scope: rate-limited and logged as ``search`` with the query, the
    number of results and, as targets, the dossiers whose snippets are returned."""
    shown: list[str] = []  # the entry's targets: filled with the dossiers whose snippets are returned
    with state.trail.attempt(principal, "search", shown, detail=params.logged()) as detail:
        state.search_limit.hit(principal.name)
        result = search_pages(state.rt.search, principal, params.query())
        detail["results"] = result.total
        shown.extend(sorted({hit.dossier_id for hit in result.hits}))
    return result


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
    params = SearchParams(
        q=q,
        business_type=business_type,
        category=category,
        office=office,
        status=status,
        retention=retention,
        date_from=date_from,
        date_to=date_to,
        sort=sort,
        facets=facets,
        fuzzy=fuzzy,
        limit=limit,
        cursor=cursor,
    )
    return SearchAnswer(**to_contract(run_search(state, principal, params)))
