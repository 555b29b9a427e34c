"""Customer documents: validation from a (lower-cased) request body and serialisation to KashFlow's shape."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from ledgerlink.sandbox.kashflow.state import CUSTOMER, INVOICE, KashFlowState
from ledgerlink.sandbox.kashflow.wire import (
    invalid,
    opt_str,
    parse_bool,
    parse_int,
    served_datetime,
)

TEXT_FIELDS = [
    "Name",
    "DisplayName",
    "Email",
    "TelephoneNumber",
    "MobileNumber",
    "FaxNumber",
    "Website",
    "VATNumber",  # as KashFlow's customer example spells it (input keys match ignoring case)
    "Note",
]
# A contact's fields as KashFlow's customer example names them (``Firstname``, ``Telephone``, ``Mobile``).
CONTACT_FIELDS = ["Title", "Name", "Firstname", "LastName", "Email", "Telephone", "Mobile", "Fax", "Website"]
PAYMENT_TERM_TYPES = ("Days", "AfterMonthEnd", "OfFollowingMonth", "CashOnDelivery")
ADDRESS_FIELDS = ["Name", "Line1", "Line2", "Line3", "Line4", "PostCode", "CountryName", "CountryCode"]
BOX_FIELDS = ["Name", "Value"]
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _objects(value: Any, field: str, names: list[str]) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(field, "must be a list")
    out = []
    for i, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            raise invalid(f"{field}[{i}]", "must be an object")
        row: dict[str, Any] = {}
        for name in names:
            raw = item.get(name.lower())
            row[name] = raw if isinstance(raw, bool) or raw is None else str(raw)
        if "isprimary" in item:
            row["IsPrimary"] = parse_bool(item["isprimary"], f"{field}[{i}].IsPrimary")
        out.append(row)
    return out


def apply_body(state: KashFlowState, doc: dict[str, Any], body: dict[str, Any]) -> None:
    """Merge the fields present in ``body`` into ``doc`` (absent fields keep their value) and validate."""
    for name in TEXT_FIELDS:
        if name.lower() in body:
            doc[name] = opt_str(body, name.lower(), name)
    if not (doc.get("Name") or "").strip():
        raise invalid("Name", "is required")
    if doc.get("Email") and not EMAIL.match(doc["Email"]):
        raise invalid("Email", f"{doc['Email']!r} is not an e-mail address")
    if "contacts" in body:
        doc["Contacts"] = _objects(body["contacts"], "Contacts", CONTACT_FIELDS)
    if "addresses" in body:
        doc["Addresses"] = _objects(body["addresses"], "Addresses", ADDRESS_FIELDS)
    if "deliveryaddresses" in body:
        doc["DeliveryAddresses"] = _objects(body["deliveryaddresses"], "DeliveryAddresses", ADDRESS_FIELDS)
    if "customtextboxes" in body:
        doc["CustomTextBoxes"] = _objects(body["customtextboxes"], "CustomTextBoxes", BOX_FIELDS)
    if "customcheckboxes" in body:
        boxes = _objects(body["customcheckboxes"], "CustomCheckBoxes", BOX_FIELDS)
        for i, box in enumerate(boxes, start=1):
            box["Value"] = parse_bool(
                box["Value"] if box["Value"] is not None else False, f"CustomCheckBoxes[{i}].Value"
            )
        doc["CustomCheckBoxes"] = boxes
    if "currency" in body and body["currency"] is not None:
        currency = body["currency"]
        code = currency.get("code") if isinstance(currency, dict) else currency
        if not isinstance(code, str) or not re.fullmatch(r"[A-Za-z]{3}", code):
            raise invalid("Currency.Code", f"{code!r} is not a three-letter currency code")
        doc["Currency"] = {"Code": code.upper()}
    if body.get("paymentterms") is not None:
        # Documented as an object, {"Days": 50, "Type": "AfterMonthEnd"}; a bare number of days is taken too.
        terms = body["paymentterms"]
        raw = {k.lower(): v for k, v in terms.items()} if isinstance(terms, dict) else {"days": terms}
        days = parse_int(raw.get("days", 0), "PaymentTerms.Days")
        if days < 0:
            raise invalid("PaymentTerms.Days", "must be zero or more days")
        kind = str(raw.get("type") or "Days")
        if kind not in PAYMENT_TERM_TYPES:
            raise invalid("PaymentTerms.Type", f"must be one of {', '.join(PAYMENT_TERM_TYPES)}")
        doc["PaymentTerms"] = {"Days": days, "Type": kind}
    if body.get("defaultnominalcode") is not None:
        doc["DefaultNominalCode"] = parse_int(body["defaultnominalcode"], "DefaultNominalCode")
    if "isarchived" in body:
        doc["IsArchived"] = parse_bool(body["isarchived"], "IsArchived")


def new_doc(state: KashFlowState) -> dict[str, Any]:
    return {
        "Contacts": [],
        "Addresses": [],
        "DeliveryAddresses": [],
        "CustomTextBoxes": [],
        "CustomCheckBoxes": [],
        "Currency": {"Code": state.config.base_currency},
        "PaymentTerms": {"Days": state.config.default_payment_terms_days, "Type": "Days"},
        "DefaultNominalCode": 4000,
        "IsArchived": False,
    }


def free_code(state: KashFlowState, seed: str) -> str:
    """KashFlow-style automatic code: up to six letters of the seed and a two-digit counter (ACMELT01)."""
    base = re.sub(r"[^A-Za-z0-9]", "", seed).upper()[:6] or "CUST"
    n = 1
    while state.store.get(CUSTOMER, f"{base}{n:02d}") is not None:
        n += 1
    return f"{base}{n:02d}"


def balances(state: KashFlowState) -> dict[str, tuple[Decimal, Decimal]]:
    """Per customer code: (outstanding on issued invoices, total paid)."""
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for inv in state.store.all(INVOICE):
        if inv.get("IsDraft"):
            continue
        key = inv["CustomerCode"].upper()
        paid = sum((Decimal(p["Amount"]) for p in inv["PaymentLines"]), Decimal(0))
        due, total = out.get(key, (Decimal(0), Decimal(0)))
        credited = Decimal(inv.get("CreditedAmount") or 0) - Decimal(inv.get("CreditUsed") or 0)
        out[key] = (due + Decimal(inv["GrossAmount"]) - paid - credited, total + paid)
    return out


def serialise(doc: dict[str, Any], balance: tuple[Decimal, Decimal] | None) -> dict[str, Any]:
    due, paid = balance or (Decimal(0), Decimal(0))
    out: dict[str, Any] = {"Id": doc["Id"], "Code": doc["Code"]}
    for name in TEXT_FIELDS:
        out[name] = doc.get(name)
    out.update(
        {
            "Contacts": doc["Contacts"],
            "Addresses": doc["Addresses"],
            "DeliveryAddresses": doc["DeliveryAddresses"],
            "Currency": doc["Currency"],
            "PaymentTerms": doc["PaymentTerms"],
            "DefaultNominalCode": doc["DefaultNominalCode"],
            "OutstandingBalance": due,
            "TotalPaidAmount": paid,
            "IsArchived": doc["IsArchived"],
            "CustomCheckBoxes": doc["CustomCheckBoxes"],
            "CustomTextBoxes": doc["CustomTextBoxes"],
            "CreatedDate": served_datetime(doc["CreatedDate"]),
            "LastUpdatedDate": served_datetime(doc["LastUpdatedDate"]),
        }
    )
    return out
