"""Refusing, at publish time, a definition whose actions would trigger itself (directly, or through other
published definitions), with the cycle named: ``invoice_fee → invoice_fee`` or ``a → b → a``."""

from __future__ import annotations

from dataclasses import dataclass

from ledgerlink.flows.defined.model import (
    CloseCase,
    CreateInvoice,
    CreateRecord,
    Definition,
    OpenCase,
    Trigger,
    UpdateRecord,
    walk_actions,
)

CASE = "Case"
INVOICE = "Invoice"  # the accounting side's invoice, as a trigger on role "accounting" names it


@dataclass(frozen=True)
class Write:
    role: str
    object: str
    kind: str  # "create" | "update"
    fields: frozenset[str]
    where: str  # the action's place, e.g. steps[1].then[0]


def writes_of(definition: Definition) -> list[Write]:
    found: list[Write] = []
    for where, action in walk_actions(definition.steps):
        if isinstance(action, UpdateRecord):
            obj = action.object or definition.trigger.object
            found.append(Write(action.role, obj, "update", frozenset(action.set), where))
        elif isinstance(action, CreateRecord):
            found.append(Write(action.role, action.object, "create", frozenset(action.set), where))
        elif isinstance(action, OpenCase):
            found.append(Write("crm", CASE, "create", frozenset({"Subject", "Description", "Status"}), where))
        elif isinstance(action, CloseCase):
            found.append(Write("crm", CASE, "update", frozenset({"Status"}), where))
        elif isinstance(action, CreateInvoice):
            found.append(Write("accounting", INVOICE, "create", frozenset(), where))
    return found


def fires(trigger: Trigger, write: Write) -> bool:
    if trigger.role != write.role or trigger.object.lower() != write.object.lower():
        return False
    if trigger.event == "schedule":
        return False
    if trigger.event == "created":
        return write.kind == "create"
    if trigger.event == "updated":
        return True
    watched = (trigger.field or "").lower()
    return write.kind == "create" or watched in {f.lower() for f in write.fields}


def find_cycle(candidate: Definition, published: list[Definition]) -> list[str] | None:
    """The names along a cycle through ``candidate`` (first and last the same), or None."""
    others = {d.name: d for d in published if d.name != candidate.name}
    graph = {candidate.name: candidate, **others}

    def next_of(name: str) -> list[str]:
        writes = writes_of(graph[name])
        return [other for other, d in graph.items() if any(fires(d.trigger, w) for w in writes)]

    # Depth-first from the candidate, back to it: the definitions are few (a page of them), the search small.
    stack: list[tuple[str, list[str]]] = [(candidate.name, [candidate.name])]
    seen: set[str] = set()
    while stack:
        name, path = stack.pop()
        for following in next_of(name):
            if following == candidate.name:
                return [*path, candidate.name]
            if following not in seen:
                seen.add(following)
                stack.append((following, [*path, following]))
    return None


def cycle_message(candidate: Definition, cycle: list[str]) -> str:
    own = [w for w in writes_of(candidate) if fires(candidate.trigger, w)]
    if len(cycle) == 2 and own:
        w = own[0]
        return (
            f"{candidate.name} would trigger itself: the action at {w.where} writes {w.role} {w.object}"
            f" ({', '.join(sorted(w.fields)) or 'a new record'}), which is its own trigger"
            f" ({candidate.trigger.object} {candidate.trigger.event}); cycle: {' → '.join(cycle)}"
        )
    return f"{candidate.name} would trigger itself through other flows; cycle: {' → '.join(cycle)}"
