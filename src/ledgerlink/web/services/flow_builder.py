"""The flow builder's work behind the pages: a form ⇄ a definition, the definition as a diagram, a dry run on a
record fetched live through the console's connections, and the field mapper's two columns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ledgerlink.flows.defined import conditions, reads
from ledgerlink.flows.defined.model import (
    ACTIONS,
    Branch,
    Compare,
    Definition,
    DefinitionError,
    Step,
    from_data,
)
from ledgerlink.flows.defined.run import Run, run
from ledgerlink.web.console import Console

MAX_ROWS = 40
MAX_VALUE = 2000
ROW_KEY = re.compile(r"^([ca])([0-9a-z]{1,12})_([a-z_]{1,20})$")
OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "is_empty", "not_empty"]
EVENTS = ["created", "updated", "field_changed", "schedule"]
CHANNELS = ["slack", "teams", "email"]
# Each action's fields in the form, in the order shown.
ACTION_FIELDS: dict[str, list[str]] = {
    "map_invoice": ["mapping"],
    "add_line": ["description", "percent", "amount", "tax_rate"],
    "split_by": ["line_field"],
    "create_invoice": [],
    "update_record": ["object", "record", "set"],
    "create_record": ["object", "set", "key_field"],
    "open_case": ["subject", "description"],
    "close_case": ["status", "opened_by"],
    "notify": ["channel", "to", "title", "message"],
    "webhook": ["url", "body"],
    "wait": ["seconds"],
}
MULTILINE = {"set", "body", "message", "description"}


@dataclass
class Row:
    key: str
    values: dict[str, str] = field(default_factory=dict)


def _scalar(text: str) -> Any:
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        try:
            return int(text) if "." not in text else float(Decimal(text))
        except (InvalidOperation, ValueError):
            return text
    return text


def _pairs(text: str, where: str) -> dict[str, str]:
    """``Field: value`` lines → a dict (the form's way to write ``set`` and ``body``)."""
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise DefinitionError([f"{where} line {number}: write Field: value"])
        found[name.strip()] = value.strip()
    return found


def rows(form: list[tuple[str, str]]) -> tuple[dict[str, str], list[Row], list[Row]]:
    """(plain fields, condition rows, action rows), rows in the order the page shows them."""
    plain: dict[str, str] = {}
    by_kind: dict[str, dict[str, Row]] = {"c": {}, "a": {}}
    for name, value in form:
        if len(value) > MAX_VALUE:
            raise DefinitionError([f"{name}: longer than {MAX_VALUE} characters"])
        found = ROW_KEY.match(name)
        if not found:
            plain[name] = value
            continue
        kind, key, attr = found.groups()
        table = by_kind[kind]
        if key not in table:
            if len(table) >= MAX_ROWS:
                raise DefinitionError([f"more than {MAX_ROWS} rows"])
            table[key] = Row(key)
        table[key].values[attr] = value
    return plain, list(by_kind["c"].values()), list(by_kind["a"].values())


def _condition(values: dict[str, str], prefix: str = "") -> dict[str, Any] | None:
    name = values.get(f"{prefix}field", "").strip()
    if not name:
        return None
    op = values.get(f"{prefix}op", "eq") or "eq"
    raw = values.get(f"{prefix}value", "")
    value: Any = [_scalar(v) for v in raw.split(",") if v.strip()] if op in ("in", "not_in") else _scalar(raw)
    return {"field": name, "op": op, **({} if op in ("is_empty", "not_empty") else {"value": value})}


def _action(row: Row, index: int) -> dict[str, Any]:
    kind = row.values.get("type", "")
    if kind not in ACTIONS:
        raise DefinitionError([f"steps[{index}]: choose an action"])
    data: dict[str, Any] = {"action": kind}
    for name in ACTION_FIELDS[kind]:
        raw = row.values.get(name, "").strip()
        if not raw:
            continue
        if name in ("set", "body"):
            data[name] = _pairs(raw, f"steps[{index}].{name}")
        elif name in ("percent", "amount", "tax_rate", "seconds"):
            data[name] = raw
        else:
            data[name] = raw
    return data


def form_to_data(form: list[tuple[str, str]]) -> dict[str, Any]:
    """The builder's form → definition data (not yet validated). An action with an "only if" condition becomes a
    branch; consecutive actions with the same condition share one branch."""
    plain, condition_rows, action_rows = rows(form)
    trigger: dict[str, Any] = {
        "role": plain.get("trigger_role", "crm") or "crm",
        "object": plain.get("trigger_object", "").strip(),
        "event": plain.get("trigger_event", "").strip(),
    }
    if plain.get("trigger_field", "").strip():
        trigger["field"] = plain["trigger_field"].strip()
    if plain.get("every_minutes", "").strip():
        trigger["every_minutes"] = plain["every_minutes"].strip()
    data: dict[str, Any] = {
        "name": plain.get("name", "").strip(),
        "description": plain.get("description", "").strip(),
        "trigger": trigger,
    }
    compares = [c for c in (_condition(r.values) for r in condition_rows) if c]
    if compares:
        data["when"] = {"any" if plain.get("when_match") == "any" else "all": compares}
    steps: list[dict[str, Any]] = []
    last_if: dict[str, Any] | None = None
    for index, row in enumerate(action_rows):
        action = _action(row, index)
        only_if = _condition(row.values, "if_")
        if only_if is None:
            steps.append(action)
            last_if = None
        elif last_if is not None and last_if["if"] == only_if:
            last_if["then"].append(action)
        else:
            last_if = {"if": only_if, "then": [action]}
            steps.append(last_if)
    data["steps"] = steps
    return data


def build(form: list[tuple[str, str]]) -> Definition:
    return from_data(form_to_data(form))


def _row_values(action: Any) -> dict[str, str]:
    values: dict[str, str] = {"type": action.action}
    for name in ACTION_FIELDS[action.action]:
        value = getattr(action, name, None)
        if value is None:
            continue
        if isinstance(value, dict):
            values[name] = "\n".join(f"{k}: {v}" for k, v in value.items())
        else:
            values[name] = str(value)
    return values


def _if_values(cond: Any) -> dict[str, str] | None:
    if not isinstance(cond, Compare):
        return None
    value = ", ".join(str(v) for v in cond.value) if isinstance(cond.value, list) else cond.value
    shown = "true" if value is True else "false" if value is False else "" if value is None else str(value)
    return {"if_field": cond.field, "if_op": cond.op, "if_value": shown}


def definition_to_form(definition: Definition) -> dict[str, Any] | None:
    """The form's rows for a definition, or None when the form cannot show it (else branches, nested or OR-ed
    conditions inside a branch): then the builder shows the YAML editor."""
    when = definition.when
    match, compares = "all", []
    if when is not None:
        members = getattr(when, "all", None) or getattr(when, "any", None) or [when]
        match = "any" if getattr(when, "any", None) else "all"
        if not all(isinstance(m, Compare) for m in members):
            return None
        compares = [_if_values(m) for m in members]
    actions: list[dict[str, str]] = []
    for step in definition.steps:
        if isinstance(step, Branch):
            only_if = _if_values(step.if_)
            if only_if is None or step.else_ or any(isinstance(s, Branch) for s in step.then):
                return None
            actions += [{**_row_values(s), **only_if} for s in step.then]
        else:
            actions.append(_row_values(step))
    return {
        "conditions": [
            {"field": c["if_field"], "op": c["if_op"], "value": c["if_value"]} for c in compares if c is not None
        ],
        "match": match,
        "actions": actions,
    }


HIDDEN = "https://hidden.invalid/(a webhook URL, shown to admins only)"


def masked(definition: Definition) -> Definition:
    """The definition with its webhook URLs (secrets: whoever has one may post to the channel) replaced, for people
    who may look but not edit."""
    from ledgerlink.flows.defined.model import Notify, Webhook

    def mask(steps: list[Step]) -> list[Step]:
        out: list[Step] = []
        for step in steps:
            if isinstance(step, Branch):
                out.append(step.model_copy(update={"then": mask(step.then), "else_": mask(step.else_)}))
            elif isinstance(step, Notify) and step.channel != "email":
                out.append(step.model_copy(update={"to": HIDDEN}))
            elif isinstance(step, Webhook):
                out.append(step.model_copy(update={"url": HIDDEN}))
            else:
                out.append(step)
        return out

    return definition.model_copy(update={"steps": mask(definition.steps)})


# --- the diagram -------------------------------------------------------------------------------------------------


@dataclass
class Node:
    kind: str  # trigger | when | action | if
    label: str
    detail: str = ""
    then: list[Node] = field(default_factory=list)
    else_: list[Node] = field(default_factory=list)


def _describe_action(action: Any) -> str:
    data = action.model_dump(mode="json", exclude_none=True, exclude={"action"})
    parts = []
    for key, value in data.items():
        if key in ("to", "url"):
            value = "(destination set)"  # a webhook URL is a secret: not on the diagram
        if isinstance(value, dict):
            value = ", ".join(f"{k} = {v}" for k, v in value.items())
        parts.append(f"{key}: {value}")
    return "; ".join(parts)[:300]


def _nodes(steps: list[Step]) -> list[Node]:
    out = []
    for step in steps:
        if isinstance(step, Branch):
            out.append(Node("if", "IF " + conditions.describe(step.if_), "", _nodes(step.then), _nodes(step.else_)))
        else:
            out.append(Node("action", step.action.replace("_", " "), _describe_action(step)))
    return out


def diagram(definition: Definition) -> list[Node]:
    t = definition.trigger
    event = {
        "field_changed": f"{t.field} changes",
        "schedule": f"every {t.every_minutes} min",
    }.get(t.event, t.event)
    nodes = [Node("trigger", f"WHEN {t.role} {t.object} {event}")]
    if definition.when is not None:
        nodes.append(Node("when", "ONLY IF " + conditions.describe(definition.when)))
    return nodes + _nodes(definition.steps)


# --- dry run -------------------------------------------------------------------------------------------------------


class NoConnection(Exception):
    pass


def dry_run(c: Console, definition: Definition, record_id: str) -> Run:
    """Fetch the record live through the console's connections and run the definition without writing."""
    from ledgerlink.alerts.channels import allow_private_destinations
    from ledgerlink.connections.build import build_accounting, build_crm
    from ledgerlink.engine.runtime import FlowSettings
    from ledgerlink.flows.defined.ports import DepsPorts
    from ledgerlink.flows.deps import Deps

    crm_name, books_name = c.connections.first_in_role("crm"), c.connections.first_in_role("accounting")
    if not crm_name or not books_name:
        raise NoConnection("a dry run reads through a CRM and an accounting connection: add them under Connections")
    crm = build_crm(c.connections.spec(crm_name))
    books = build_accounting(c.connections.spec(books_name))
    try:
        found = reads.read(crm, definition, [record_id]).get(record_id)
        if found is None:
            raise NoConnection(f"{definition.trigger.object} {record_id} was not found")
        deps = Deps(ledger=c.ledger, crm=crm, books=books, settings=FlowSettings())
        obj = definition.trigger.object
        ports = DepsPorts(
            deps,
            f"defined.{definition.name}",
            obj,
            allow_private=allow_private_destinations(),
            lines_relation=reads.lines_relation(obj),
        )
        return run(definition, found, ports, dry_run=True)
    finally:
        crm.close()
        books.close()


RECENT = 8


def recent_records(c: Console, definition: Definition) -> list[dict[str, Any]]:
    """The trigger object's most recently changed records, to pick one for a dry run."""
    from ledgerlink.connections.build import build_crm

    crm_name = c.connections.first_in_role("crm")
    if not crm_name:
        raise NoConnection("listing records reads through a CRM connection: add one under Connections")
    obj = definition.trigger.object  # validated: letters, digits and _ only
    crm = build_crm(c.connections.spec(crm_name))
    try:
        soql = f"SELECT Id, SystemModstamp FROM {obj} ORDER BY SystemModstamp DESC LIMIT {RECENT}"
        return [{"id": str(r["Id"]), "modified": str(r["SystemModstamp"])} for r in crm.query(soql)]
    finally:
        crm.close()
