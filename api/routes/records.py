"""Case records: the dossiers linked to a person, a unit or a business number."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import DbDep, StateDep, authorise
from api.errors import ERROR_RESPONSES
from api.schemas import DossierSummary, RecordsOut
from archive.identity.principal import Principal
from archive.identity.roles import Perm
from archive.reading import dossiers as reading

router = APIRouter(prefix="/records", tags=["业务记录"], responses=ERROR_RESPONSES)


@router.get("", response_model=RecordsOut, summary="按公民身份号码、统一社会信用代码或业务编号查关联案卷")
def lookup(
    *,
    person_id_number: Annotated[str | None, Query(max_length=18)] = None,
    unit_uscc: Annotated[str | None, Query(max_length=18)] = None,
    business_number: Annotated[str | None, Query(max_length=64)] = None,
    principal: Annotated[Principal, Depends(authorise(Perm.RECORD_LOOKUP, "search"))],
    state: StateDep,
    session: DbDep,
) -> RecordsOut:
    query = {
        k: v
        for k, v in (
            ("person_id_number", person_id_number),
            ("unit_uscc", unit_uscc),
            ("business_number", business_number),
        )
        if v
    }
    with state.trail.attempt(principal, "search", (), detail={"query": query, "kind": "record_lookup"}) as detail:
        state.search_limit.hit(principal.name)
        rows = reading.lookup_records(
            session, principal, person_id_number=person_id_number, unit_uscc=unit_uscc, business_number=business_number
        )
        detail["results"] = len(rows)
    return RecordsOut(items=[DossierSummary(**reading.summary(d)) for d in rows])
