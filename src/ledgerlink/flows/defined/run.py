"""Running a definition on one record: the conditions decide, the actions act through ``Ports``.

The same code runs a published flow (ports whose writes are durable, idempotent steps) and a dry run in the
builder (``dry_run=True``: every step's input and output are shown and nothing is written; the reads are real).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from ledgerlink.alerts.channels import Message
from ledgerlink.flows.defined import conditions
from ledgerlink.flows.defined.model import (
    AddLine,
    Branch,
    CloseCase,
    CreateInvoice,
    CreateRecord,
    Definition,
    MapInvoice,
    Notify,
    OpenCase,
    SplitBy,
    Step,
    UpdateRecord,
    Wait,
    Webhook,
)

MAX_SPLIT = 50  # invoices one record may split into
SPLIT_KEY = re.compile(r"[^A-Za-z0-9_-]+")


class Ports(Protocol):
    """What the actions need from the outside; every write is idempotent (keyed by the record and the step)."""

    def build_invoice(self, mapping: str, record: dict[str, Any]) -> dict[str, Any]: ...
    def lines_of(self, record: dict[str, Any]) -> list[dict[str, Any]]: ...
    def existing_invoice(self, reference: str) -> str | None: ...
    def create_invoice(self, record: dict[str, Any], draft: dict[str, Any]) -> dict[str, Any]: ...
    def update_record(self, role: str, obj: str, record_id: str, values: dict[str, str]) -> None: ...
    def create_record(
        self, role: str, obj: str, key: str, values: dict[str, str], key_field: str | None = None
    ) -> dict[str, Any]: ...
    def existing_record(self, role: str, obj: str, key: str) -> str | None: ...
    def notify(self, channel: str, to: str, message: Message) -> str: ...
    def webhook(self, url: str, payload: dict[str, Any]) -> str: ...
    def check_destination(self, url: str) -> str | None: ...  # None when allowed, else why not
    def wait(self, seconds: int) -> None: ...


class StepFailed(Exception):
    """An action that cannot go on for this record: the message names the step and the field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self), self.field))


@dataclass
class StepTrace:
    path: str
    action: str
    status: str  # done | would | skipped | failed | matched | not_matched
    input: Any = None
    output: Any = None


@dataclass
class Run:
    definition: Definition
    record: dict[str, Any]
    dry_run: bool
    steps: list[StepTrace] = field(default_factory=list)
    drafts: list[dict[str, Any]] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)  # what templates may insert: invoice_number, case_id
    status: str = "done"  # done | skipped | failed
    error: str | None = None
    error_field: str | None = None

    @property
    def record_id(self) -> str:
        return str(self.record.get("Id") or self.record.get("id") or self.record.get("number") or "")

    def trace(self) -> list[dict[str, Any]]:
        return [s.__dict__ for s in self.steps]


def run(definition: Definition, record: dict[str, Any], ports: Ports, *, dry_run: bool) -> Run:
    state = Run(definition, record, dry_run)
    if not conditions.holds(definition.when, record):
        state.status = "skipped"
        state.steps.append(StepTrace("when", "condition", "not_matched", conditions.describe(definition.when)))
        return state
    if definition.when is not None:
        state.steps.append(StepTrace("when", "condition", "matched", conditions.describe(definition.when)))
    try:
        _steps(state, definition.steps, "steps", ports)
    except StepFailed as exc:
        state.status, state.error, state.error_field = "failed", str(exc), exc.field
    return state


def _steps(state: Run, steps: list[Step], path: str, ports: Ports) -> None:
    for index, step in enumerate(steps):
        here = f"{path}[{index}]"
        if isinstance(step, Branch):
            taken = conditions.holds(step.if_, state.record)
            state.steps.append(
                StepTrace(here, "if", "matched" if taken else "not_matched", conditions.describe(step.if_))
            )
            _steps(state, step.then if taken else step.else_, f"{here}.{'then' if taken else 'else'}", ports)
            continue
        try:
            _act(state, step, here, ports)
        except StepFailed as exc:
            state.steps.append(StepTrace(here, step.action, "failed", output=str(exc)))
            raise StepFailed(f"{here} ({step.action}): {exc}", exc.field) from None


def _act(state: Run, action: Any, here: str, ports: Ports) -> None:
    handler = _HANDLERS[type(action)]
    trace = StepTrace(here, action.action, "would" if state.dry_run else "done")
    state.steps.append(trace)
    handler(state, action, trace, ports)


def _record_id(state: Run) -> str:
    if not state.record_id:
        raise StepFailed("the record has no Id", "Id")
    return state.record_id


# --- invoice drafts --------------------------------------------------------------------------------------------


def _map_invoice(state: Run, action: MapInvoice, trace: StepTrace, ports: Ports) -> None:
    invoice = ports.build_invoice(action.mapping, state.record)
    sources = ports.lines_of(state.record)
    lines = invoice.get("lines") or []
    if len(sources) != len(lines):
        sources = [{} for _ in lines]  # the mapping dropped or added lines: splitting by a line field can't follow
    invoice["reference"] = _record_id(state)
    state.drafts = [{"key": "", "invoice": invoice, "sources": sources, "rules": []}]
    trace.status = "done"  # building a draft writes nothing, dry run or not
    trace.input = {"mapping": action.mapping}
    trace.output = {"lines": len(lines), "total_net": _net(lines), "reference": invoice["reference"]}


def _need_drafts(state: Run) -> None:
    if not state.drafts:
        raise StepFailed("no invoice to work on: put a map_invoice step first")


def _net(lines: list[dict[str, Any]]) -> str:
    total = sum((Decimal(str(li["quantity"])) * Decimal(str(li["unit_price"])) for li in lines), Decimal("0"))
    return str(total.quantize(Decimal("0.01")))


def _rule_line(rule: AddLine, lines: list[dict[str, Any]]) -> dict[str, Any]:
    base = Decimal(_net(lines))
    amount = rule.amount if rule.amount is not None else base * (rule.percent or Decimal("0")) / Decimal("100")
    tax = rule.tax_rate if rule.tax_rate is not None else Decimal(str(lines[0].get("tax_rate", "0"))) if lines else 0
    return {
        "description": rule.description,
        "quantity": "1",
        "unit_price": str(Decimal(amount).quantize(Decimal("0.01"))),
        "tax_rate": str(tax),
    }


def _add_line(state: Run, action: AddLine, trace: StepTrace, ports: Ports) -> None:
    _need_drafts(state)
    added = []
    for draft in state.drafts:
        source_lines = draft["invoice"]["lines"][: len(draft["sources"])]
        line = _rule_line(action, source_lines)
        draft["invoice"]["lines"].append(line)
        draft["rules"].append(action)
        added.append({"invoice": draft["invoice"]["reference"], **line})
    trace.status = "done"
    trace.input = action.model_dump(mode="json", exclude_none=True)
    trace.output = {"added": added}


def _split_by(state: Run, action: SplitBy, trace: StepTrace, ports: Ports) -> None:
    _need_drafts(state)
    parts: list[dict[str, Any]] = []
    for draft in state.drafts:
        groups: dict[str, list[int]] = {}
        for i, source in enumerate(draft["sources"]):
            value = conditions.get_path(source, action.line_field)
            groups.setdefault("" if value in (None, "") else str(value), []).append(i)
        if len(groups) > MAX_SPLIT:
            raise StepFailed(
                f"{len(groups)} values of {action.line_field}: at most {MAX_SPLIT} invoices", action.line_field
            )
        for value, indexes in groups.items():
            invoice = {**draft["invoice"], "lines": [draft["invoice"]["lines"][i] for i in indexes]}
            key = SPLIT_KEY.sub("_", value)[:20] or "none"
            invoice["reference"] = f"{draft['invoice']['reference']}-{key}"[:100]
            sources = [draft["sources"][i] for i in indexes]
            for rule in draft["rules"]:  # rules apply to each part on its own (a fee on this part's lines)
                invoice["lines"].append(_rule_line(rule, invoice["lines"][: len(sources)]))
            parts.append({"key": value, "invoice": invoice, "sources": sources, "rules": list(draft["rules"])})
    state.drafts = parts
    trace.status = "done"
    trace.input = {"line_field": action.line_field}
    trace.output = {
        "invoices": [
            {
                "reference": p["invoice"]["reference"],
                action.line_field: p["key"] or None,
                "lines": len(p["invoice"]["lines"]),
            }
            for p in parts
        ]
    }


def _create_invoice(state: Run, action: CreateInvoice, trace: StepTrace, ports: Ports) -> None:
    _need_drafts(state)
    trace.input = {"invoices": [d["invoice"] for d in state.drafts]}
    made = []
    for draft in state.drafts:
        reference = draft["invoice"]["reference"]
        if state.dry_run:
            existing = ports.existing_invoice(reference)
            made.append(
                {"reference": reference, "would": "exists already" if existing else "create", "number": existing}
            )
        else:
            made.append({"reference": reference, **ports.create_invoice(state.record, draft["invoice"])})
    numbers = [m.get("number") for m in made if m.get("number")]
    state.results["invoice_number"] = ", ".join(str(n) for n in numbers)
    trace.output = {"invoices": made}


# --- records, cases ---------------------------------------------------------------------------------------------


def _values(state: Run, template: dict[str, str]) -> dict[str, str]:
    return {name: conditions.render(text, state.record, state.results) for name, text in template.items()}


def _update_record(state: Run, action: UpdateRecord, trace: StepTrace, ports: Ports) -> None:
    obj = action.object or state.definition.trigger.object
    values = _values(state, action.set)
    target = str(conditions.get_path(state.record, action.record) or "") if action.record else _record_id(state)
    if not target:
        raise StepFailed(f"the record's {action.record} is empty: no {obj} to update", action.record)
    trace.input = {"role": action.role, "object": obj, "id": target, "set": values}
    if not state.dry_run:
        ports.update_record(action.role, obj, target, values)
    trace.output = {"updated" if not state.dry_run else "would update": f"{obj} {target}"}


def _key(state: Run, here: str) -> str:
    return f"{state.definition.name}:{here}:{_record_id(state)}"[:128]


def _create_record(state: Run, action: CreateRecord, trace: StepTrace, ports: Ports) -> None:
    values = _values(state, action.set)
    key = _key(state, trace.path)
    trace.input = {"role": action.role, "object": action.object, "set": values}
    if state.dry_run:
        trace.output = {"existing": ports.existing_record(action.role, action.object, key)}
        return
    trace.output = ports.create_record(action.role, action.object, key, values, action.key_field)


def _case_key(state: Run, opened_by: str | None = None) -> str:
    return f"{opened_by or state.definition.name}:case:{_record_id(state)}"[:128]


def _open_case(state: Run, action: OpenCase, trace: StepTrace, ports: Ports) -> None:
    values = {
        "Subject": conditions.render(action.subject, state.record, state.results)[:255],
        "Description": conditions.render(action.description, state.record, state.results),
        "Status": "New",
    }
    if account := conditions.get_path(state.record, "AccountId"):
        values["AccountId"] = str(account)
    trace.input = values
    if state.dry_run:
        trace.output = {"existing": ports.existing_record("crm", "Case", _case_key(state))}
        return
    made = ports.create_record("crm", "Case", _case_key(state), values)
    state.results["case_id"] = made.get("id")
    trace.output = made


def _close_case(state: Run, action: CloseCase, trace: StepTrace, ports: Ports) -> None:
    case = ports.existing_record("crm", "Case", _case_key(state, action.opened_by))
    trace.input = {"case": case, "Status": action.status}
    if case is None:
        trace.status, trace.output = "skipped", "no Case was opened for this record by this flow"
        return
    if not state.dry_run:
        ports.update_record("crm", "Case", case, {"Status": action.status})
    trace.output = {"case": case, "Status": action.status}


# --- outside ----------------------------------------------------------------------------------------------------


def _notify(state: Run, action: Notify, trace: StepTrace, ports: Ports) -> None:
    message = Message(
        title=conditions.render(action.title, state.record, state.results),
        text=conditions.render(action.message, state.record, state.results),
    )
    trace.input = {"channel": action.channel, "title": message.title, "text": message.text}
    if action.channel != "email" and (refused := ports.check_destination(action.to)):
        raise StepFailed(f"the {action.channel} webhook is refused: {refused}", "to")
    if state.dry_run:
        trace.output = "would send"
        return
    outcome = ports.notify(action.channel, action.to, message)
    trace.output = outcome
    if outcome != "sent":
        raise StepFailed(f"{action.channel} notification not sent: {outcome}", "to")


def _webhook(state: Run, action: Webhook, trace: StepTrace, ports: Ports) -> None:
    payload = {name: conditions.render(text, state.record, state.results) for name, text in action.body.items()}
    payload.setdefault("flow", state.definition.name)
    payload.setdefault("record", _record_id(state))
    trace.input = payload
    if refused := ports.check_destination(action.url):
        raise StepFailed(f"the webhook URL is refused: {refused}", "url")
    if state.dry_run:
        trace.output = "would send"
        return
    outcome = ports.webhook(action.url, payload)
    trace.output = outcome
    if outcome != "sent":
        raise StepFailed(f"webhook not delivered: {outcome}", "url")


def _wait(state: Run, action: Wait, trace: StepTrace, ports: Ports) -> None:
    trace.input = {"seconds": action.seconds}
    if not state.dry_run:
        ports.wait(action.seconds)
    trace.output = "waited" if not state.dry_run else f"would wait {action.seconds} s"


_HANDLERS: dict[type, Any] = {
    MapInvoice: _map_invoice,
    AddLine: _add_line,
    SplitBy: _split_by,
    CreateInvoice: _create_invoice,
    UpdateRecord: _update_record,
    CreateRecord: _create_record,
    OpenCase: _open_case,
    CloseCase: _close_case,
    Notify: _notify,
    Webhook: _webhook,
    Wait: _wait,
}
