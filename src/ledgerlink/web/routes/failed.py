"""Failed records: list with filters, inspect input and every attempt, replay one or many (pages and API)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from ledgerlink.store import FailedRecordRow
from ledgerlink.systems import registry
from ledgerlink.web import schemas
from ledgerlink.web.console import console
from ledgerlink.web.routes._common import api_router, page_router
from ledgerlink.web.services import failed as failed_service
from ledgerlink.web.templating import render

pages = page_router()
api = api_router("failed records")

STATUSES = ("open", "resolved", "")


def _out(row: FailedRecordRow) -> schemas.FailedOut:
    last = row.errors[-1].get("error") if row.errors else None
    return schemas.FailedOut(
        id=row.id,
        flow=row.flow,
        source_system=row.source_system,
        source_object=row.source_object,
        source_id=row.source_id,
        status=row.status,
        attempts=len(row.errors),
        last_error=str(last) if last else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _detail(row: FailedRecordRow) -> schemas.FailedDetail:
    errors = [schemas.Attempt(at=e.get("at"), error=str(e.get("error", "")), field=e.get("field")) for e in row.errors]
    return schemas.FailedDetail(**_out(row).model_dump(), input=row.input, errors=errors, target_ids=row.target_ids)


def _mapping_for(row: FailedRecordRow) -> str | None:
    """The mapping that reads this record, so the page can offer 'fix the mapping'."""
    if row.source_system == "salesforce":
        return f"salesforce/{row.source_object.lower()}_to_canonical"
    return None


# --- pages ---------------------------------------------------------------------------------------------------


@pages.get("/failed", name="failed_list")
async def failed_list(
    request: Request, flow: str = "", status: str = "open", q: Annotated[str, Query(max_length=200)] = ""
) -> HTMLResponse:
    c = console(request)
    rows = failed_service.find(c.ledger, flow=flow, status=status, q=q)
    return render(
        request,
        "failed_list.html",
        {
            "active": "/failed",
            "rows": [_out(r) for r in rows],
            "flows": failed_service.flows(c.ledger),
            "flow": flow,
            "status": status,
            "q": q,
            "counts": failed_service.counts_by_status(c.ledger),
        },
    )


@pages.get("/failed/{failed_id}", name="failed_detail")
async def failed_detail(request: Request, failed_id: int, replayed: str = "") -> HTMLResponse:
    row = console(request).ledger.failed_record(failed_id)
    if row is None:
        raise HTTPException(404, "no such failed record")
    return render(
        request,
        "failed_detail.html",
        {
            "active": "/failed",
            "row": _detail(row),
            "mapping": _mapping_for(row),
            "replayed": replayed,
        },
    )


@pages.get("/failed/{failed_id}/status", name="failed_status")
async def failed_status(request: Request, failed_id: int, attempts: int = 0, run: str = "") -> HTMLResponse:
    """Polled by HTMX after a replay: still running, succeeded, or failed again."""
    c = console(request)
    row = c.ledger.failed_record(failed_id)
    if row is None:
        raise HTTPException(404, "no such failed record")
    invoice = None
    if row.status == "resolved":
        for system in registry.names("accounting"):
            invoice = invoice or c.ledger.lookup(row.source_system, row.source_object, row.source_id, system)
    return render(
        request, "_replay_status.html", {"row": _detail(row), "attempts": attempts, "run": run, "invoice": invoice}
    )


@pages.post("/failed/replay", name="failed_replay_page")
async def failed_replay_page(request: Request, ids: Annotated[list[int], Form()]) -> HTMLResponse:
    c = console(request)
    results = failed_service.replay(c.ledger, c.replayer, ids[:500])
    if len(results) == 1:
        row = c.ledger.failed_record(results[0].id)
        if row is not None:
            return render(
                request,
                "failed_detail.html",
                {
                    "active": "/failed",
                    "row": _detail(row),
                    "mapping": _mapping_for(row),
                    "replay": results[0],
                },
            )
    return render(request, "failed_replayed.html", {"active": "/failed", "results": results})


# --- API -----------------------------------------------------------------------------------------------------


@api.get("/failed", response_model=list[schemas.FailedOut])
async def api_failed(
    request: Request,
    flow: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=16)] = "open",
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[schemas.FailedOut]:
    rows = failed_service.find(console(request).ledger, flow=flow, status=status, q=q, limit=limit)
    return [_out(r) for r in rows]


@api.get("/failed/{failed_id}", response_model=schemas.FailedDetail, responses={404: {"model": schemas.ErrorOut}})
async def api_failed_detail(request: Request, failed_id: int) -> schemas.FailedDetail:
    row = console(request).ledger.failed_record(failed_id)
    if row is None:
        raise HTTPException(404, "no such failed record")
    return _detail(row)


@api.post("/failed/replay", response_model=list[schemas.ReplayOut])
async def api_replay(request: Request, body: schemas.ReplayIn) -> list[schemas.ReplayOut]:
    c = console(request)
    return [schemas.ReplayOut(**r.__dict__) for r in failed_service.replay(c.ledger, c.replayer, body.ids)]
