"""Refunds: ``records/refunds``, money paid back to a customer out of a credit note (a stand-in).

Kashoo's help ("Kashoo Classic: Enter an Income Refund") records a refund as a negative invoice paid from a bank
account; its published API material names no refund record, and the credit note it would refund is itself a stand-in
here (``records/creditNotes``). So the sandbox serves a refund record in the shape of an invoice payment
(``creditNote``, ``amount`` in cents, ``date``, ``memo``, ``account`` the bank account paid from; ``type`` =
``REFUND``), behind the behaviour switch ``refunds`` (``PUT /__admin/behaviour {"refunds": "missing"}``: the
collection answers 404 as a business without it would). A refund raises its invoice's ``balanceDue`` back towards 0
(a paid invoice with a credit note shows a negative balance: money owed back); it may not exceed what the credit
note has left, nor what the customer is owed back on that invoice. See docs/vendors/kashoo-refunds.md.
"""

from __future__ import annotations

from fastapi import Request

from ledgerlink.sandbox.kashoo.collections import Doc, Kind
from ledgerlink.sandbox.kashoo.records import money_movement
from ledgerlink.sandbox.kashoo.resources import active
from ledgerlink.sandbox.kashoo.state import CONTACT, CREDIT_NOTE, INVOICE, PAYMENT, REFUND, KashooState, ks
from ledgerlink.sandbox.kashoo.wire import ApiError, cents, entity_id, invalid


def _served(state: KashooState) -> None:
    if state.behaviour["refunds"] == "missing":
        raise ApiError(404, "NOT_FOUND", "no such resource: records/refunds")


def refunded(state: KashooState, key: str, value: int, excluding: int | None = None) -> int:
    """Cents refunded on a credit note (``key`` creditNote) or an invoice (``key`` invoice)."""
    return sum(
        d["amount"] for d in state.store.all(REFUND) if d[key] == value and not d["removed"] and d["id"] != excluding
    )


def _owed_back(state: KashooState, invoice: Doc, excluding: int) -> int:
    paid = sum(p["amount"] for p in state.store.all(PAYMENT) if p["invoice"] == invoice["id"] and not p["removed"])
    balance = invoice["amount"] - paid - int(invoice.get("_credited") or 0)
    return max(0, -balance - refunded(state, "invoice", invoice["id"], excluding))


def build_refund(state: KashooState, doc: Doc, body: Doc, creating: bool) -> None:
    _served(state)
    if creating or body.get("creditNote") is not None:
        if body.get("creditNote") is None:
            raise invalid("creditNote", "is required (the id of the credit note refunded)")
        note = active(state, CREDIT_NOTE, body["creditNote"], "creditNote")
        if not creating and note["id"] != doc["creditNote"]:
            raise invalid("creditNote", "a refund cannot move to another credit note")
        doc["creditNote"] = note["id"]
    note = state.store.get(CREDIT_NOTE, str(doc["creditNote"])) or {}
    invoice = state.store.get(INVOICE, str(note.get("invoice"))) or {}
    if creating or body.get("amount") is not None:
        if body.get("amount") is None:
            raise invalid("amount", "is required (cents)")
        doc["amount"] = cents(body["amount"], "amount", minimum=1)
    if not doc["removed"]:
        left = note["amount"] - refunded(state, "creditNote", note["id"], excluding=doc["id"])
        owed = _owed_back(state, invoice, doc["id"]) if invoice else 0
        if doc["amount"] > min(left, owed):
            raise invalid(
                "amount",
                f"{doc['amount']} is more than the {min(left, owed)} owed back on credit note {note['number']} "
                f"({left} of it not yet refunded; {owed} not used on invoice {invoice.get('number')})",
            )
    money_movement(state, doc, body, account_field="account")
    doc.update({"type": "REFUND", "invoice": note["invoice"], "contact": note["contact"], "currency": note["currency"]})


def after_write(state: KashooState, doc: Doc) -> None:
    # The invoice's balance changed: store it and bump its modified stamp so pollers pick it up.
    invoice = state.store.get(INVOICE, str(doc["invoice"]))
    if invoice is not None:
        invoice["_refunded"] = refunded(state, "invoice", invoice["id"])
        invoice["modified"] = state.stamp()
        state.store.put(INVOICE, str(invoice["id"]), invoice)


def view(state: KashooState, doc: Doc) -> Doc:
    contact = state.store.get(CONTACT, str(doc["contact"])) or {}
    return {**doc, "contactName": contact.get("name"), "readOnly": False}


def list_filter(request: Request, docs: list[Doc]) -> list[Doc]:
    """The list answers 404 too when refunds are missing; ``contact`` and ``creditNote`` filter it."""
    _served(ks(request))
    for key in ("contact", "creditNote"):
        if raw := request.query_params.get(key):
            wanted = entity_id(raw, key)
            docs = [d for d in docs if d[key] == wanted]
    return docs


REFUNDS = Kind(REFUND, "refund", "records/refunds", build_refund, view=view, after_write=after_write, dated=True)
