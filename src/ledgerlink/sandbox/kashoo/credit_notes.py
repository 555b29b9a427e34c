"""Credit notes: ``records/creditNotes``, a record like an invoice that names the ``invoice`` it credits.

Kashoo's app issues credit notes, but its published API material (api.kashoo.com's introduction, the record fields
public clients use) names no credit-note record type (docs/vendors/kashoo-credit-notes.md). The sandbox serves one
in the shape of its other records (``contact``, ``date``, ``lines`` in cents with ``taxes``, ``poNumber``,
``memo``; ``type`` = ``CREDIT_NOTE``), behind the behaviour switch ``credit_notes`` (``PUT /__admin/behaviour``):
``missing``, a create answers 404 as a business without it would, and the connector says so in a failed record.

A credit note is applied to its invoice: the invoice's ``balanceDue`` drops by the note's amount, and an invoice with
a credit note cannot be removed (as one with payments).
"""

from __future__ import annotations

from ledgerlink.sandbox.kashoo import records
from ledgerlink.sandbox.kashoo.collections import Doc, Kind
from ledgerlink.sandbox.kashoo.resources import active
from ledgerlink.sandbox.kashoo.state import CONTACT, CREDIT_NOTE, INVOICE, KashooState
from ledgerlink.sandbox.kashoo.wire import ApiError, invalid, parse_date, text


def build_credit_note(state: KashooState, doc: Doc, body: Doc, creating: bool) -> None:
    if state.behaviour["credit_notes"] == "missing":
        raise ApiError(404, "NOT_FOUND", "no such resource: records/creditNotes")
    if creating or body.get("invoice") is not None:
        if body.get("invoice") is None:
            raise invalid("invoice", "is required (the id of the invoice credited)")
        invoice = active(state, INVOICE, body["invoice"], "invoice")
        if not creating and invoice["id"] != doc["invoice"]:
            raise invalid("invoice", "a credit note cannot move to another invoice")
        doc["invoice"] = invoice["id"]
    invoice = state.store.get(INVOICE, str(doc["invoice"])) or {}
    if "lines" in body or creating:
        doc["lines"] = records._lines(state, body.get("lines"))
    if body.get("date") is not None:
        doc["date"] = parse_date(body["date"], "date")
    doc.setdefault("date", state.today())
    for field in ("memo", "poNumber"):
        if field in body:
            doc[field] = text(body, field)
        doc.setdefault(field, None)
    doc["subTotal"] = sum(li["amount"] for li in doc["lines"])
    doc["taxTotal"] = sum(t["amount"] for li in doc["lines"] for t in li["taxAmounts"])
    doc["amount"] = doc["subTotal"] + doc["taxTotal"]
    if doc["amount"] <= 0:
        raise invalid("lines", "a credit note's amount must be positive")
    numbers = [
        int(str(d["number"])[3:]) for d in state.store.all(CREDIT_NOTE) if str(d.get("number", "")).startswith("CN-")
    ]
    doc.setdefault("number", f"CN-{max(numbers, default=0) + 1}")
    doc.update({"type": "CREDIT_NOTE", "contact": invoice["contact"], "currency": invoice["currency"]})


def after_write(state: KashooState, doc: Doc) -> None:
    invoice = state.store.get(INVOICE, str(doc["invoice"]))
    if invoice is not None:
        invoice["_credited"] = sum(
            d["amount"] for d in state.store.all(CREDIT_NOTE) if d["invoice"] == invoice["id"] and not d["removed"]
        )
        invoice["modified"] = state.stamp()
        state.store.put(INVOICE, str(invoice["id"]), invoice)


def view(state: KashooState, doc: Doc) -> Doc:
    contact = state.store.get(CONTACT, str(doc["contact"])) or {}
    return {**doc, "contactName": contact.get("name"), "readOnly": True}


CREDIT_NOTES = Kind(
    CREDIT_NOTE, "creditNote", "records/creditNotes", build_credit_note, view=view, after_write=after_write, dated=True
)
