"""Evaluating a definition's conditions on a record, and filling its message templates from the record.

No expression language: a condition compares one field with a value, and a template only inserts fields
(``{{ Account.Name }}``). Both are linear in the size of the definition, so a user's input cannot run away.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from ledgerlink.flows.defined.model import All, Any_, Compare, Condition

MAX_RENDERED = 4000  # characters a filled template may reach
TEMPLATE_FIELD = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9_]{0,79}(?:\.[A-Za-z][A-Za-z0-9_]{0,79}){0,3})\s*\}\}")


def get_path(record: dict[str, Any], path: str) -> Any:
    """``Account.BillingCountry`` in a record as the CRM returns it (nested related records); field names are
    matched without regard to case, as the CRM does."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        if part in value:
            value = value[part]
            continue
        lowered = part.lower()
        value = next((v for k, v in value.items() if k.lower() == lowered), None)
    return value


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return _truth(left) == _truth(right)  # a checkbox against "true", a "false" text against False
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return a == b
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    return bool(left == right)


def _truth(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _order(left: Any, right: Any) -> int | None:
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    if isinstance(left, str) and isinstance(right, str):  # ISO dates compare as text
        return (left > right) - (left < right)
    return None


def compare(c: Compare, record: dict[str, Any]) -> bool:
    value = get_path(record, c.field)
    if c.op == "is_empty":
        return value in (None, "", [])
    if c.op == "not_empty":
        return value not in (None, "", [])
    if c.op in ("eq", "ne"):
        return _same(value, c.value) == (c.op == "eq")
    if c.op in ("in", "not_in"):
        options = c.value if isinstance(c.value, list) else [c.value]
        found = any(_same(value, option) for option in options)
        return found == (c.op == "in")
    if c.op == "contains":
        return isinstance(value, str) and str(c.value).casefold() in value.casefold()
    order = _order(value, c.value)
    if order is None:
        return False
    return {"gt": order > 0, "gte": order >= 0, "lt": order < 0, "lte": order <= 0}[c.op]


def holds(cond: Condition | None, record: dict[str, Any]) -> bool:
    if cond is None:
        return True
    if isinstance(cond, All):
        return all(holds(c, record) for c in cond.all)
    if isinstance(cond, Any_):
        return any(holds(c, record) for c in cond.any)
    return compare(cond, record)


def describe(cond: Condition | None) -> str:
    """A condition as people read it: ``Approved__c = true AND (Amount > 1000 OR Region__c = "EU")``."""
    if cond is None:
        return "always"
    if isinstance(cond, All):
        return " AND ".join(_group(c) for c in cond.all)
    if isinstance(cond, Any_):
        return " OR ".join(_group(c) for c in cond.any)
    symbol = {"eq": "=", "ne": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}.get(
        cond.op, cond.op.replace("_", " ")
    )
    if cond.op in ("is_empty", "not_empty"):
        return f"{cond.field} {symbol}"
    shown = "true" if cond.value is True else "false" if cond.value is False else repr(cond.value)
    return f"{cond.field} {symbol} {shown}"


def _group(cond: Condition) -> str:
    text = describe(cond)
    return f"({text})" if isinstance(cond, All | Any_) else text


def fields_of(cond: Condition | None) -> set[str]:
    if cond is None:
        return set()
    if isinstance(cond, All):
        return set().union(*(fields_of(c) for c in cond.all))
    if isinstance(cond, Any_):
        return set().union(*(fields_of(c) for c in cond.any))
    return {cond.field}


def template_fields(text: str) -> set[str]:
    return set(TEMPLATE_FIELD.findall(text))


def render(text: str, record: dict[str, Any], extra: dict[str, Any] | None = None) -> str:
    """``{{ Field.Path }}`` replaced by the record's value (or ``extra``'s: the run's results, e.g. invoice_number)."""

    def value(match: re.Match[str]) -> str:
        path = match.group(1)
        found = extra[path] if extra and path in extra else get_path(record, path)
        return "" if found is None else str(found)[:500]

    return TEMPLATE_FIELD.sub(value, text)[:MAX_RENDERED]
