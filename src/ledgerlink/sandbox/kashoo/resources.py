"""Contacts, items, accounts and taxes: their fields and validation."""

from __future__ import annotations

import re
from typing import Any

from ledgerlink.sandbox.kashoo.collections import Doc, Kind
from ledgerlink.sandbox.kashoo.state import ACCOUNT, CONTACT, INVOICE, ITEM, TAX, KashooState
from ledgerlink.sandbox.kashoo.wire import ApiError, cents, decimal, entity_id, invalid, parse_bool, text

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CONTACT_TEXT = [
    "name",
    "code",
    "email",
    "phone",
    "fax",
    "website",
    "addressLine1",
    "addressLine2",
    "city",
    "province",
    "postalCode",
    "country",
    "taxNumber",
    "notes",
]


def _texts(doc: Doc, body: Doc, names: list[str]) -> None:
    for name in names:
        if name in body:
            doc[name] = text(body, name)
        doc.setdefault(name, None)


def _required_name(doc: Doc) -> None:
    if not (doc.get("name") or "").strip():
        raise invalid("name", "is required")


def active(state: KashooState, kind: str, value: Any, field: str) -> Doc:
    """The entity ``value`` refers to, which must exist and not be removed."""
    eid = entity_id(value, field)
    doc = state.store.get(kind, str(eid))
    if doc is None or doc["removed"]:
        raise invalid(field, f"no {kind} with id {eid}")
    return doc


def build_contact(state: KashooState, doc: Doc, body: Doc, creating: bool) -> None:
    _texts(doc, body, CONTACT_TEXT)
    _required_name(doc)
    if doc["email"] and not EMAIL.match(doc["email"]):
        raise invalid("email", f"{doc['email']!r} is not an e-mail address")
    if body.get("currency") is not None:
        code = str(body["currency"])
        if not re.fullmatch(r"[A-Za-z]{3}", code):
            raise invalid("currency", f"{code!r} is not a three-letter currency code")
        doc["currency"] = code.upper()
    doc.setdefault("currency", state.config.base_currency)
    if body.get("terms") is not None:
        doc["terms"] = cents(body["terms"], "terms")  # whole days, same integer rules as cents
    doc.setdefault("terms", state.config.default_terms_days)
    for flag, default in (("customer", True), ("vendor", False)):
        if body.get(flag) is not None:
            doc[flag] = parse_bool(body[flag], flag)
        doc.setdefault(flag, default)


def contact_before_remove(state: KashooState, doc: Doc) -> None:
    if any(inv["contact"] == doc["id"] and not inv["removed"] for inv in state.store.all(INVOICE)):
        raise ApiError(400, "IN_USE", f"contact {doc['id']} has invoices; remove them first", "removed")


def _tax_ids(state: KashooState, value: Any, field: str) -> list[int]:
    if not isinstance(value, list):
        raise invalid(field, "must be a list of tax ids")
    ids = [int(active(state, TAX, v, f"{field}[{i}]")["id"]) for i, v in enumerate(value)]
    if len(set(ids)) != len(ids):
        raise invalid(field, "lists a tax twice")
    return ids


def build_item(state: KashooState, doc: Doc, body: Doc, creating: bool) -> None:
    _texts(doc, body, ["name", "code", "description"])
    _required_name(doc)
    if doc["code"] and not doc["removed"]:
        for other in state.store.all(ITEM):
            if other["id"] != doc["id"] and not other["removed"] and (other.get("code") or "") == doc["code"]:
                raise ApiError(400, "DUPLICATE", f"item code {doc['code']!r} is already used", "code")
    if body.get("price") is not None:
        doc["price"] = cents(body["price"], "price")
    doc.setdefault("price", 0)
    if body.get("account") is not None:
        doc["account"] = active(state, ACCOUNT, body["account"], "account")["id"]
    doc.setdefault("account", state.seeded("sales"))
    if body.get("taxes") is not None:
        doc["taxes"] = _tax_ids(state, body["taxes"], "taxes")
    doc.setdefault("taxes", [])


ACCOUNT_TYPES = {
    "REVENUE",
    "EXPENSE",
    "ACCOUNTS_RECEIVABLE",
    "ACCOUNTS_PAYABLE",
    "BANK",
    "TAX_PAYABLE",
    "ASSET",
    "LIABILITY",
    "EQUITY",
}


def build_account(state: KashooState, doc: Doc, body: Doc, creating: bool) -> None:
    _texts(doc, body, ["name", "number", "description"])
    _required_name(doc)
    if body.get("type") is not None:
        kind = str(body["type"]).upper()
        if kind not in ACCOUNT_TYPES:
            raise invalid("type", f"must be one of {', '.join(sorted(ACCOUNT_TYPES))}")
        doc["type"] = kind
    if not doc.get("type"):
        raise invalid("type", "is required")
    if doc["number"] and any(
        a["id"] != doc["id"] and a.get("number") == doc["number"] and not a["removed"] for a in state.store.all(ACCOUNT)
    ):
        raise ApiError(400, "DUPLICATE", f"account number {doc['number']} is already used", "number")
    doc.setdefault("currency", state.config.base_currency)


def account_before_remove(state: KashooState, doc: Doc) -> None:
    if doc.get("_role"):
        raise ApiError(400, "IN_USE", f"account {doc['name']!r} is a system account", "removed")


def build_tax(state: KashooState, doc: Doc, body: Doc, creating: bool) -> None:
    _texts(doc, body, ["name", "code"])
    _required_name(doc)
    if body.get("rate") is not None:
        rate = decimal(body["rate"], "rate")
        if not 0 <= rate <= 100:
            raise invalid("rate", "is a percentage between 0 and 100")
        doc["rate"] = str(rate)
    if doc.get("rate") is None:
        raise invalid("rate", "is required (a percentage, e.g. 5)")
    doc.setdefault("account", state.seeded("tax"))


def tax_view(state: KashooState, doc: Doc) -> Doc:
    return {**doc, "rate": decimal(doc["rate"], "rate")}


CONTACTS = Kind(CONTACT, "contact", "contacts", build_contact, before_remove=contact_before_remove)
ITEMS = Kind(ITEM, "item", "items", build_item)
ACCOUNTS = Kind(ACCOUNT, "account", "accounts", build_account, before_remove=account_before_remove)
TAXES = Kind(TAX, "tax", "taxes", build_tax, view=tax_view)
