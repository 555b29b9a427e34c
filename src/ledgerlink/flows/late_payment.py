"""Late payment → a Case on the Account, once per invoice; closed when the invoice is paid.

Trigger: a scheduled check. One step asks the books for their unpaid invoices (the books say how late,
by their own clock) and Salesforce for LedgerLink's open Cases; then one run per invoice overdue by at least
``FlowSettings.late_payment_days`` that has no Case yet, and one per open Case whose invoice is no longer unpaid.

A Case is tracked in the ledger (linked to the Opportunity the invoice was made from, or, for an invoice imported
from the books without a deal, to its ``Invoice__c``) and carries a marker in its Subject,
``[ledgerlink <system> invoice <number>]``, by which a run finds a Case created just before a crash.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, TypedDict

from dbos import DBOS, SetWorkflowID, WorkflowHandle

from ledgerlink.engine.flows import Flow, register
from ledgerlink.engine.retry import durable_step, ledger_step
from ledgerlink.engine.runtime import ACCOUNTING, CRM, enqueue_record, wait_for
from ledgerlink.flows._errors import FLOW_ERRORS, RecordRejected, describe
from ledgerlink.flows._ledger_steps import fail, resolve_failure
from ledgerlink.flows.deps import Deps, current_deps
from ledgerlink.systems.salesforce import soql as literal

FLOW = "late_payment"
CLOSE_FLOW = "late_payment_close"
WATERMARK = "late_payment.checked"  # when the last check ran (the check reads everything each time)
MARKER_PREFIX = "[ledgerlink "

_step = durable_step


class Outcome(TypedDict, total=False):
    invoice_number: str
    case: str
    status: str  # opened | already_open | closed | already_closed | still_unpaid | failed
    error: str
    field: str | None


def marker(deps: Deps, number: str) -> str:
    return f"{MARKER_PREFIX}{deps.books.name} invoice {number}]"


def _opportunity_of(deps: Deps, number: str) -> str | None:
    books = deps.books
    return deps.ledger.lookup(books.name, books.invoice_object, number, "salesforce", "Opportunity")


def _case_of(deps: Deps, opportunity_id: str, sobject: str = "Opportunity") -> str | None:
    return deps.ledger.lookup("salesforce", sobject, opportunity_id, "salesforce", "Case")


def _invoice_record_of(deps: Deps, number: str) -> str | None:
    """The Invoice__c an invoice was imported as (``invoices`` flow), for invoices LedgerLink didn't make."""
    books = deps.books
    return deps.ledger.lookup(books.name, books.invoice_object, number, "salesforce", "Invoice__c")


def _source_of(deps: Deps, number: str) -> tuple[str, str] | None:
    """What the invoice's Case hangs on: its Opportunity, else its imported Invoice__c."""
    opportunity = _opportunity_of(deps, number)
    if opportunity:
        return "Opportunity", opportunity
    record = _invoice_record_of(deps, number)
    return ("Invoice__c", record) if record else None


def _without_case(deps: Deps, numbers: list[str]) -> set[str]:
    """Of these invoice numbers, those whose source (``_source_of``) has no Case yet; invoices Salesforce has never
    seen are left out. A few queries for all of them (a check reads every unpaid invoice), not two or three each."""
    books, ledger = deps.books, deps.ledger
    opportunities = ledger.lookup_many(books.name, books.invoice_object, numbers, "salesforce", "Opportunity")
    rest = [n for n in numbers if n not in opportunities]
    records = ledger.lookup_many(books.name, books.invoice_object, rest, "salesforce", "Invoice__c") if rest else {}
    without = set()
    for sobject, sources in (("Opportunity", opportunities), ("Invoice__c", records)):
        if sources:
            cases = ledger.lookup_many("salesforce", sobject, sources.values(), "salesforce", "Case")
            without |= {number for number, source in sources.items() if source not in cases}
    return without


def _number_of_case(deps: Deps, case_id: str) -> str | None:
    books = deps.books
    for sobject in ("Opportunity", "Invoice__c"):
        source = deps.ledger.lookup("salesforce", "Case", case_id, "salesforce", sobject)
        if source:
            return deps.ledger.lookup("salesforce", sobject, source, books.name, books.invoice_object)
    return None


# --- the check -----------------------------------------------------------------------------------------------


@_step
def find_work(deps: Deps, min_days: int) -> dict[str, Any]:
    """Invoices to open a Case for, and open Cases to look at because their invoice is no longer unpaid."""
    books = deps.books
    unpaid = books.unpaid_invoices()
    overdue = [due for due in unpaid if due.days_overdue >= min_days]
    without = _without_case(deps, [due.number for due in overdue])
    to_open = [{"number": due.number, "days": due.days_overdue} for due in overdue if due.number in without]
    owed = {due.number for due in unpaid}
    to_close = []
    query = (
        "SELECT Id, Subject FROM Case WHERE IsClosed = false AND Subject LIKE "
        f"'%{literal.escape_like(f'{MARKER_PREFIX}{books.name} invoice ')}%'"
    )
    for case in deps.crm.query(query):
        number = _number_of_case(deps, case["Id"])
        if number and number not in owed:
            to_close.append(case["Id"])
    return {"open": to_open, "close": to_close}


@ledger_step
def save_checked(deps: Deps, at: str) -> None:
    deps.ledger.set_watermark(WATERMARK, at)


@DBOS.workflow(name="check_late_payments")
def check_late_payments(lag_seconds: float = 0.0) -> list[str]:
    del lag_seconds  # the trigger contract; a check reads everything unpaid each time
    check_id = DBOS.workflow_id or uuid.uuid4().hex
    deps = current_deps()
    work = find_work(deps, deps.settings.late_payment_days)
    started = [enqueue_open(item["number"], item["days"]).get_workflow_id() for item in work["open"]]
    for case_id in work["close"]:
        handle = enqueue_record(
            late_payment_close,
            case_id,
            workflow_id=f"{CLOSE_FLOW}:{case_id}:{check_id}",
            record_key=f"case:{case_id}",
            connection=CRM,
        )
        started.append(handle.get_workflow_id())
    save_checked(deps, check_id)
    return started


def poll(*, lag_seconds: float | None = None) -> list[WorkflowHandle[Outcome]]:
    """Run the check now (a worker calls it on its schedule); handles on the runs it started."""
    if not current_deps().settings.late_payment:
        return []
    with SetWorkflowID(f"check_late_payments:{dt.datetime.now(dt.UTC).isoformat()}:{uuid.uuid4().hex[:8]}"):
        ids = wait_for(DBOS.start_workflow(check_late_payments))
    return [DBOS.retrieve_workflow(workflow_id) for workflow_id in ids]


# --- opening -------------------------------------------------------------------------------------------------


@_step
def read_late_invoice(deps: Deps, number: str) -> dict[str, Any]:
    source = _source_of(deps, number)
    if source is None:
        raise RecordRejected(
            f"invoice {number} was not made by LedgerLink from an Opportunity nor imported", field="invoice_number"
        )
    sobject, opportunity_id = source
    account_field = "AccountId" if sobject == "Opportunity" else "Account__c"
    soql = f"SELECT Id, Name, {account_field} FROM {sobject} WHERE Id = '{literal.record_id(opportunity_id)}'"
    rows = [{**r, "AccountId": r.get(account_field)} for r in deps.crm.query(soql)]
    if not rows:
        raise RecordRejected(f"{sobject} {opportunity_id} not found", field=sobject)
    if not rows[0].get("AccountId"):
        raise RecordRejected(f"{sobject} {opportunity_id} has no Account", field=account_field)
    invoice = deps.books.get_invoice(number)
    if invoice is None:
        raise RecordRejected(f"invoice {number} is no longer in the books", field="invoice_number")
    owed = (invoice.total_gross or 0) - (invoice.amount_paid or 0)
    return {
        "opportunity": opportunity_id,
        "source_object": sobject,
        "opportunity_name": rows[0].get("Name") or "",
        "account": rows[0]["AccountId"],
        "due_date": invoice.due_date.isoformat(),
        "owed": f"{invoice.currency} {owed:.2f}",
    }


@_step
def ensure_case(deps: Deps, number: str, days: int, late: dict[str, Any], run_id: str) -> dict[str, Any]:
    """The invoice's Case: from the ledger, else found by its marker, else created."""
    opportunity_id = late["opportunity"]
    sobject = late.get("source_object", "Opportunity")
    known = _case_of(deps, opportunity_id, sobject)
    if known:
        return {"id": known, "created": False}
    tag = marker(deps, number)
    found = list(deps.crm.query(f"SELECT Id FROM Case WHERE Subject LIKE '%{literal.escape_like(tag)}%'"))
    if found:
        case_id, created = str(found[0]["Id"]), False
    else:
        case_id = deps.crm.create(
            "Case",
            {
                "Subject": f"Invoice {number} is {days} days overdue {tag}",
                "Status": "New",
                "Priority": deps.settings.late_payment_case_priority,
                "AccountId": late["account"],
                "Description": (
                    f"Invoice {number} ({late['opportunity_name']}) was due on {late['due_date']}; "
                    f"{late['owed']} is unpaid. LedgerLink closes this case when the invoice is paid."
                ),
            },
        )
        created = True
    deps.ledger.link(("salesforce", sobject, opportunity_id), ("salesforce", "Case", case_id))
    deps.ledger.audit(
        flow=FLOW,
        system="salesforce",
        obj="Case",
        record_id=case_id,
        action="created" if created else "matched",
        run_id=run_id,
        source_id=number,
        detail={"invoice": number, "days_overdue": days, "account": late["account"]},
    )
    return {"id": case_id, "created": created}


@DBOS.workflow(name=FLOW)
def late_payment(number: str, days_overdue: int) -> Outcome:
    run_id = DBOS.workflow_id or ""
    deps = current_deps()
    try:
        late = read_late_invoice(deps, number)
        made = ensure_case(deps, number, days_overdue, late, run_id)
        resolve_failure(deps, FLOW, number)
        return {"invoice_number": number, "case": made["id"], "status": "opened" if made["created"] else "already_open"}
    except FLOW_ERRORS as exc:
        message, field, attempts = describe(exc, record=f"Invoice {number}")
        books = deps.books
        fail(deps, FLOW, (books.name, books.invoice_object, number), message, field, attempts)
        return {"invoice_number": number, "status": "failed", "error": message, "field": field}


def enqueue_open(number: str, days_overdue: int) -> WorkflowHandle[Outcome]:
    # One run per invoice and day of lateness: a second check the same day starts nothing.
    return _enqueue_open(number, days_overdue, str(days_overdue))


def _enqueue_open(number: str, days: int, version: str) -> WorkflowHandle[Outcome]:
    return enqueue_record(
        late_payment,
        number,
        days,
        workflow_id=f"{FLOW}:{number}:{version}",
        record_key=f"invoice:{number}",
        connection=CRM,  # with payment_sync: the same invoice's runs share a key and a queue
    )


def replay(number: str) -> WorkflowHandle[Outcome]:
    due = {d.number: d for d in current_deps().books.unpaid_invoices()}.get(number)
    days = due.days_overdue if due else 0
    return _enqueue_open(number, days, f"replay-{uuid.uuid4().hex[:12]}")


# --- closing -------------------------------------------------------------------------------------------------


@_step
def close_if_paid(deps: Deps, case_id: str, run_id: str) -> dict[str, Any]:
    books = deps.books
    number = _number_of_case(deps, case_id)
    if number is None:
        raise RecordRejected(f"Case {case_id} is not linked to a LedgerLink invoice", field="Subject")
    invoice = books.get_invoice(number)
    paid = invoice is not None and (
        invoice.status == "Paid" or (invoice.amount_paid or 0) >= (invoice.total_gross or 0) > 0
    )
    if not paid:
        return {"number": number, "status": "still_unpaid"}
    rows = list(deps.crm.query(f"SELECT Id, IsClosed FROM Case WHERE Id = '{case_id}'"))
    if not rows:
        raise RecordRejected(f"Case {case_id} not found", field="Id")
    if rows[0].get("IsClosed"):
        return {"number": number, "status": "already_closed"}
    deps.crm.update("Case", case_id, {"Status": "Closed"})
    deps.ledger.audit(
        flow=FLOW,
        system="salesforce",
        obj="Case",
        record_id=case_id,
        action="closed",
        run_id=run_id,
        source_id=number,
        detail={"invoice": number, "Status": "Closed"},
    )
    return {"number": number, "status": "closed"}


@DBOS.workflow(name=CLOSE_FLOW)
def late_payment_close(case_id: str) -> Outcome:
    run_id = DBOS.workflow_id or ""
    deps = current_deps()
    try:
        if not case_id.isalnum():
            raise RecordRejected(f"{case_id!r} is not a Salesforce id", field="Id")
        result = close_if_paid(deps, case_id, run_id)
        resolve_failure(deps, CLOSE_FLOW, case_id)
        return {"case": case_id, "invoice_number": result["number"], "status": result["status"]}
    except FLOW_ERRORS as exc:
        message, field, attempts = describe(exc, record=f"Case {case_id}")
        fail(deps, CLOSE_FLOW, ("salesforce", "Case", case_id), message, field, attempts)
        return {"case": case_id, "status": "failed", "error": message, "field": field}


register(
    Flow(
        name=FLOW,
        description="Invoice overdue by late_payment_days → a Case on the Account, once; closed when paid",
        source=(ACCOUNTING, "Invoice"),
        watermark=WATERMARK,
        replay=replay,
        poll=poll,
        trigger=check_late_payments,
        period_seconds=3600,
        enabled=lambda settings: settings.late_payment,
    )
)
