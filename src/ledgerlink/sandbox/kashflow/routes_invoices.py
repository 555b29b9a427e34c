"""``/v2/invoices``: list, create, read, update, delete, PDF, permalink and the next free number."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from ledgerlink.formats.pdf import render_pdf
from ledgerlink.sandbox.kashflow import invoices as model
from ledgerlink.sandbox.kashflow.auth import require_session
from ledgerlink.sandbox.kashflow.paging import keep_since, paged, updated_since
from ledgerlink.sandbox.kashflow.state import INVOICE, KashFlowState, kf
from ledgerlink.sandbox.kashflow.wire import ApiError, KfJSON, invalid, not_found, parse_int, read_object

router = APIRouter(prefix="/v2", dependencies=[Depends(require_session)])
public = APIRouter(prefix="/v2")  # permalinks are shareable URLs: no session needed


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _load(state: KashFlowState, number: int) -> dict[str, Any]:
    doc = state.store.get(INVOICE, str(number))
    if doc is None:
        raise not_found("Invoice", number)
    return doc


@router.get("/invoices")
async def list_invoices(request: Request) -> KfJSON:
    state = kf(request)
    params = request.query_params
    docs = keep_since(state.store.all(INVOICE), updated_since(request))
    if code := params.get("customercode"):
        docs = [d for d in docs if d["CustomerCode"].upper() == code.upper()]
    if ref := params.get("customerreference"):
        docs = [d for d in docs if (d.get("CustomerReference") or "").lower() == ref.lower()]
    rows = [model.serialise(state, d, base_url(request), summary=True) for d in docs]
    if wanted := params.get("status"):
        allowed = {s.strip().lower() for s in wanted.split(",")}
        rows = [r for r in rows if r["Status"].lower() in allowed]
    if text := params.get("filterby", "").strip().lower():
        rows = [
            r
            for r in rows
            if any(text in str(r.get(f) or "").lower() for f in ("Number", "CustomerName", "CustomerReference"))
        ]
    return paged(request, rows, max_per_page=state.config.max_per_page, default_sort="Number")


@router.get("/nextavailableinvoicenumber")
async def next_invoice_number(request: Request) -> KfJSON:
    return KfJSON(model.next_number(kf(request)))


@router.post("/invoices", status_code=201)
async def create_invoice(request: Request) -> KfJSON:
    state = kf(request)
    body = await read_object(request)
    with state.store.tx():
        doc: dict[str, Any] = {"PaymentLines": []}
        model.apply_body(state, doc, body)
        number = parse_int(body["number"], "Number") if body.get("number") is not None else None
        # The requested number is honoured when free; otherwise the next free one, as KashFlow does.
        if number is None or number < 1 or state.store.get(INVOICE, str(number)) is not None:
            number = model.next_number(state)
        doc.update(
            {
                "Id": state.store.next_id(INVOICE),
                "Number": number,
                "PermalinkKey": uuid.uuid4().hex,
                "CreatedDate": state.now_iso(),
                "LastUpdatedDate": state.now_iso(),
            }
        )
        state.store.put(INVOICE, str(number), doc)
    return KfJSON(
        model.serialise(state, doc, base_url(request)),
        status_code=201,
        headers={"Location": f"{base_url(request)}/v2/invoices/{number}"},
    )


@router.get("/invoices/{number:int}")
async def get_invoice(number: int, request: Request) -> KfJSON:
    state = kf(request)
    return KfJSON(model.serialise(state, _load(state, number), base_url(request)))


@router.put("/invoices/{number:int}")
async def update_invoice(number: int, request: Request) -> KfJSON:
    state = kf(request)
    body = await read_object(request)
    with state.store.tx():
        doc = _load(state, number)
        if body.get("number") is not None and parse_int(body["number"], "Number") != number:
            raise invalid("Number", "an invoice's number cannot be changed")
        model.apply_body(state, doc, body)
        doc["LastUpdatedDate"] = state.now_iso()
        state.store.put(INVOICE, str(number), doc)
    return KfJSON(model.serialise(state, doc, base_url(request)))


@router.delete("/invoices/{number:int}", status_code=204)
async def delete_invoice(number: int, request: Request) -> Response:
    state = kf(request)
    with state.store.tx():
        doc = _load(state, number)
        model.refuse_if_paid(doc, "deleting it")
        state.store.delete(INVOICE, str(number))
    return Response(status_code=204)


def _pdf(state: KashFlowState, doc: dict[str, Any], request: Request) -> Response:
    inv = model.serialise(state, doc, base_url(request))
    body = render_pdf(model.pdf_lines(state, inv), title=f"Invoice {inv['Number']}")
    headers = {"Content-Disposition": f'inline; filename="invoice-{inv["Number"]}.pdf"'}
    return Response(body, media_type="application/pdf", headers=headers)


@router.get("/invoices/{number:int}/pdf")
async def invoice_pdf(number: int, request: Request) -> Response:
    state = kf(request)
    if state.behaviour["pdf_route"] == "missing":  # no KashFlow source shows this route: as a server without it
        raise ApiError(404, "NotFound", f"No HTTP resource was found that matches {request.url.path}.")
    return _pdf(state, _load(state, number), request)


@public.get("/documents/invoice/{key}")
async def permalink_pdf(key: str, request: Request) -> Response:
    state = kf(request)
    for doc in state.store.all(INVOICE):
        if doc["PermalinkKey"] == key:
            return _pdf(state, doc, request)
    raise not_found("Permalink", key)
