"""Credits: ``/v2/internal/invoices/{invoiceid}/credits``, as KashFlow's REST v2 "Credits" page documents it (GET the
credits a customer can use on an invoice, POST to apply one).

In KashFlow a credit note is an invoice with negative amounts: a ``CreditNote`` credit's ``Id`` "is the unique invoice
identifier" and its ``Date`` "the invoice date". A credit note's credit is applied to an invoice with
``POST {Id, Amount, Type: "CreditNote"}``: the invoice's ``DueAmount`` drops by it (``CreditedAmount`` here) and the
credit note's credit left drops too (``CreditUsed``). The page publishes no POST example; the sandbox takes the
fields of a credit row. ``OverPayment`` and ``AdvancePayment`` credits are not modelled (400).

The page marks the endpoint internal and "not ready for public use": the behaviour switch ``credit_notes``
(``PUT /__admin/behaviour {"credit_notes": "missing"}``) makes it answer 404, as an account without it would; the
connector then leaves the credit unallocated (the customer's ``OutstandingBalance`` counts it all the same).
The invoice in the path is found by number (as every other invoice URL), else by its ``Id``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request

from ledgerlink.sandbox.kashflow import invoices as model
from ledgerlink.sandbox.kashflow.auth import require_session
from ledgerlink.sandbox.kashflow.state import INVOICE, KashFlowState, kf
from ledgerlink.sandbox.kashflow.wire import (
    ApiError,
    KfJSON,
    fmt_datetime,
    invalid,
    money,
    not_found,
    parse_decimal,
    parse_int,
    read_object,
    stored_datetime,
)

router = APIRouter(prefix="/v2", dependencies=[Depends(require_session)])


def _enabled(state: KashFlowState) -> None:
    if state.behaviour["credit_notes"] == "missing":
        raise ApiError(404, "NotFound", "Not Found")


def _invoice(state: KashFlowState, invoice_id: int) -> dict[str, Any]:
    doc = state.store.get(INVOICE, str(invoice_id))
    if doc is None:
        doc = next((d for d in state.store.all(INVOICE) if d["Id"] == invoice_id), None)
    if doc is None:
        raise not_found("Invoice", invoice_id)
    return doc


def _credit_left(doc: dict[str, Any]) -> Decimal:
    return -Decimal(doc["GrossAmount"]) - model.credit_used(doc)


def _credit_notes(state: KashFlowState, customer_code: str) -> list[dict[str, Any]]:
    return [
        d
        for d in state.store.all(INVOICE)
        if d["CustomerCode"].upper() == customer_code.upper() and Decimal(d["GrossAmount"]) < 0 and not d["IsDraft"]
    ]


def _row(doc: dict[str, Any], amount: Decimal) -> dict[str, Any]:
    return {
        "Id": doc["Id"],
        "Amount": amount,
        "Date": fmt_datetime(stored_datetime(doc["IssuedDate"])),
        "Type": "CreditNote",
        "Comment": f"Credit Note #{doc['Number']}",
    }


@router.get("/internal/invoices/{invoice_id:int}/credits")
async def list_credits(invoice_id: int, request: Request) -> KfJSON:
    state = kf(request)
    _enabled(state)
    invoice = _invoice(state, invoice_id)
    notes = _credit_notes(state, invoice["CustomerCode"])
    return KfJSON([_row(d, _credit_left(d)) for d in notes if _credit_left(d) > 0])


@router.post("/internal/invoices/{invoice_id:int}/credits", status_code=201)
async def apply_credit(invoice_id: int, request: Request) -> KfJSON:
    state = kf(request)
    _enabled(state)
    body = await read_object(request)
    with state.store.tx():
        invoice = _invoice(state, invoice_id)
        kind = str(body.get("type") or "CreditNote")
        if kind != "CreditNote":
            raise invalid("Type", f"{kind} credits are not supported by this sandbox (CreditNote only)")
        if body.get("id") is None:
            raise invalid("Id", "is required (the credit note's invoice Id)")
        note_id = parse_int(body["id"], "Id")
        note = next((d for d in _credit_notes(state, invoice["CustomerCode"]) if d["Id"] == note_id), None)
        if note is None:
            raise invalid("Id", f"no credit note {note_id} for customer {invoice['CustomerCode']}")
        if body.get("amount") is None:
            raise invalid("Amount", "is required")
        amount = parse_decimal(body["amount"], "Amount")
        if amount != money(amount) or amount <= 0:
            raise invalid("Amount", f"{amount} must be a positive amount in pence")
        if amount > _credit_left(note):
            raise invalid(
                "Amount", f"{amount} is more than the {_credit_left(note)} left on credit note {note['Number']}"
            )
        if amount > model.due(invoice):
            raise invalid(
                "Amount", f"{amount} is more than the {model.due(invoice)} due on invoice {invoice['Number']}"
            )
        invoice["CreditedAmount"] = str(model.total_credited(invoice) + amount)
        invoice["LastUpdatedDate"] = state.now_iso()
        note["CreditUsed"] = str(model.credit_used(note) + amount)
        note["LastUpdatedDate"] = state.now_iso()
        state.store.put(INVOICE, str(invoice["Number"]), invoice)
        state.store.put(INVOICE, str(note["Number"]), note)
    return KfJSON(_row(note, amount), status_code=201)
