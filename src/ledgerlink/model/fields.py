"""Projections: a canonical record as the flat ``{field: value}`` a system can hold, so two sides compare equal
exactly when nothing a user could see differs. Fields a system cannot store are left out of its projection;
otherwise they would differ forever and flip-flop. Each system declares the fields it holds (its ``customer_fields``
and ``product_fields``) in these flat names."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

ADDRESS = ("lines", "city", "region", "postcode", "country")
BILLING = tuple(f"billing_address.{p}" for p in ADDRESS)
SHIPPING = tuple(f"shipping_address.{p}" for p in ADDRESS)
CONTACT_KEYS = ("first_name", "last_name", "email", "phone")

_EMPTY: tuple[Any, ...] = (None, "", [], {})


def _number(value: Any) -> str:
    try:
        return format(Decimal(str(value)).normalize(), "f")
    except InvalidOperation:
        return str(value)


def _contacts(value: Any) -> list[dict[str, str]]:
    people = []
    for person in value or []:
        row = {k: str(person[k]).strip() for k in CONTACT_KEYS if person.get(k) not in _EMPTY}
        if row:
            people.append(row)
    # Salesforce returns a subquery in no promised order: compare as a sorted list.
    return sorted(people, key=lambda p: (p.get("last_name", ""), p.get("first_name", ""), p.get("email", "")))


def flatten(values: dict[str, Any]) -> dict[str, Any]:
    """A canonical Customer/Product (``model_dump(mode="json")``) as flat, normalised, JSON-able values."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if key in ("billing_address", "shipping_address") and isinstance(value, dict):
            for part in ADDRESS:
                item = value.get("lines" if part == "lines" else part)
                flat[f"{key}.{part}"] = "\n".join(item) if part == "lines" and isinstance(item, list) else item
        elif key == "contacts":
            flat[key] = _contacts(value)
        elif key in ("unit_price", "tax_rate") and value not in _EMPTY:
            flat[key] = _number(value)
        elif isinstance(value, str):
            flat[key] = value.strip()
        else:
            flat[key] = value
    return flat


@functools.lru_cache(maxsize=256)
def _plan(fields: frozenset[str]) -> tuple[tuple[str, ...], frozenset[str]]:
    """The fields in order, and the top-level keys they come from (``billing_address`` for its parts)."""
    return tuple(sorted(fields)), frozenset(f.split(".", 1)[0] for f in fields)


def project(values: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """The fields of ``values`` a system holds, empty values dropped (None, "" and [] all mean "not set")."""
    # Only the keys the system holds are flattened (a sync projects each record several times a page).
    order, tops = _plan(fields if isinstance(fields, frozenset) else frozenset(fields))
    flat = flatten({k: v for k, v in values.items() if k in tops})
    return {f: flat[f] for f in order if flat.get(f) not in _EMPTY}


def unflatten(flat: dict[str, Any], into: dict[str, Any]) -> dict[str, Any]:
    """Write flat values back onto a canonical dict (a copy), the inverse of ``flatten`` for the fields given."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in into.items()}
    for key, value in flat.items():
        if "." in key:
            parent, part = key.split(".", 1)
            address = out.get(parent) or {}
            address = dict(address)
            if part == "lines":
                address["lines"] = [line for line in str(value or "").split("\n") if line.strip()]
            else:
                address[part] = value
            out[parent] = address
        else:
            out[key] = value
    return out
