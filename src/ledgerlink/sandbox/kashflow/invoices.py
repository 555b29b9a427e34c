"""Invoice documents: line arithmetic (to the penny, ROUND_HALF_UP per line), status and serialisation."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ledgerlink.sandbox.kashflow.state import CUSTOMER, INVOICE, NOMINAL, PRODUCT, KashFlowState
from ledgerlink.sandbox.kashflow.wire import (
    FOUR,
    ApiError,
    fmt_datetime,
    invalid,
    money,
    opt_str,
    parse_bool,
    parse_datetime,
    parse_decimal,
    parse_int,
    stored_datetime,
)

DEFAULT_NOMINAL = 4000


def _find_product(state: KashFlowState, code: str) -> dict[str, Any] | None:
    for doc in state.store.all(PRODUCT):
        if doc["Code"].upper() == code.upper():
            return doc
    return None


def _vat_level(state: KashFlowState, raw: Any, field: str) -> Decimal:
    level = parse_decimal(raw, field)
    rates = [Decimal(str(r)) for r in state.config.vat_rates]
    if level not in rates:
        listed = ", ".join(f"{r:g}" for r in rates)
        raise invalid(field, f"{level:g} is not one of this account's VAT rates ({listed})")
    return level


def build_lines(state: KashFlowState, raw_lines: Any) -> list[dict[str, Any]]:
    """Validate ``LineItems`` and compute each line's net and VAT; errors name the line (1-based) and field."""
    if not isinstance(raw_lines, list) or not raw_lines:
        raise invalid("LineItems", "an invoice needs at least one line")
    standard = max(Decimal(str(r)) for r in state.config.vat_rates)
    lines = []
    for n, raw in enumerate(raw_lines, start=1):
        where = f"LineItems[{n}]"
        if not isinstance(raw, dict):
            raise invalid(where, "must be an object")
        product = None
        if raw.get("productcode"):
            product = _find_product(state, str(raw["productcode"]))
            if product is None:
                raise invalid(f"{where}.ProductCode", f"no product {raw['productcode']!r}")
        quantity = parse_decimal(raw.get("quantity", 1), f"{where}.Quantity").quantize(FOUR)
        rate_raw = raw.get("rate", product["Price"] if product else None)
        if rate_raw is None:
            raise invalid(f"{where}.Rate", "is required")
        rate = parse_decimal(rate_raw, f"{where}.Rate").quantize(FOUR)
        nominal = parse_int(
            raw.get("nominalcode") or (product or {}).get("NominalCode") or DEFAULT_NOMINAL, f"{where}.NominalCode"
        )
        if state.store.get(NOMINAL, str(nominal)) is None:
            raise invalid(f"{where}.NominalCode", f"{nominal} is not a nominal code in this account")
        exempt = parse_bool(raw.get("vatexempt", False), f"{where}.VATExempt")
        level_raw = raw.get("vatlevel", (product or {}).get("VATRate", standard))
        level = _vat_level(state, level_raw, f"{where}.VATLevel")
        net = money(quantity * rate)
        vat = Decimal("0.00") if exempt else money(net * level / 100)
        if raw.get("vatamount") is not None:
            # Rounding guard for VAT-inclusive sources: a client may move a line's VAT by at most one penny.
            given = money(parse_decimal(raw["vatamount"], f"{where}.VATAmount"))
            if abs(given - vat) > Decimal("0.01"):
                raise invalid(f"{where}.VATAmount", f"{given} differs from {vat} by more than one penny")
            vat = given
        lines.append(
            {
                "Number": n,
                "Description": opt_str(raw, "description", f"{where}.Description") or (product or {}).get("Name"),
                "Quantity": str(quantity),
                "Rate": str(rate),
                "NominalCode": nominal,
                "ProductCode": product["Code"] if product else None,
                "ProductName": product["Name"] if product else None,
                "VATLevel": str(level),
                "VATExempt": exempt,
                "VATAmount": str(vat),
                "NetAmount": str(net),
                "ProjectNumber": parse_int(raw["projectnumber"], f"{where}.ProjectNumber")
                if raw.get("projectnumber") is not None
                else None,
            }
        )
    return lines


def apply_body(state: KashFlowState, doc: dict[str, Any], body: dict[str, Any]) -> None:
    """Merge a create/update body into ``doc``; line items, when given, replace the old ones."""
    if body.get("customercode") is not None:
        code = str(body["customercode"])
        if state.store.get(CUSTOMER, code.upper()) is None:
            raise invalid("CustomerCode", f"no customer with code {code!r}")
        if doc.get("PaymentLines") and code.upper() != doc["CustomerCode"].upper():
            raise invalid("CustomerCode", "cannot move an invoice with payments to another customer")
        doc["CustomerCode"] = state.store.get(CUSTOMER, code.upper())["Code"]  # type: ignore[index]
    if not doc.get("CustomerCode"):
        raise invalid("CustomerCode", "is required")
    if "customerreference" in body:
        doc["CustomerReference"] = opt_str(body, "customerreference", "CustomerReference")
    if body.get("issueddate") is not None:
        doc["IssuedDate"] = parse_datetime(body["issueddate"], "IssuedDate").isoformat()
    doc.setdefault(
        "IssuedDate", state.clock.now().replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0).isoformat()
    )
    if body.get("duedate") is not None:
        doc["DueDate"] = parse_datetime(body["duedate"], "DueDate").isoformat()
    if not doc.get("DueDate"):
        customer = state.store.get(CUSTOMER, doc["CustomerCode"].upper()) or {}
        terms = (customer.get("PaymentTerms") or {}).get("Days", state.config.default_payment_terms_days)
        doc["DueDate"] = (datetime.fromisoformat(doc["IssuedDate"]) + timedelta(days=terms)).isoformat()
    if stored_datetime(doc["DueDate"]) < stored_datetime(doc["IssuedDate"]):  # type: ignore[operator]
        raise invalid("DueDate", "is before IssuedDate")
    if body.get("currency") is not None:
        cur = body["currency"] if isinstance(body["currency"], dict) else {"code": body["currency"]}
        rate = parse_decimal(cur.get("exchangerate", 1), "Currency.ExchangeRate")
        doc["Currency"] = {
            "Code": str(cur.get("code") or state.config.base_currency).upper(),
            "ExchangeRate": str(rate),
        }
    doc.setdefault("Currency", {"Code": state.config.base_currency, "ExchangeRate": "1"})
    if "status" in body and body["status"] is not None:
        status = str(body["status"]).lower()
        if status == "draft" and doc.get("PaymentLines"):
            raise invalid("Status", "an invoice with payments cannot go back to draft")
        # Only Draft is chosen by the client; every other status is derived from payments and dates.
        doc["IsDraft"] = status == "draft"
    doc.setdefault("IsDraft", False)
    if "isarchived" in body:
        doc["IsArchived"] = parse_bool(body["isarchived"], "IsArchived")
    doc.setdefault("IsArchived", False)
    if "lineitems" in body or "LineItems" not in doc:
        doc["LineItems"] = build_lines(state, body.get("lineitems"))
    net = sum((Decimal(li["NetAmount"]) for li in doc["LineItems"]), Decimal(0))
    vat = sum((Decimal(li["VATAmount"]) for li in doc["LineItems"]), Decimal(0))
    paid = total_paid(doc)
    # A negative invoice is a credit note (KashFlow's Credits page: a CreditNote credit's Id "is the unique invoice
    # identifier"); one with payments or credits applied may not drop below what they cover.
    if (paid > 0 or total_credited(doc) > 0) and net + vat < paid + total_credited(doc):
        raise invalid("GrossAmount", f"{net + vat} would be less than the {paid} already paid")
    doc["NetAmount"], doc["VATAmount"], doc["GrossAmount"] = str(net), str(vat), str(net + vat)


def total_paid(doc: dict[str, Any]) -> Decimal:
    return sum((Decimal(p["Amount"]) for p in doc.get("PaymentLines", [])), Decimal(0))


def total_credited(doc: dict[str, Any]) -> Decimal:
    """What credit notes applied to this invoice took off it (routes_credit_notes)."""
    return Decimal(doc.get("CreditedAmount") or 0)


def credit_used(doc: dict[str, Any]) -> Decimal:
    """Of a credit note (a negative invoice), what was applied to invoices so far."""
    return Decimal(doc.get("CreditUsed") or 0)


def due(doc: dict[str, Any]) -> Decimal:
    """Still owed on an invoice; on a credit note, minus the credit still to use (owed back to the customer)."""
    return Decimal(doc["GrossAmount"]) - total_paid(doc) - total_credited(doc) + credit_used(doc)


def status(state: KashFlowState, doc: dict[str, Any]) -> str:
    if doc["IsDraft"]:
        return "Draft"
    if Decimal(doc["GrossAmount"]) < 0:
        return "Credit"  # a credit note; KashFlow's own label for it is not published
    if due(doc) <= 0:
        return "Paid"
    # Past due wins over part-paid: what matters to credit control is that money is late.
    if datetime.fromisoformat(doc["DueDate"]).date() < state.clock.now().date():
        return "Overdue"
    return "PartPaid" if total_paid(doc) > 0 else "Unpaid"


def next_number(state: KashFlowState) -> int:
    return max((inv["Number"] for inv in state.store.all(INVOICE)), default=0) + 1


def serialise_payment(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "Id": p["Id"],
        "Date": fmt_datetime(stored_datetime(p["Date"])),
        "Amount": Decimal(p["Amount"]),
        "Method": p["Method"],
        "AccountId": p["AccountId"],
        "Note": p.get("Note"),
        "BankTransactionId": p.get("BankTransactionId"),
        "CreatedDate": fmt_datetime(stored_datetime(p.get("CreatedDate"))),
    }


def serialise(state: KashFlowState, doc: dict[str, Any], base_url: str, *, summary: bool = False) -> dict[str, Any]:
    customer = state.store.get(CUSTOMER, doc["CustomerCode"].upper()) or {}
    paid = total_paid(doc)
    gross = Decimal(doc["GrossAmount"])
    current = status(state, doc)
    due_date = datetime.fromisoformat(doc["DueDate"])
    paid_date = max((p["Date"] for p in doc["PaymentLines"]), default=None) if current == "Paid" else None
    lines = [
        {
            k: (Decimal(v) if k in ("Quantity", "Rate", "VATLevel", "VATAmount", "NetAmount") else v)
            for k, v in li.items()
        }
        for li in doc["LineItems"]
    ]
    return {
        "Id": doc["Id"],
        "Number": doc["Number"],
        "CustomerId": customer.get("Id"),
        "CustomerCode": doc["CustomerCode"],
        "CustomerName": customer.get("Name"),
        "CustomerReference": doc.get("CustomerReference"),
        "IssuedDate": fmt_datetime(stored_datetime(doc["IssuedDate"])),
        "DueDate": fmt_datetime(due_date),
        "PaidDate": fmt_datetime(stored_datetime(paid_date)),
        "Status": current,
        "NetAmount": Decimal(doc["NetAmount"]),
        "VATAmount": Decimal(doc["VATAmount"]),
        "GrossAmount": gross,
        "TotalPaidAmount": paid,
        "DueAmount": due(doc),
        "CreditedAmount": total_credited(doc),
        "OverdueDays": max(0, (state.clock.now().date() - due_date.date()).days) if current == "Overdue" else 0,
        "Currency": {"Code": doc["Currency"]["Code"], "ExchangeRate": Decimal(doc["Currency"]["ExchangeRate"])},
        "LineItems": None if summary else lines,
        "PaymentLines": None if summary else [serialise_payment(p) for p in doc["PaymentLines"]],
        "Permalink": f"{base_url}/v2/documents/invoice/{doc['PermalinkKey']}",
        "IsArchived": doc["IsArchived"],
        "CreatedDate": fmt_datetime(stored_datetime(doc["CreatedDate"])),
        "LastUpdatedDate": fmt_datetime(stored_datetime(doc["LastUpdatedDate"])),
    }


def pdf_lines(state: KashFlowState, inv: dict[str, Any]) -> list[str]:
    cur = inv["Currency"]["Code"]
    out = [
        f"{state.config.company_name}",
        f"Customer: {inv['CustomerName']} ({inv['CustomerCode']})",
        f"Issued: {inv['IssuedDate']}    Due: {inv['DueDate']}    Status: {inv['Status']}",
        f"Reference: {inv['CustomerReference'] or ''}",
        "",
        "Qty        Rate          VAT%   Net          Description",
    ]
    for li in inv["LineItems"]:
        out.append(
            f"{li['Quantity']:<10f} {li['Rate']:<13f} {li['VATLevel']:<6g} {li['NetAmount']:<12f} "
            f"{li['Description'] or ''}"
        )
    out += [
        "",
        f"Net {cur} {inv['NetAmount']:.2f}",
        f"VAT {cur} {inv['VATAmount']:.2f}",
        f"Total {cur} {inv['GrossAmount']:.2f}",
        f"Paid {cur} {inv['TotalPaidAmount']:.2f}",
        f"Due {cur} {inv['DueAmount']:.2f}",
    ]
    return out


def refuse_if_paid(doc: dict[str, Any], action: str) -> None:
    if doc.get("PaymentLines"):
        raise ApiError(400, "InvoiceHasPayments", f"Invoice {doc['Number']} has payments; remove them before {action}.")
