"""An invoiced deal changes: its invoice follows, by the project's policies (``FlowSettings``).

- A won deal's amount or lines change (``invoice_change_policy``): ``update_or_credit`` edits the invoice while
  nothing is paid on it and the books allow the edit, else credits the difference (an increase: an extra invoice for
  it); ``credit_difference`` always adjusts with credit notes and extra invoices; ``credit_and_reissue`` credits the
  whole invoice and makes a new one for the deal as it now stands (its number is written back to the deal).
- A deal moved out of Closed Won (``reopen_policy``): ``void_or_credit`` voids an unpaid invoice and credits a paid
  one in full; ``credit`` always credits it in full.

Trigger: Opportunities carrying an invoice number, changed since the watermark (``SystemModstamp``), a page a step;
one run per change, in the deal's invoicing shard (it never overlaps the deal's invoice run). A run compares the
deal with what was last billed for it (``_invoice_state``): nothing differs → nothing is written, which is also why
LedgerLink's own write-backs (a new status, a new number) cause no second change (no echo). Every write is audited;
each credit note and extra invoice carries a reference made of the deal and the fingerprint it was made for, so a
run repeated after a crash finds it in the books instead of making it twice.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from decimal import Decimal
from typing import Any, TypedDict

from dbos import DBOS, WorkflowHandle

from ledgerlink.engine.flows import ACCOUNTING, CRM, Flow, register
from ledgerlink.engine.retry import durable_step
from ledgerlink.engine.runtime import enqueue_record, shard_key, wait_for
from ledgerlink.flows import _invoice_state as state
from ledgerlink.flows import invoicing, refunds
from ledgerlink.flows import opportunity_to_invoice as o2i
from ledgerlink.flows._errors import FLOW_ERRORS, RecordRejected, describe
from ledgerlink.flows._ledger_steps import fail, resolve_failure, save_watermark
from ledgerlink.flows.deps import Deps, current_deps
from ledgerlink.model import CreditNote, Invoice, InvoiceLine
from ledgerlink.systems.errors import PermanentError
from ledgerlink.systems.invoice_life import LOCKED, invoice_life
from ledgerlink.systems.salesforce import soql as literal
from ledgerlink.systems.salesforce.incremental import Position, incremental_soql, soql_datetime, upper_bound

FLOW = "invoice_changes"
WATERMARK = "salesforce.Opportunity.invoiced"
PAGE = 200
CREDIT_NOTE_OBJECT = "CreditNote"  # the ledger's name for a credit note in the books, whichever system keeps them
POLICIES = ("update_or_credit", "credit_difference", "credit_and_reissue")
REOPEN_POLICIES = ("void_or_credit", "credit")


class Outcome(TypedDict, total=False):
    opportunity: str
    status: str  # unchanged | updated | credited | reissued | voided | not_invoiced | failed
    invoice_number: str
    documents: list[str]
    error: str
    field: str | None


# --- reading -------------------------------------------------------------------------------------------------


@durable_step
def read_deal(deps: Deps, opportunity_id: str) -> dict[str, Any] | None:
    rows = list(deps.crm.query(o2i.OPPORTUNITY_SOQL.format(id=literal.record_id(opportunity_id))))
    return rows[0] if rows else None


def _mapped(deps: Deps, record: dict[str, Any]) -> Invoice:
    values = invoicing.mapping(o2i.SOURCE.template).apply(record, invoicing.ctx(deps)).values
    return Invoice.model_validate(values)


def _baseline(deps: Deps, number: str) -> state.Billed:
    """What was billed, as the books show it, for a deal invoiced before this flow kept state."""
    invoice = deps.books.get_invoice(number)
    if invoice is None:
        raise RecordRejected(f"invoice {number} is no longer in the books", field=o2i.INVOICE_NUMBER_FIELD)
    return state.Billed(number, state.fingerprint(invoice.lines), state.nets_by_rate(invoice.lines))


# --- writing -------------------------------------------------------------------------------------------------


def _audit(deps: Deps, run_id: str, deal: str, obj: str, record_id: str, action: str, detail: dict[str, Any]) -> None:
    deps.ledger.audit(
        flow=FLOW,
        system=deps.books.name,
        obj=obj,
        record_id=record_id,
        action=action,
        run_id=run_id,
        source_id=deal,
        detail=detail,
    )


def _credit(
    deps: Deps, deal: str, invoice_number: str, lines: list[InvoiceLine], reference: str, reason: str, run_id: str
) -> str:
    books = deps.books
    invoice = books.get_invoice(invoice_number)
    if invoice is None:
        raise RecordRejected(f"invoice {invoice_number} is no longer in the books", field=o2i.INVOICE_NUMBER_FIELD)
    note = CreditNote(
        customer_code=invoice.customer_code,
        invoice_number=invoice_number,
        issue_date=dt.datetime.now(dt.UTC).date(),
        currency=invoice.currency,
        lines=lines,
        reference=reference,
        reason=reason,
    )
    made = invoice_life(books).create_credit_note(note, invoice.customer_code, invoicing.ctx(deps))
    deps.ledger.link((books.name, CREDIT_NOTE_OBJECT, made.number), ("salesforce", "Opportunity", deal))
    _audit(
        deps,
        run_id,
        deal,
        CREDIT_NOTE_OBJECT,
        made.number,
        "created" if made.created else "matched",
        {"invoice": invoice_number, "reason": reason, "net": str(sum((li.net for li in lines), Decimal(0)))},
    )
    # A paid invoice's credit is owed back: refunded by policy (flows/refunds; the default keeps it as credit).
    refunds.refund_credit(
        deps,
        deal,
        invoice_number,
        made.number,
        run_id,
        note_created=made.created,
        currency=invoice.currency,
        opportunity=deal,
    )
    return made.number


def _extra_invoice(deps: Deps, deal: str, base: Invoice, lines: list[InvoiceLine], reference: str, run_id: str) -> str:
    books = deps.books
    customer = books.get_invoice(base.number or "")
    customer_id = customer.customer_code if customer else base.customer_code
    invoice = base.model_copy(
        update={"lines": lines, "reference": reference, "number": None, "customer_code": customer_id}
    )
    made = books.create_invoice(invoice, customer_id, invoicing.ctx(deps))
    _audit(
        deps,
        run_id,
        deal,
        books.invoice_object,
        made.number,
        "created" if made.created else "matched",
        {"reference": reference, "net": str(invoice.lines_net)},
    )
    return made.number


def _difference_lines(
    deal_name: str, before: dict[str, str], after: dict[str, str]
) -> tuple[list[InvoiceLine], list[InvoiceLine]]:
    """(credit lines, extra invoice lines): the net change at each tax rate."""
    credits: list[InvoiceLine] = []
    extras: list[InvoiceLine] = []
    for rate in sorted(set(before) | set(after)):
        change = Decimal(after.get(rate, "0")) - Decimal(before.get(rate, "0"))
        if change == 0:
            continue
        line = InvoiceLine(
            description=f"Change to {deal_name}"[:2000],
            quantity=Decimal(1),
            unit_price=abs(change),
            tax_rate=Decimal(rate),
        )
        (extras if change > 0 else credits).append(line)
    return credits, extras


def _whole_credit(name: str, billed: state.Billed) -> list[InvoiceLine]:
    """Credit lines for everything the invoice billed: one per tax rate, for its net."""
    return [
        InvoiceLine(
            description=f"Credit for {name}"[:2000],
            quantity=Decimal(1),
            unit_price=Decimal(net),
            tax_rate=Decimal(rate),
        )
        for rate, net in billed.nets.items()
        if Decimal(net) > 0
    ]


def _write_deal(deps: Deps, deal: str, fields: dict[str, Any], run_id: str) -> None:
    deps.crm.update("Opportunity", deal, fields)
    deps.ledger.audit(
        flow=FLOW,
        system="salesforce",
        obj="Opportunity",
        record_id=deal,
        action="updated",
        run_id=run_id,
        source_id=deal,
        detail=fields,
    )


@durable_step
def apply_change(deps: Deps, deal: str, record: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Bring the books in line with the deal, once; returns the outcome's status, invoice and documents made."""
    books = deps.books
    life = invoice_life(books)
    number = deps.ledger.lookup("salesforce", "Opportunity", deal, books.name, books.invoice_object)
    if number is None:
        return {"status": "not_invoiced"}
    billed = state.load(deps.ledger, books.name, deal) or _baseline(deps, number)
    settings = deps.settings
    name = str(record.get("Name") or deal)

    if not record.get("IsWon"):
        if billed.status != state.OPEN:
            return {"status": "unchanged", "invoice_number": billed.invoice}
        if settings.reopen_policy not in REOPEN_POLICIES:
            raise RecordRejected(f"reopen_policy must be one of {', '.join(REOPEN_POLICIES)}", field="reopen_policy")
        if settings.reopen_policy == "void_or_credit" and life.void_invoice(billed.invoice):
            billed.status = state.VOIDED
            _audit(
                deps, run_id, deal, books.invoice_object, billed.invoice, "voided", {"policy": settings.reopen_policy}
            )
            state.save(deps.ledger, books.name, deal, billed)
            _write_deal(deps, deal, {o2i.INVOICE_STATUS_FIELD: "Voided"}, run_id)
            return {"status": "voided", "invoice_number": billed.invoice}
        note = _credit(
            deps,
            deal,
            billed.invoice,
            _whole_credit(name, billed),
            f"{deal}:reopened:{billed.fingerprint[:12]}",
            "deal reopened",
            run_id,
        )
        billed.status, billed.documents = state.CREDITED, [*billed.documents, note]
        state.save(deps.ledger, books.name, deal, billed)
        _write_deal(deps, deal, {o2i.INVOICE_STATUS_FIELD: "Credited"}, run_id)
        return {"status": "credited", "invoice_number": billed.invoice, "documents": [note]}

    if billed.status != state.OPEN:
        # Won again after its invoice was voided or credited: a new invoice is a decision for a person.
        raise RecordRejected(
            f"was won again after its invoice {billed.invoice} was {billed.status}: replay it once decided",
            field="StageName",
        )
    wanted = _mapped(deps, record)
    print_ = state.fingerprint(wanted.lines)
    if print_ == billed.fingerprint:
        state.save(deps.ledger, books.name, deal, billed)  # a baseline read from the books is kept
        return {"status": "unchanged", "invoice_number": billed.invoice}
    nets = state.nets_by_rate(wanted.lines)
    policy = settings.invoice_change_policy
    if policy not in POLICIES:
        raise RecordRejected(
            f"invoice_change_policy must be one of {', '.join(POLICIES)}", field="invoice_change_policy"
        )

    if policy == "update_or_credit" and not billed.documents:
        try:
            life.update_invoice(billed.invoice, wanted, invoicing.ctx(deps))
        except PermanentError as exc:
            if exc.code != LOCKED:
                raise
        else:
            _audit(deps, run_id, deal, books.invoice_object, billed.invoice, "updated", {"net": str(wanted.lines_net)})
            state.save(deps.ledger, books.name, deal, state.Billed(billed.invoice, print_, nets))
            return {"status": "updated", "invoice_number": billed.invoice}

    base = wanted.model_copy(update={"number": billed.invoice})
    if policy == "credit_and_reissue":
        note = _credit(
            deps,
            deal,
            billed.invoice,
            _whole_credit(name, billed),
            f"{deal}:reissue:{print_[:12]}",
            "deal changed: reissued",
            run_id,
        )
        new_number = _extra_invoice(deps, deal, base, wanted.lines, f"{deal}:{print_[:12]}", run_id)
        # The ledger's link stays with the first invoice (links never move); the state names the one standing now.
        state.save(
            deps.ledger, books.name, deal, state.Billed(new_number, print_, nets, state.OPEN, [*billed.documents, note])
        )
        _write_deal(deps, deal, {o2i.INVOICE_NUMBER_FIELD: new_number, o2i.INVOICE_STATUS_FIELD: "Unpaid"}, run_id)
        return {"status": "reissued", "invoice_number": new_number, "documents": [note, new_number]}

    credits, extras = _difference_lines(name, billed.nets, nets)
    made: list[str] = []
    if credits:
        made.append(
            _credit(deps, deal, billed.invoice, credits, f"{deal}:cn:{print_[:12]}", "deal amount lowered", run_id)
        )
    if extras:
        made.append(_extra_invoice(deps, deal, base, extras, f"{deal}:add:{print_[:12]}", run_id))
    state.save(
        deps.ledger,
        books.name,
        deal,
        state.Billed(billed.invoice, print_, nets, state.OPEN, [*billed.documents, *made]),
    )
    return {"status": "credited" if credits else "updated", "invoice_number": billed.invoice, "documents": made}


# --- the workflow --------------------------------------------------------------------------------------------


@DBOS.workflow(name=FLOW)
def invoice_changes(opportunity_id: str) -> Outcome:
    run_id = DBOS.workflow_id or ""
    deps = current_deps()
    record: dict[str, Any] = {"Id": opportunity_id}
    try:
        found = read_deal(deps, opportunity_id)
        if found is None:
            raise RecordRejected("is no longer in Salesforce", field="Id")
        record = found
        result = apply_change(deps, opportunity_id, record, run_id)
        resolve_failure(deps, FLOW, opportunity_id)
        return {"opportunity": opportunity_id, **result}  # type: ignore[typeddict-item]
    except FLOW_ERRORS as exc:
        message, field, attempts = describe(exc, record=f"Opportunity {opportunity_id}")
        fail(deps, FLOW, ("salesforce", "Opportunity", opportunity_id), message, field, attempts, record)
        return {"opportunity": opportunity_id, "status": "failed", "error": message, "field": field}


def workflow_id(opportunity_id: str, version: str) -> str:
    return f"{FLOW}:{opportunity_id}:{version}"


def enqueue(opportunity_id: str, version: str) -> WorkflowHandle[Outcome]:
    # The deal's invoicing shard on the books' queue: never at once with the deal's invoice run.
    return enqueue_record(
        invoice_changes,
        opportunity_id,
        workflow_id=workflow_id(opportunity_id, version),
        record_key=shard_key(o2i.FLOW, opportunity_id),
        connection=ACCOUNTING,
    )


def replay(opportunity_id: str) -> WorkflowHandle[Outcome]:
    return enqueue(opportunity_id, f"replay-{uuid.uuid4().hex[:12]}")


# --- the trigger ---------------------------------------------------------------------------------------------


@durable_step
def read_changed_page(deps: Deps, lag_seconds: float) -> dict[str, Any]:
    since = Position.decode(deps.ledger.get_watermark(WATERMARK))
    where = f"{o2i.INVOICE_NUMBER_FIELD} != null"
    soql = incremental_soql("Opportunity", [], where, since, upper_bound(lag_seconds))
    page = list(deps.crm.query(f"{soql} LIMIT {PAGE}"))
    position = Position(soql_datetime(page[-1]["SystemModstamp"]), page[-1]["Id"]).encode() if page else None
    return {"changes": [(r["Id"], r["SystemModstamp"]) for r in page], "position": position}


@DBOS.workflow(name="poll_invoiced_deals")
def poll_invoiced_deals(lag_seconds: float = 0.0) -> list[str]:
    deps = current_deps()
    started: list[str] = []
    save = functools.partial(save_watermark, deps, WATERMARK)
    while True:
        page = read_changed_page(deps, lag_seconds)
        for deal, version in page["changes"]:
            started.append(enqueue(deal, version).get_workflow_id())
        if page["position"]:
            save(page["position"])
        if len(page["changes"]) < PAGE:
            return started


def poll(*, lag_seconds: float | None = None) -> list[WorkflowHandle[Outcome]]:
    if not current_deps().settings.invoice_changes:
        return []
    ids = wait_for(DBOS.start_workflow(poll_invoiced_deals, lag_seconds or 0.0))
    return [DBOS.retrieve_workflow(workflow_id) for workflow_id in ids]


register(
    Flow(
        name=FLOW,
        description="Invoiced deal changed or reopened → invoice updated, credited, reissued or voided, by policy",
        source=(CRM, "Opportunity"),
        watermark=WATERMARK,
        replay=replay,
        poll=poll,
        trigger=poll_invoiced_deals,
        enabled=lambda settings: settings.invoice_changes,
    )
)
