"""What a definition reads of its trigger record: the object's own query when it is an invoice source (with its
Account and lines, as the built-in invoicing flows read it), else its Id; plus every field the definition's
conditions, templates and splits name, custom fields included."""

from __future__ import annotations

import re
from typing import Any

from ledgerlink.flows import opportunity_to_invoice, order_to_invoice
from ledgerlink.flows.defined import conditions
from ledgerlink.flows.defined.model import (
    Branch,
    CreateRecord,
    Definition,
    Notify,
    OpenCase,
    SplitBy,
    Step,
    UpdateRecord,
    Webhook,
    walk_actions,
)

# object → (SELECT … FROM object, without WHERE; the child relationship holding its lines)
INVOICE_SOURCES: dict[str, tuple[str, str]] = {
    order_to_invoice.SOURCE.sobject: (order_to_invoice.SOURCE.soql, order_to_invoice.SOURCE.lines),
    opportunity_to_invoice.SOURCE.sobject: (opportunity_to_invoice.SOURCE.soql, opportunity_to_invoice.SOURCE.lines),
}
RESULT_FIELDS = {"invoice_number", "case_id"}  # what templates may name besides the record's fields
ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


def lines_relation(obj: str) -> str | None:
    found = INVOICE_SOURCES.get(obj)
    return found[1] if found else None


def _branch_conditions(steps: list[Step]) -> set[str]:
    names: set[str] = set()
    for step in steps:
        if isinstance(step, Branch):
            names |= conditions.fields_of(step.if_) | _branch_conditions(step.then) | _branch_conditions(step.else_)
    return names


def referenced_fields(definition: Definition) -> tuple[set[str], set[str]]:
    """(fields of the record, fields of its lines) the definition names."""
    record = conditions.fields_of(definition.when) | _branch_conditions(definition.steps)
    lines: set[str] = set()
    if definition.trigger.field:
        record.add(definition.trigger.field)
    for _where, action in walk_actions(definition.steps):
        texts: list[str] = []
        if isinstance(action, UpdateRecord | CreateRecord):
            texts += list(action.set.values())
        elif isinstance(action, Notify):
            texts += [action.title, action.message]
        elif isinstance(action, OpenCase):
            texts += [action.subject, action.description]
        elif isinstance(action, Webhook):
            texts += list(action.body.values())
        elif isinstance(action, SplitBy):
            lines.add(action.line_field)
        for text in texts:
            record |= conditions.template_fields(text) - RESULT_FIELDS
    return record, lines


def _select_list(soql: str) -> str:
    return soql[len("SELECT ") : soql.upper().index(" FROM ")]


def _add(select: str, fields: set[str]) -> str:
    have = {f.strip().lower() for f in select.split(",")}
    extra = sorted(f for f in fields if f.lower() not in have)
    return select + (", " + ", ".join(extra) if extra else "")


def query_for(definition: Definition) -> str:
    """``SELECT … FROM <object>`` (no WHERE) reading everything the definition uses."""
    obj = definition.trigger.object
    record_fields, line_fields = referenced_fields(definition)
    base = INVOICE_SOURCES.get(obj)
    if base is None:
        fields = {"Id", "SystemModstamp", *record_fields}
        return f"SELECT {', '.join(sorted(fields))} FROM {obj}"
    soql, relation = base
    if line_fields:  # the lines' own query: add the fields to the sub-select over the relation
        marker = f" FROM {relation})"
        at = soql.index(marker)
        start = soql.rindex("(SELECT ", 0, at) + len("(SELECT ")
        inner = _add(soql[start:at], line_fields)
        soql = soql[:start] + inner + soql[at:]
    head = soql[len("SELECT ") : soql.index("(SELECT ")] if "(SELECT " in soql else _select_list(soql)
    have = {f.strip().lower() for f in head.split(",") if f.strip()}
    extra = sorted(f for f in record_fields if f.lower() not in have)
    return "SELECT " + "".join(f"{f}, " for f in extra) + soql[len("SELECT ") :]


def read(crm: Any, definition: Definition, record_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The trigger records by id, read live (the ids are checked: they go into the query)."""
    bad = [r for r in record_ids if not ID.match(r)]
    if bad:
        raise ValueError(f"{bad[0]!r} is not a record id")
    if not record_ids:
        return {}
    quoted = ", ".join(f"'{r}'" for r in record_ids)
    return {str(r["Id"]): r for r in crm.query(f"{query_for(definition)} WHERE Id IN ({quoted})")}
