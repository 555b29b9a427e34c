"""Invoices and invoice payments: cents arithmetic, balances, read-only rules."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ledgerlink.sandbox.kashoo.collections import Doc, Kind
from ledgerlink.sandbox.kashoo.resources import active
from ledgerlink.sandbox.kashoo.state import ACCOUNT, CONTACT, INVOICE, ITEM, PAYMENT, TAX, KashooState
from ledgerlink.sandbox.kashoo.wire import ApiError, cents, decimal, invalid, parse_date, round_cents, text

READ_ONLY_FIELDS = ("contact", "currency", "date", "lines")


def _lines(state: KashooState, raw_lines: Any) -> list[Doc]:
    """Each line: amount = quantity x unitPrice, and each tax on it, rounded half-up to the cent, per line."""
    if not isinstance(raw_lines, list) or not raw_lines:
        raise invalid("lines", "an invoice needs at least one line")
    lines = []
    for i, raw in enumerate(raw_lines):
        where = f"lines[{i}]"
        if not isinstance(raw, dict):
            raise invalid(where, "must be an object")
        item = active(state, ITEM, raw["item"], f"{where}.item") if raw.get("item") is not None else None
        quantity = decimal(raw.get("quantity", 1), f"{where}.quantity")
        if quantity <= 0:
            raise invalid(f"{where}.quantity", "must be more than zero")
        price_raw = raw.get("unitPrice", item["price"] if item else None)
        if price_raw is None:
            raise invalid(f"{where}.unitPrice", "is required (cents)")
        unit_price = cents(price_raw, f"{where}.unitPrice")
        account = active(
            state,
            ACCOUNT,
            raw.get("account") or (item or {}).get("account") or state.seeded("sales"),
            f"{where}.account",
        )
        tax_ids = raw.get("taxes", (item or {}).get("taxes", []))
        if not isinstance(tax_ids, list):
            raise invalid(f"{where}.taxes", "must be a list of tax ids")
        taxes = [active(state, TAX, t, f"{where}.taxes[{j}]") for j, t in enumerate(tax_ids)]
        amount = round_cents(quantity * unit_price)
        line_taxes = [{"tax": t["id"], "amount": round_cents(amount * Decimal(t["rate"]) / 100)} for t in taxes]
        lines.append(
            {
                "item": item["id"] if item else None,
                "description": text(raw, "description") or (item or {}).get("name"),
                "quantity": str(quantity),
                "unitPrice": unit_price,
                "account": account["id"],
                "taxes": [t["id"] for t in taxes],
                "amount": amount,
                "taxAmounts": line_taxes,
            }
        )
    return lines


def _next_number(state: KashooState) -> str:
    numbers = [int(d["number"]) for d in state.store.all(INVOICE) if str(d.get("number", "")).isdigit()]
    return str(max(numbers, default=1000) + 1)


def build_invoice(state: KashooState, doc: Doc, body: Doc, creating: bool) -> None:
    before = {k: doc.get(k) for k in READ_ONLY_FIELDS}
    if body.get("contact") is not None or creating:
        if body.get("contact") is None:
            raise invalid("contact", "is required")
        doc["contact"] = active(state, CONTACT, body["contact"], "contact")["id"]
    contact = state.store.get(CONTACT, str(doc["contact"])) or {}
    for field in ("date", "dueDate"):
        if body.get(field) is not None:
            doc[field] = parse_date(body[field], field)
    doc.setdefault("date", state.today())
    if body.get("terms") is not None:
        doc["terms"] = cents(body["terms"], "terms")  # whole days
    doc.setdefault("terms", contact.get("terms", state.config.default_terms_days))
    if not doc.get("dueDate"):
        terms = int(doc["terms"])
        doc["dueDate"] = (date.fromisoformat(doc["date"]) + timedelta(days=terms)).isoformat()
    if doc["dueDate"] < doc["date"]:
        raise invalid("dueDate", "is before date")
    for field in ("memo", "poNumber"):
        if field in body:
            doc[field] = text(body, field)
        doc.setdefault(field, None)
    if body.get("currency") is not None:
        doc["currency"] = str(body["currency"]).upper()
    doc.setdefault("currency", contact.get("currency") or state.config.base_currency)
    if body.get("account") is not None:
        doc["account"] = active(state, ACCOUNT, body["account"], "account")["id"]
    doc.setdefault("account", state.seeded("receivable"))
    if "lines" in body or creating:
        doc["lines"] = _lines(state, body.get("lines"))
    if body.get("number") is not None:
        doc["number"] = str(body["number"])
    doc.setdefault("number", _next_number(state))
    if not doc["removed"] and any(
        d["id"] != doc["id"] and not d["removed"] and d["number"] == doc["number"] for d in state.store.all(INVOICE)
    ):
        raise ApiError(400, "DUPLICATE", f"invoice number {doc['number']} is already used", "number")
    doc.setdefault("_paid", 0)
    if doc["_paid"] and any(doc.get(k) != v for k, v in before.items()):
        raise ApiError(
            400,
            "READ_ONLY",
            f"invoice {doc['id']} has payments; its contact, currency, date and lines cannot change",
            "readOnly",
        )
    doc["subTotal"] = sum(li["amount"] for li in doc["lines"])
    doc["taxTotal"] = sum(t["amount"] for li in doc["lines"] for t in li["taxAmounts"])
    doc["amount"] = doc["subTotal"] + doc["taxTotal"]
    doc["type"] = "INVOICE"


def invoice_view(state: KashooState, doc: Doc) -> Doc:
    contact = state.store.get(CONTACT, str(doc["contact"])) or {}
    totals: dict[int, int] = {}
    for line in doc["lines"]:
        for t in line["taxAmounts"]:
            totals[t["tax"]] = totals.get(t["tax"], 0) + t["amount"]
    return {
        **doc,
        "contactName": contact.get("name"),
        "totalDue": doc["amount"],
        "balanceDue": doc["amount"] - doc["_paid"] - int(doc.get("_credited") or 0) + int(doc.get("_refunded") or 0),
        "readOnly": doc["_paid"] > 0,
        "lines": [{**li, "quantity": Decimal(li["quantity"])} for li in doc["lines"]],
        "taxSummary": [{"tax": tax, "amount": amount} for tax, amount in totals.items()],
    }


def invoice_before_remove(state: KashooState, doc: Doc) -> None:
    if doc["_paid"] or doc.get("_credited"):
        raise ApiError(400, "READ_ONLY", f"invoice {doc['id']} has payments; remove them first", "readOnly")


def _paid_on(state: KashooState, invoice_id: int, excluding: int | None = None) -> int:
    return sum(
        p["amount"]
        for p in state.store.all(PAYMENT)
        if p["invoice"] == invoice_id and not p["removed"] and p["id"] != excluding
    )


def build_payment(state: KashooState, doc: Doc, body: Doc, creating: bool) -> None:
    if creating or body.get("invoice") is not None:
        if body.get("invoice") is None:
            raise invalid("invoice", "is required (the id of the invoice paid)")
        invoice = active(state, INVOICE, body["invoice"], "invoice")
        if not creating and invoice["id"] != doc["invoice"]:
            raise invalid("invoice", "a payment cannot move to another invoice")
        doc["invoice"] = invoice["id"]
    invoice = state.store.get(INVOICE, str(doc["invoice"])) or {}
    if creating or body.get("amount") is not None:
        if body.get("amount") is None:
            raise invalid("amount", "is required (cents)")
        doc["amount"] = cents(body["amount"], "amount", minimum=1)
    if not doc["removed"]:
        if invoice.get("removed"):
            raise invalid("invoice", f"invoice {invoice['id']} is removed")
        balance = (
            invoice["amount"]
            - _paid_on(state, invoice["id"], excluding=doc["id"])
            - int(invoice.get("_credited") or 0)
            + int(invoice.get("_refunded") or 0)
        )
        if doc["amount"] > balance:
            raise invalid(
                "amount", f"{doc['amount']} is more than the balance due of {balance} on invoice {invoice['id']}"
            )
    money_movement(state, doc, body, account_field="depositAccount")
    doc.update({"type": "INVOICE_PAYMENT", "contact": invoice["contact"], "currency": invoice["currency"]})


def money_movement(state: KashooState, doc: Doc, body: dict[str, Any], *, account_field: str) -> None:
    """The date, bank account and memo of money in or out (a payment's ``depositAccount``, a refund's ``account``),
    defaulted as Kashoo does: today, the business's bank account, no memo."""
    if body.get("date") is not None:
        doc["date"] = parse_date(body["date"], "date")
    doc.setdefault("date", state.today())
    if body.get(account_field) is not None:
        account = active(state, ACCOUNT, body[account_field], account_field)
        if account["type"] != "BANK":
            raise invalid(account_field, f"account {account['id']} is not a bank account")
        doc[account_field] = account["id"]
    doc.setdefault(account_field, state.seeded("bank"))
    if "memo" in body:
        doc["memo"] = text(body, "memo")
    doc.setdefault("memo", None)


def payment_after_write(state: KashooState, doc: Doc) -> None:
    # The invoice's balance changed: store it and bump its modified stamp so pollers pick it up.
    invoice = state.store.get(INVOICE, str(doc["invoice"]))
    if invoice is not None:
        invoice["_paid"] = _paid_on(state, invoice["id"])
        invoice["modified"] = state.stamp()
        state.store.put(INVOICE, str(invoice["id"]), invoice)


def payment_view(state: KashooState, doc: Doc) -> Doc:
    contact = state.store.get(CONTACT, str(doc["contact"])) or {}
    return {**doc, "contactName": contact.get("name"), "readOnly": False}


INVOICES = Kind(
    INVOICE,
    "invoice",
    "records/invoices",
    build_invoice,
    view=invoice_view,
    before_remove=invoice_before_remove,
    dated=True,
)
PAYMENTS = Kind(
    PAYMENT,
    "invoicePayment",
    "records/invoicePayments",
    build_payment,
    view=payment_view,
    after_write=payment_after_write,
    dated=True,
)


def pdf_lines(state: KashooState, inv: Doc) -> list[str]:
    cur = inv["currency"]

    def money(value: int) -> str:
        return f"{cur} {Decimal(value) / 100:.2f}"

    out = [
        state.config.business_name,
        f"Bill to: {inv['contactName']}",
        f"Date: {inv['date']}    Due: {inv['dueDate']}    PO: {inv.get('poNumber') or ''}",
        "",
        "Qty        Unit price        Amount            Description",
    ]
    for li in inv["lines"]:
        out.append(
            f"{li['quantity']:<10} {money(li['unitPrice']):<17} {money(li['amount']):<17} {li['description'] or ''}"
        )
    out += ["", f"Subtotal {money(inv['subTotal'])}"]
    for t in inv["taxSummary"]:
        tax = state.store.get(TAX, str(t["tax"])) or {}
        out.append(f"{tax.get('name', 'Tax')} {money(t['amount'])}")
    out += [f"Total {money(inv['amount'])}", f"Balance due {money(inv['balanceDue'])}"]
    if inv.get("memo"):
        out += ["", str(inv["memo"])]
    return out
