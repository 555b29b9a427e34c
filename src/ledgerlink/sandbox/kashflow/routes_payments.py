"""Invoice payments as KashFlow documents them: bulk payments, ``/v2/invoices/bulk/payments[/{number}]``.

A ``BulkPayment`` is ``{Number, Date, Comment, AccountId, Method, Reconciled, PaymentItems[{Id, Amount,
ObjectNumber, ContactName, ContactReference, ObjectIssuedDate, PaidDate, Note}]}``: one payment (method, bank
account, date) spread over one or more invoices, each item paying ``Amount`` onto invoice ``ObjectNumber``. A refund
is a negative item on a credit note (a negative invoice), as KashFlow's help describes its refunds (behaviour switch
``refunds``; docs/vendors/kashflow-refunds.md). The invoices carry their payments as ``PaymentLines``. There is no
``/invoices/{number}/payments`` (no KashFlow source has it). ``Method`` must be one of the account's own payment
method ids (``config.payment_methods``).

Each item also posts a bank transaction (PaidIn, ``ResourceNumber`` = the invoice number) on ``AccountId``, as
KashFlow does; deleting the bulk payment removes its lines and transactions.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from ledgerlink.sandbox.kashflow import invoices
from ledgerlink.sandbox.kashflow.auth import require_session
from ledgerlink.sandbox.kashflow.paging import keep_since, paged, updated_since
from ledgerlink.sandbox.kashflow.routes_ledger import add_transaction, load_bank
from ledgerlink.sandbox.kashflow.state import BANK_TX, BULK_PAYMENT, CUSTOMER, INVOICE, KashFlowState, kf
from ledgerlink.sandbox.kashflow.wire import (
    ApiError,
    KfJSON,
    fmt_datetime,
    invalid,
    money,
    not_found,
    opt_str,
    parse_datetime,
    parse_decimal,
    parse_int,
    read_object,
    stored_datetime,
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
    refund = amount < 0 and Decimal(doc["GrossAmount"]) < 0 and state.behaviour["refunds"] == "served"
    if amount != money(amount) or (amount <= 0 and not refund):
        raise invalid(f"{prefix}Amount", f"{amount} must be a positive amount in pence")
    if doc["IsDraft"]:
        raise ApiError(400, "InvoiceIsDraft", f"Invoice {doc['Number']} is a draft and cannot take payments.")
    if refund:
        # A refund: a negative payment on a credit note, up to the credit still owed back (not used, not refunded).
        owed = -invoices.due(doc)
        if -amount > owed:
            raise invalid(
                f"{prefix}Amount", f"{-amount} is more than the {owed} owed back on credit note {doc['Number']}"
            )
    else:
        due = Decimal(doc["GrossAmount"]) - invoices.total_paid(doc) - invoices.total_credited(doc)
        if amount > due:
            raise invalid(f"{prefix}Amount", f"{amount} is more than the {due} due on invoice {doc['Number']}")
    if body.get("method") is None:
        raise invalid("Method", "is required (one of the account's payment method ids)")
    method = parse_int(body["method"], "Method")
    if method not in state.config.payment_methods:
        known = ", ".join(f"{k} {v}" for k, v in state.config.payment_methods.items())
        raise invalid("Method", f"{method} is not a payment method of this account ({known})")
    if body.get("accountid") is None:
        raise invalid("AccountId", "is required (the bank account paid into)")
    account = load_bank(state, parse_int(body["accountid"], "AccountId"), "AccountId")
    date = parse_datetime(body["date"], f"{prefix}Date") if body.get("date") is not None else state.clock.now()
    when = date.replace(tzinfo=None).isoformat()
    customer = state.store.get(CUSTOMER, doc["CustomerCode"].upper()) or {}
    bank_tx = add_transaction(
        state,
        {
            "AccountId": account["Id"],
            "Date": when,
            "PaidIn": str(max(amount, Decimal(0))),
            "PaidOut": str(max(-amount, Decimal(0))),  # a refund leaves the bank
            "CustomerCode": doc["CustomerCode"],
            "EntityName": customer.get("Name"),
            "ResourceNumber": str(doc["Number"]),
            "Description": f"{'Refund on credit note' if refund else 'Payment for invoice'} {doc['Number']}",
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


def _bulk_view(state: KashFlowState, bulk: dict[str, Any]) -> dict[str, Any]:
    items = []
    for item in bulk["Items"]:
        inv = state.store.get(INVOICE, str(item["ObjectNumber"])) or {}
        line = next((p for p in inv.get("PaymentLines", []) if p["Id"] == item["Id"]), None)
        customer = state.store.get(CUSTOMER, str(inv.get("CustomerCode", "")).upper()) or {}
        items.append(
            {
                "Id": item["Id"],
                "Amount": Decimal(item["Amount"]),
                "ObjectNumber": item["ObjectNumber"],
                "ContactName": customer.get("Name"),
                "ContactReference": inv.get("CustomerReference"),
                "ObjectIssuedDate": fmt_datetime(stored_datetime(inv.get("IssuedDate"))),
                "PaidDate": fmt_datetime(stored_datetime(line["Date"] if line else bulk["Date"])),
                "Note": item.get("Note"),
                "BulkPaymentNumber": bulk["Number"],
            }
        )
    return {
        "Number": bulk["Number"],
        "Date": fmt_datetime(stored_datetime(bulk["Date"])),
        "Comment": bulk.get("Comment"),
        "AccountId": bulk["AccountId"],
        "Method": bulk["Method"],
        "Reconciled": bulk["Reconciled"],
        "PaymentItems": items,
        "CreatedDate": fmt_datetime(stored_datetime(bulk["CreatedDate"])),
        "Permalink": f"/v2/documents/invoice/payment/{bulk['Key']}",
    }


def _load_bulk(state: KashFlowState, number: int) -> dict[str, Any]:
    bulk = state.store.get(BULK_PAYMENT, str(number))
    if bulk is None:
        raise not_found("BulkPayment", number)
    return bulk


@router.get("/invoices/bulk/payments")
async def list_bulk_payments(request: Request) -> KfJSON:
    """Every bulk payment; ``updatedsince`` (unverified, see ``/__admin/behaviour``) filters on its CreatedDate."""
    state = kf(request)
    docs = keep_since(state.store.all(BULK_PAYMENT), updated_since(request), field="CreatedDate")
    rows = [_bulk_view(state, d) for d in docs]
    return paged(request, rows, max_per_page=state.config.max_per_page, default_sort="Number")


@router.get("/invoices/bulk/payments/{number:int}")
async def get_bulk_payment(number: int, request: Request) -> KfJSON:
    state = kf(request)
    return KfJSON(_bulk_view(state, _load_bulk(state, number)))


@router.post("/invoices/bulk/payments", status_code=201)
async def add_bulk_payment(request: Request) -> KfJSON:
    """A ``BulkPayment``: every item is applied or none (errors name the item, ``PaymentItems[2].Amount``)."""
    state = kf(request)
    body = await read_object(request)
    items = body.get("paymentitems")
    if not isinstance(items, list) or not items:
        raise invalid("PaymentItems", "at least one payment item is required")
    with state.store.tx():
        number = state.store.next_id(BULK_PAYMENT)
        if body.get("number") is not None and state.store.get(BULK_PAYMENT, str(body["number"])) is None:
            number = max(number, parse_int(body["number"], "Number"))
        shared = {k: body.get(k) for k in ("date", "method", "accountid")}
        made: list[dict[str, Any]] = []
        when: str | None = None
        for i, item in enumerate(items, start=1):
            prefix = f"PaymentItems[{i}]."
            if not isinstance(item, dict) or item.get("objectnumber") is None:
                raise invalid(f"{prefix}ObjectNumber", "is required (the invoice number paid)")
            invoice = _load(state, parse_int(item["objectnumber"], f"{prefix}ObjectNumber"), f"{prefix}ObjectNumber")
            paid = {**shared, "amount": item.get("amount"), "note": item.get("note") or body.get("comment")}
            line = _pay(state, invoice, paid, prefix=prefix)
            line["BulkPaymentNumber"] = number
            state.store.put(INVOICE, str(invoice["Number"]), invoice)
            when = when or line["Date"]
            made.append({"Id": line["Id"], "Amount": line["Amount"], "ObjectNumber": invoice["Number"]})
            made[-1]["Note"] = line["Note"]
        bulk = {
            "Number": number,
            "Date": when,
            "Comment": opt_str(body, "comment", "Comment"),
            "AccountId": parse_int(body["accountid"], "AccountId"),
            "Method": parse_int(body["method"], "Method"),
            "Reconciled": bool(body.get("reconciled") or False),
            "Items": made,
            "CreatedDate": state.now_iso(),
            "Key": uuid.uuid4().hex,
        }
        state.store.put(BULK_PAYMENT, str(number), bulk)
    return KfJSON(_bulk_view(state, bulk), status_code=201)


@router.delete("/invoices/bulk/payments/{number:int}", status_code=204)
async def delete_bulk_payment(number: int, request: Request) -> Response:
    state = kf(request)
    with state.store.tx():
        bulk = _load_bulk(state, number)
        for item in bulk["Items"]:
            doc = state.store.get(INVOICE, str(item["ObjectNumber"]))
            if doc is None:
                continue
            line = next((p for p in doc["PaymentLines"] if p["Id"] == item["Id"]), None)
            if line is None:
                continue
            doc["PaymentLines"].remove(line)
            doc["LastUpdatedDate"] = state.now_iso()
            state.store.put(INVOICE, str(doc["Number"]), doc)
            if line.get("BankTransactionId"):
                state.store.delete(BANK_TX, str(line["BankTransactionId"]))
        state.store.delete(BULK_PAYMENT, str(number))
    return Response(status_code=204)
