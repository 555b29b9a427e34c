"""Records: find one by any system's id or invoice number and see its journey (the audit trail)."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ledgerlink.web import schemas
from ledgerlink.web.console import console
from ledgerlink.web.routes._common import api_router, page_router
from ledgerlink.web.services import records as svc
from ledgerlink.web.templating import render

pages = page_router()
api = api_router("records")


@pages.get("/records", name="records_search")
async def records_search(request: Request, q: Annotated[str, Query(max_length=200)] = "") -> Response:
    found = svc.search(console(request).ledger, q) if q else []
    if len(found) == 1:
        system, obj, rid = found[0]
        return RedirectResponse(f"/records/{system}/{obj}/{rid}", status_code=303)
    return render(request, "records_search.html", {"active": "/records", "q": q, "found": found})


@pages.get("/records/{system}/{obj}/{record_id}", name="record_journey")
async def record_journey(request: Request, system: str, obj: str, record_id: str) -> HTMLResponse:
    journey = svc.journey(console(request).ledger, (system, obj, record_id))
    return render(request, "record_journey.html", {"active": "/records", "j": journey})


@api.get("/records", response_model=list[schemas.RecordKeyOut])
async def api_search(
    request: Request, q: Annotated[str, Query(min_length=1, max_length=200)]
) -> list[schemas.RecordKeyOut]:
    return [schemas.RecordKeyOut(system=s, object=o, id=i) for s, o, i in svc.search(console(request).ledger, q)]


@api.get(
    "/records/{system}/{obj}/{record_id}",
    response_model=schemas.JourneyOut,
    responses={404: {"model": schemas.ErrorOut}},
)
async def api_journey(request: Request, system: str, obj: str, record_id: str) -> schemas.JourneyOut:
    j = svc.journey(console(request).ledger, (system, obj, record_id))
    if not j.runs and not j.failures and len(j.linked) == 1:
        raise HTTPException(404, "nothing is recorded about this record")
    return schemas.JourneyOut(
        anchor=schemas.RecordKeyOut(system=system, object=obj, id=record_id),
        linked=[schemas.RecordKeyOut(system=s, object=o, id=i) for s, o, i in j.linked],
        steps=[schemas.StepOut(**step.__dict__) for step in j.steps],
        failures=j.failures,
    )
