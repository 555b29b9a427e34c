"""Credit notes: ``/v2/creditnotes`` (list, create, read) and the sandbox's behaviour switch for them.

KashFlow has credit notes (its web app issues them, and unified APIs list and read KashFlow credit notes), but its
public REST v2 pages name no credit-note endpoint (docs/vendors/kashflow-credit-notes.md). The sandbox serves one in
the shape of an invoice (``CustomerCode``, ``InvoiceNumber`` it credits, ``CustomerReference``, ``IssuedDate``,
``LineItems``), behind the switch ``credit_notes`` (``PUT /__admin/behaviour {"credit_notes": false}``): off, the
endpoint answers 404 as an account without it would, and the connector falls back to a credit invoice.

A credit note is applied to the invoice it names: the invoice's ``CreditedAmount`` grows by the note's gross, so
its ``DueAmount`` and status (and the customer's ``OutstandingBalance``) count it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request

from ledgerlink.sandbox.kashflow import invoices as model
from ledgerlink.sandbox.kashflow.auth import require_session
from ledgerlink.sandbox.kashflow.paging import paged
from ledgerlink.sandbox.kashflow.state import CUSTOMER, INVOICE, KashFlowState, kf
from ledgerlink.sandbox.kashflow.wire import (
    ApiError,
    KfJSON,
    fmt_datetime,
    invalid,
    not_found,
    opt_str,
    parse_datetime,
    parse_int,
    read_object,
    stored_datetime,
)

CREDIT_NOTE = "creditnote"
router = APIRouter(prefix="/v2", dependencies=[Depends(require_session)])
admin = APIRouter()


def _enabled(state: KashFlowState) -> None:
    if not state.config.credit_notes:
        raise ApiError(404, "NotFound", "Not Found")


def _serialise(doc: dict[str, Any], *, summary: bool = False) -> dict[str, Any]:
    return {
        "Id": doc["Id"],
        "Number": doc["Number"],
        "CustomerCode": doc["CustomerCode"],
        "InvoiceNumber": doc["InvoiceNumber"],
        "CustomerReference": doc.get("CustomerReference"),
        "IssuedDate": fmt_datetime(stored_datetime(doc["IssuedDate"])),
        "NetAmount": Decimal(doc["NetAmount"]),
        "VATAmount": Decimal(doc["VATAmount"]),
        "GrossAmount": Decimal(doc["GrossAmount"]),
        "Currency": doc["Currency"],
        "LineItems": None
        if summary
        else [
            {
                k: (Decimal(v) if k in ("Quantity", "Rate", "VATLevel", "VATAmount", "NetAmount") else v)
                for k, v in li.items()
            }
            for li in doc["LineItems"]
        ],
        "CreatedDate": fmt_datetime(stored_datetime(doc["CreatedDate"])),
        "LastUpdatedDate": fmt_datetime(stored_datetime(doc["LastUpdatedDate"])),
    }


@router.get("/creditnotes")
async def list_credit_notes(request: Request) -> KfJSON:
    state = kf(request)
    _enabled(state)
    docs = state.store.all(CREDIT_NOTE)
    params = request.query_params
    if number := params.get("invoicenumber"):
        docs = [d for d in docs if str(d["InvoiceNumber"]) == number]
    if ref := params.get("customerreference"):
        docs = [d for d in docs if (d.get("CustomerReference") or "").lower() == ref.lower()]
    rows = [_serialise(d, summary=True) for d in docs]
    return paged(request, rows, max_per_page=state.config.max_per_page, default_sort="Number")


@router.get("/creditnotes/{number:int}")
async def get_credit_note(number: int, request: Request) -> KfJSON:
    state = kf(request)
    _enabled(state)
    doc = state.store.get(CREDIT_NOTE, str(number))
    if doc is None:
        raise not_found("CreditNote", number)
    return KfJSON(_serialise(doc))


@router.post("/creditnotes", status_code=201)
async def create_credit_note(request: Request) -> KfJSON:
    state = kf(request)
    _enabled(state)
    body = await read_object(request)
    with state.store.tx():
        if body.get("invoicenumber") is None:
            raise invalid("InvoiceNumber", "is required (the invoice the credit note is for)")
        invoice_number = parse_int(body["invoicenumber"], "InvoiceNumber")
        invoice = state.store.get(INVOICE, str(invoice_number))
        if invoice is None:
            raise invalid("InvoiceNumber", f"no invoice number {invoice_number}")
        code = str(body.get("customercode") or invoice["CustomerCode"])
        if state.store.get(CUSTOMER, code.upper()) is None or code.upper() != invoice["CustomerCode"].upper():
            raise invalid("CustomerCode", f"invoice {invoice_number} is not {code!r}'s")
        lines = model.build_lines(state, body.get("lineitems"))
        net = sum((Decimal(li["NetAmount"]) for li in lines), Decimal(0))
        vat = sum((Decimal(li["VATAmount"]) for li in lines), Decimal(0))
        if net + vat <= 0:
            raise invalid("LineItems", "a credit note's total must be positive")
        issued = (
            parse_datetime(body["issueddate"], "IssuedDate").replace(tzinfo=None).isoformat()
            if body.get("issueddate") is not None
            else state.now_iso()
        )
        number = max((d["Number"] for d in state.store.all(CREDIT_NOTE)), default=0) + 1
        doc = {
            "Id": state.store.next_id(CREDIT_NOTE),
            "Number": number,
            "CustomerCode": invoice["CustomerCode"],
            "InvoiceNumber": invoice_number,
            "CustomerReference": opt_str(body, "customerreference", "CustomerReference"),
            "IssuedDate": issued,
            "NetAmount": str(net),
            "VATAmount": str(vat),
            "GrossAmount": str(net + vat),
            "Currency": invoice["Currency"],
            "LineItems": lines,
            "CreatedDate": state.now_iso(),
            "LastUpdatedDate": state.now_iso(),
        }
        state.store.put(CREDIT_NOTE, str(number), doc)
        invoice["CreditedAmount"] = str(model.total_credited(invoice) + net + vat)
        invoice["LastUpdatedDate"] = state.now_iso()
        state.store.put(INVOICE, str(invoice_number), invoice)
    return KfJSON(_serialise(doc), status_code=201)


@admin.get("/__admin/behaviour")
async def get_behaviour(request: Request) -> dict[str, Any]:
    return {"credit_notes": kf(request).config.credit_notes}


@admin.put("/__admin/behaviour")
async def put_behaviour(request: Request) -> dict[str, Any]:
    body = await request.json()
    state = kf(request)
    if "credit_notes" in body:
        state.config.credit_notes = bool(body["credit_notes"])
    return {"credit_notes": state.config.credit_notes}
