"""Case records: the dossiers linked to a person, a unit or a business number."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from api.deps import AppState, DbDep, StateDep, authorise
from api.errors import ERROR_RESPONSES
from api.schemas import DossierSummary, RecordsOut
from archive.identity.principal import Principal
from archive.identity.roles import Perm
from archive.reading import dossiers as reading
from archive.records.models import Dossier

router = APIRouter(prefix="/records", tags=["业务记录"], responses=ERROR_RESPONSES)


def run_lookup(
    state: AppState,
    session: Session,
    principal: Principal,
    *,
    person_id_number: str | None = None,
    unit_uscc: str | None = None,
    business_number: str | None = None,
    unit_name: str | None = None,
) -> list[Dossier]:
    """The dossiers of one case record, rate-limited and logged as a ``record_lookup`` search (the
    API and the case-record page alike)."""
    query = {
        k: v
        for k, v in (
            ("person_id_number", person_id_number),
            ("unit_uscc", unit_uscc),
            ("business_number", business_number),
            ("unit_name", unit_name),
        )
        if v
    }
    with state.trail.attempt(principal, "search", (), detail={"query": query, "kind": "record_lookup"}) as detail:
        state.search_limit.hit(principal.name)
        rows = reading.lookup_records(
            session,
            principal,
            person_id_number=person_id_number,
            unit_uscc=unit_uscc,
            business_number=business_number,
            unit_name=unit_name,
        )
        detail["results"] = len(rows)
    return rows


@router.get(
    "",
    response_model=RecordsOut,
    summary="按公民身份号码、统一社会信用代码、单位名称或业务编号查关联案卷",
)
def lookup(
    *,
    person_id_number: Annotated[str | None, Query(max_length=18)] = None,
    unit_uscc: Annotated[str | None, Query(max_length=18)] = None,
    business_number: Annotated[str | None, Query(max_length=64)] = None,
    unit_name: Annotated[str | None, Query(max_length=100, description="单位名称中的文字（至少 2 个字）")] = None,
    principal: Annotated[Principal, Depends(authorise(Perm.RECORD_LOOKUP, "search"))],
    state: StateDep,
    session: DbDep,
) -> RecordsOut:
    rows = run_lookup(
        state,
        session,
        principal,
        person_id_number=person_id_number,
        unit_uscc=unit_uscc,
        business_number=business_number,
        unit_name=unit_name,
    )
    return RecordsOut(items=[DossierSummary(**reading.summary(d)) for d in rows])
