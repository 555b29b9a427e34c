"""Invoice payments: ``/v2/invoices/{number}/payments`` and the bulk form ``/v2/invoices/bulk/payments``.

Each payment also posts a bank transaction (PaidIn, ``ResourceNumber`` = the invoice number) on its
``AccountId``, as KashFlow does; deleting the payment removes that transaction.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from ledgerlink.sandbox.kashflow import invoices
from ledgerlink.sandbox.kashflow.auth import require_session
from ledgerlink.sandbox.kashflow.paging import keep_since, paged, updated_since
from ledgerlink.sandbox.kashflow.routes_ledger import add_transaction, load_bank
from ledgerlink.sandbox.kashflow.state import BANK_TX, CUSTOMER, INVOICE, KashFlowState, kf
from ledgerlink.sandbox.kashflow.wire import (
    ApiError,
    KfJSON,
    invalid,
    money,
    not_found,
    opt_str,
    parse_datetime,
    parse_decimal,
    parse_int,
    read_body,
    read_object,
)

router = APIRouter(prefix="/v2", dependencies=[Depends(require_session)])


def _load(state: KashFlowState, number: int, field: str | None = None) -> dict[str, Any]:
    doc = state.store.get(INVOICE, str(number))
    if doc is None:
        if field:
            raise invalid(field, f"no invoice number {number}")
        raise not_found("Invoice", number)
    return doc


def _pay(state: KashFlowState, doc: dict[str, Any], body: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Validate a payment against ``doc``, record it and its bank transaction; returns the stored line."""
    if body.get("amount") is None:
        raise invalid(f"{prefix}Amount", "is required")
    amount = parse_decimal(body["amount"], f"{prefix}Amount")
    if amount != money(amount) or amount <= 0:
        raise invalid(f"{prefix}Amount", f"{amount} must be a positive amount in pence")
    if doc["IsDraft"]:
        raise ApiError(400, "InvoiceIsDraft", f"Invoice {doc['Number']} is a draft and cannot take payments.")
    due = Decimal(doc["GrossAmount"]) - invoices.total_paid(doc) - invoices.total_credited(doc)
    if amount > due:
        raise invalid(f"{prefix}Amount", f"{amount} is more than the {due} due on invoice {doc['Number']}")
    if body.get("method") is None:
        raise invalid(f"{prefix}Method", "is required (a payment method number)")
    method = parse_int(body["method"], f"{prefix}Method")
    if method < 1:
        raise invalid(f"{prefix}Method", "must be a payment method number")
    if body.get("accountid") is None:
        raise invalid(f"{prefix}AccountId", "is required (the bank account paid into)")
    account = load_bank(state, parse_int(body["accountid"], f"{prefix}AccountId"), f"{prefix}AccountId")
    date = parse_datetime(body["date"], f"{prefix}Date") if body.get("date") is not None else state.clock.now()
    when = date.replace(tzinfo=None).isoformat()
    customer = state.store.get(CUSTOMER, doc["CustomerCode"].upper()) or {}
    bank_tx = add_transaction(
        state,
        {
            "AccountId": account["Id"],
            "Date": when,
            "PaidIn": str(amount),
            "PaidOut": "0",
            "CustomerCode": doc["CustomerCode"],
            "EntityName": customer.get("Name"),
            "ResourceNumber": str(doc["Number"]),
            "Description": f"Payment for invoice {doc['Number']}",
        },
    )
    line = {
        "Id": state.store.next_id("payment"),
        "Date": when,
        "Amount": str(amount),
        "Method": method,
        "AccountId": account["Id"],
        "Note": opt_str(body, "note", f"{prefix}Note"),
        "BankTransactionId": bank_tx["Id"],
        "CreatedDate": state.now_iso(),
    }
    doc["PaymentLines"].append(line)
    doc["LastUpdatedDate"] = state.now_iso()
    state.store.put(INVOICE, str(doc["Number"]), doc)
    return line


@router.get("/invoices/{number:int}/payments")
async def list_payments(number: int, request: Request) -> KfJSON:
    doc = _load(kf(request), number)
    return KfJSON([invoices.serialise_payment(p) for p in doc["PaymentLines"]])


@router.post("/invoices/{number:int}/payments", status_code=201)
async def add_payment(number: int, request: Request) -> KfJSON:
    state = kf(request)
    body = await read_object(request)
    with state.store.tx():
        line = _pay(state, _load(state, number), body)
    return KfJSON(invoices.serialise_payment(line), status_code=201)


@router.delete("/invoices/{number:int}/payments/{payment_id:int}", status_code=204)
async def delete_payment(number: int, payment_id: int, request: Request) -> Response:
    state = kf(request)
    with state.store.tx():
        doc = _load(state, number)
        line = next((p for p in doc["PaymentLines"] if p["Id"] == payment_id), None)
        if line is None:
            raise not_found("Payment", payment_id)
        doc["PaymentLines"].remove(line)
        doc["LastUpdatedDate"] = state.now_iso()
        state.store.put(INVOICE, str(number), doc)
        if line.get("BankTransactionId"):
            state.store.delete(BANK_TX, str(line["BankTransactionId"]))
    return Response(status_code=204)


@router.get("/invoices/bulk/payments")
async def list_all_payments(request: Request) -> KfJSON:
    """Every payment line with its ``InvoiceNumber``; ``updatedsince`` filters on the payment's CreatedDate."""
    state = kf(request)
    lines = [{**p, "InvoiceNumber": inv["Number"]} for inv in state.store.all(INVOICE) for p in inv["PaymentLines"]]
    lines = keep_since(lines, updated_since(request), field="CreatedDate")
    rows = [{**invoices.serialise_payment(p), "InvoiceNumber": p["InvoiceNumber"]} for p in lines]
    return paged(request, rows, max_per_page=state.config.max_per_page)


@router.get("/invoices/bulk/payments/{number:int}")
async def list_payments_bulk_form(number: int, request: Request) -> KfJSON:
    return await list_payments(number, request)


@router.post("/invoices/bulk/payments", status_code=201)
async def add_payments(request: Request) -> KfJSON:
    """A JSON array of payments, each with ``InvoiceNumber``; all are applied or none (errors name the index)."""
    state = kf(request)
    body = await read_body(request)
    if not isinstance(body, list) or not body:
        raise invalid("Payments", "the body must be a non-empty JSON array of payments")
    created = []
    with state.store.tx():
        for i, item in enumerate(body, start=1):
            if not isinstance(item, dict) or item.get("invoicenumber") is None:
                raise invalid(f"[{i}].InvoiceNumber", "is required")
            number = parse_int(item["invoicenumber"], f"[{i}].InvoiceNumber")
            line = _pay(state, _load(state, number, f"[{i}].InvoiceNumber"), item, prefix=f"[{i}].")
            created.append({**invoices.serialise_payment(line), "InvoiceNumber": number})
    return KfJSON(created, status_code=201)
