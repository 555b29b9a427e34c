"""An invoiced deal changes: its invoice follows, by the project's policies (``FlowSettings``).

- A won deal's amount or lines change (``invoice_change_policy``): ``update_or_credit`` edits the invoice while
  nothing is paid on it and the books allow the edit, else credits the difference (an increase: an extra invoice for
  it); ``credit_difference`` always adjusts with credit notes and extra invoices; ``credit_and_reissue`` credits the
  whole invoice and makes a new one for the deal as it now stands (its number is written back to the deal).
- A deal moved out of Closed Won (``reopen_policy``): ``void_or_credit`` voids an unpaid invoice and credits a paid
  one in full; ``credit`` always credits it in full.
- A deal won again after its invoice was voided or credited (``rewon_policy``): ``new_invoice`` issues a new one
  for the deal as it now stands (written back, audited, once); ``fail`` leaves it to a person (a failed record).

What a change did in the books reaches Salesforce in the same run (``invoice_mirror``): the credit note as a negative
``Invoice__c``, the invoice's new balance and status, the deal's status; the history import later finds them as
written.

Trigger: Opportunities carrying an invoice number, changed since the watermark (``SystemModstamp``), a page a step;
one run per change, in the deal's invoicing shard (it never overlaps the deal's invoice run). A run compares the
deal with what was last billed for it (``_invoice_state``): nothing differs → nothing is written, which is also why
LedgerLink's own write-backs (a new status, a new number) cause no second change (no echo). Every write is audited;
each credit note and extra invoice carries a reference made of the deal and the fingerprint it was made for, so a
run repeated after a crash finds it in the books instead of making it twice.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from typing import Any, TypedDict

from dbos import DBOS, WorkflowHandle

from ledgerlink.engine.flows import ACCOUNTING, CRM, Flow, register
from ledgerlink.engine.retry import durable_step
from ledgerlink.engine.runtime import enqueue_record, shard_key, wait_for
from ledgerlink.flows import _invoice_documents as docs
from ledgerlink.flows import _invoice_state as state
from ledgerlink.flows import invoice_mirror, invoicing
from ledgerlink.flows import opportunity_to_invoice as o2i
from ledgerlink.flows._errors import FLOW_ERRORS, RecordRejected, describe
from ledgerlink.flows._ledger_steps import fail, resolve_failure, save_watermark
from ledgerlink.flows._probes import salesforce_changed
from ledgerlink.flows.deps import Deps, current_deps
from ledgerlink.model import Invoice
from ledgerlink.systems.errors import PermanentError
from ledgerlink.systems.invoice_life import LOCKED, invoice_life
from ledgerlink.systems.salesforce import soql as literal
from ledgerlink.systems.salesforce.incremental import Position, incremental_soql, soql_datetime, upper_bound

FLOW = "invoice_changes"
# Its own: the invoice-PDF trigger reads the same deals after "salesforce.Opportunity.invoiced", and with one
# watermark between them whichever read a changed deal first moved it on for both, so the other never saw the change.
# (A worker upgraded from a shared one reads every invoiced deal once, comparing each with what was billed.)
WATERMARK = "salesforce.Opportunity.invoice_changes"
PAGE = 200
FAILED_SCAN = 500  # open failed records of this flow the trigger looks through before it passes over a deal
CREDIT_NOTE_OBJECT = docs.CREDIT_NOTE_OBJECT
POLICIES = ("update_or_credit", "credit_difference", "credit_and_reissue")
REOPEN_POLICIES = ("void_or_credit", "credit")
REWON_POLICIES = ("new_invoice", "fail")


class Outcome(TypedDict, total=False):
    opportunity: str
    status: str  # unchanged | updated | credited | reissued | voided | reinvoiced | not_invoiced | failed
    invoice_number: str
    documents: list[str]
    previous: str  # reinvoiced: the invoice voided or credited before the deal was won again
    was: str  # reinvoiced: what had happened to it (voided | credited)
    salesforce: dict[str, int]  # what the same run wrote to Salesforce (Invoice__c, credit notes, the deal)
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


def _result(
    status: str, invoice: str, *, notes: Sequence[str] = (), invoices: Sequence[str] = (), deal_status: bool = False
) -> dict[str, Any]:
    """The step's result: the outcome, and what the Salesforce side must now show (``invoice_mirror``)."""
    documents = [*notes, *invoices]
    out: dict[str, Any] = {"status": status, "invoice_number": invoice}
    if documents:
        out["documents"] = documents
    out["mirror"] = {"invoices": [invoice, *invoices], "credit_notes": list(notes), "deal_status": deal_status}
    return out


def _reopened(deps: Deps, deal: str, name: str, billed: state.Billed, run_id: str) -> dict[str, Any]:
    books, settings = deps.books, deps.settings
    if billed.status != state.OPEN:
        return {"status": "unchanged", "invoice_number": billed.invoice}
    if settings.reopen_policy not in REOPEN_POLICIES:
        raise RecordRejected(f"reopen_policy must be one of {', '.join(REOPEN_POLICIES)}", field="reopen_policy")
    if settings.reopen_policy == "void_or_credit" and invoice_life(books).void_invoice(billed.invoice):
        billed.status = state.VOIDED
        docs.audit(
            deps, run_id, deal, books.invoice_object, billed.invoice, "voided", {"policy": settings.reopen_policy}
        )
        state.save(deps.ledger, books.name, deal, billed)
        docs.write_deal(deps, deal, {o2i.INVOICE_STATUS_FIELD: "Voided"}, run_id)
        return {"status": "voided", "invoice_number": billed.invoice, "mirror": {"voided": [billed.invoice]}}
    reference = f"{deal}:reopened:{billed.fingerprint[:12]}" + (f":{billed.rewon}" if billed.rewon else "")
    note = docs.credit(deps, deal, billed.invoice, docs.whole_credit(name, billed), reference, "deal reopened", run_id)
    billed.status, billed.documents = state.CREDITED, [*billed.documents, note]
    state.save(deps.ledger, books.name, deal, billed)
    docs.write_deal(deps, deal, {o2i.INVOICE_STATUS_FIELD: "Credited"}, run_id)
    return _result("credited", billed.invoice, notes=[note])


def _rewon(deps: Deps, deal: str, record: dict[str, Any], billed: state.Billed, run_id: str) -> dict[str, Any]:
    """Won again after its invoice was voided or credited: ``rewon_policy`` "new_invoice" issues one for the deal
    as it now stands (its reference counts the times re-won, so a replay finds it and a later re-win makes its
    own); "fail" leaves the decision to a person (a failed record, replayed once decided)."""
    books, policy = deps.books, deps.settings.rewon_policy
    if policy not in REWON_POLICIES:
        raise RecordRejected(f"rewon_policy must be one of {', '.join(REWON_POLICIES)}", field="rewon_policy")
    if policy == "fail":
        raise RecordRejected(
            f"was won again after its invoice {billed.invoice} was {billed.status}: replay it once decided",
            field="StageName",
        )
    wanted = _mapped(deps, record)
    print_ = state.fingerprint(wanted.lines)
    count = billed.rewon + 1
    account = str(record.get("AccountId") or "")
    customer = (
        deps.ledger.lookup("salesforce", "Account", account, books.name, books.customer_object) if account else None
    ) or docs.customer_of(deps, wanted.model_copy(update={"number": billed.invoice}))
    reference = f"{deal}:rewon{count}:{print_[:12]}"
    number = docs.new_invoice(deps, deal, wanted, wanted.lines, reference, run_id, customer)
    was = billed.status
    state.save(
        deps.ledger,
        books.name,
        deal,
        state.Billed(number, print_, state.nets_by_rate(wanted.lines), state.OPEN, [*billed.documents, number], count),
    )
    docs.write_deal(deps, deal, {o2i.INVOICE_NUMBER_FIELD: number, o2i.INVOICE_STATUS_FIELD: "Unpaid"}, run_id)
    return {**_result("reinvoiced", number), "documents": [number], "previous": billed.invoice, "was": was}


@durable_step
def apply_change(deps: Deps, deal: str, record: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Bring the books in line with the deal, once; returns the outcome's status, invoice and documents made, and
    what the Salesforce side must now show."""
    books = deps.books
    life = invoice_life(books)
    number = deps.ledger.lookup("salesforce", "Opportunity", deal, books.name, books.invoice_object)
    if number is None:
        return {"status": "not_invoiced"}
    billed = state.load(deps.ledger, books.name, deal) or _baseline(deps, number)
    settings = deps.settings
    name = str(record.get("Name") or deal)

    if not record.get("IsWon"):
        return _reopened(deps, deal, name, billed, run_id)
    if billed.status != state.OPEN:
        return _rewon(deps, deal, record, billed, run_id)
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
            detail = {"net": str(wanted.lines_net)}
            docs.audit(deps, run_id, deal, books.invoice_object, billed.invoice, "updated", detail)
            state.save(deps.ledger, books.name, deal, state.Billed(billed.invoice, print_, nets, rewon=billed.rewon))
            return _result("updated", billed.invoice, deal_status=True)

    base = wanted.model_copy(update={"number": billed.invoice})
    customer = docs.customer_of(deps, base)
    if policy == "credit_and_reissue":
        note = docs.credit(
            deps,
            deal,
            billed.invoice,
            docs.whole_credit(name, billed),
            f"{deal}:reissue:{print_[:12]}",
            "deal changed: reissued",
            run_id,
        )
        new_number = docs.new_invoice(deps, deal, base, wanted.lines, f"{deal}:{print_[:12]}", run_id, customer)
        # The ledger's link stays with the first invoice (links never move); the state names the one standing now.
        documents = [*billed.documents, note, new_number]
        state.save(
            deps.ledger, books.name, deal, state.Billed(new_number, print_, nets, state.OPEN, documents, billed.rewon)
        )
        docs.write_deal(deps, deal, {o2i.INVOICE_NUMBER_FIELD: new_number, o2i.INVOICE_STATUS_FIELD: "Unpaid"}, run_id)
        out = _result("reissued", new_number, notes=[note])
        out["documents"] = [note, new_number]
        out["mirror"]["invoices"].append(billed.invoice)  # the credited one's balance changed too
        return out

    credits, extras = docs.difference_lines(name, billed.nets, nets)
    notes: list[str] = []
    invoices: list[str] = []
    if credits:
        reference = f"{deal}:cn:{print_[:12]}"
        notes.append(docs.credit(deps, deal, billed.invoice, credits, reference, "deal amount lowered", run_id))
    if extras:
        invoices.append(docs.new_invoice(deps, deal, base, extras, f"{deal}:add:{print_[:12]}", run_id, customer))
    documents = [*billed.documents, *notes, *invoices]
    state.save(
        deps.ledger,
        books.name,
        deal,
        state.Billed(billed.invoice, print_, nets, state.OPEN, documents, billed.rewon),
    )
    status = "credited" if credits else "updated"
    return _result(status, billed.invoice, notes=notes, invoices=invoices, deal_status=True)


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
        wanted = result.pop("mirror", None)
        if wanted:  # the same run shows it in Salesforce (a checkpointed step of its own: a crash resumes here)
            result["salesforce"] = invoice_mirror.mirror(deps, opportunity_id, wanted, run_id)
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


def already_billed(deps: Deps, records: list[dict[str, Any]]) -> set[str]:
    """The deals of a page whose run would find nothing to do: won, invoiced, their billed state open and its lines
    as the deal's now, no failed record of this flow open. Their Opportunity moved only by what does not change the
    invoice (most often LedgerLink's own write-back of the number, a payment or a file), so the trigger starts no
    run for them: at a run per written-back invoice that was a quarter of a worker's CPU (benchmarks/README.md)."""
    books = deps.books
    ids = [str(r["Id"]) for r in records if r.get("IsWon")]
    if not ids:
        return set()
    numbers = deps.ledger.lookup_many("salesforce", "Opportunity", ids, books.name, books.invoice_object)
    billed = state.load_many(deps.ledger, books.name, [deal for deal in ids if deal in numbers])
    failed = deps.ledger.failed_records(flow=FLOW, limit=FAILED_SCAN + 1)
    if len(failed) > FAILED_SCAN:
        return set()  # too many open failures to tell: every deal gets its run
    open_failures = {row.source_id for row in failed}
    same: set[str] = set()
    for record in records:
        deal = str(record["Id"])
        known = billed.get(deal)
        if known is None or known.status != state.OPEN or deal in open_failures:
            continue  # a deal not won has no state loaded here: its run voids or credits the invoice
        try:
            if state.fingerprint(_mapped(deps, record).lines) == known.fingerprint:
                same.add(deal)
        except Exception:  # the run reports what is wrong with the deal, naming the field
            continue
    return same


@durable_step
def read_changed_page(deps: Deps, lag_seconds: float) -> dict[str, Any]:
    """The next page of invoiced deals changed after the watermark (with what their invoice is made from), less
    those already billed as they now are (``already_billed``)."""
    since = Position.decode(deps.ledger.get_watermark(WATERMARK))
    soql = incremental_soql("Opportunity", o2i.OPPORTUNITY_COLUMNS, invoicing.INVOICED, since, upper_bound(lag_seconds))
    page = list(deps.crm.query(f"{soql} LIMIT {PAGE}"))
    position = Position(soql_datetime(page[-1]["SystemModstamp"]), page[-1]["Id"]).encode() if page else None
    same = already_billed(deps, page)
    changes = [(r["Id"], r["SystemModstamp"]) for r in page if r["Id"] not in same]
    return {"changes": changes, "position": position, "read": len(page)}


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
        if page.get("read", len(page["changes"])) < PAGE:  # a page recorded before "read" counted only changes
            deps.ledger.trigger_checked(WATERMARK)  # read to the end: alive, changes or none (stalled alerts)
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
        probe=lambda lag: salesforce_changed(current_deps(), "Opportunity", WATERMARK, invoicing.INVOICED, lag),
        enabled=lambda settings: settings.invoice_changes,
    )
)
