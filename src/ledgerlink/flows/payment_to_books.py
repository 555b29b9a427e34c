"""A payment recorded in Salesforce (a ``Payment__c`` with no books id) → the same payment in the books, once.

Trigger: the ``Payment__c`` records whose ``External_Id__c`` is empty (a page a step); each becomes a run with a
deterministic id. A run: read the record → find the books' invoice it pays (its Opportunity's, or its imported
``Invoice__c``'s, through the ledger) → record the payment in the books, keyed by the record's id (the books keep it
in the payment's note or memo, so a repeated call finds the first payment instead of paying twice) → link the two in
the ledger and write the books' payment id to ``External_Id__c``, which takes the record out of the trigger's view.
``payment_sync`` then finds the books' payment already linked to this record: it brings the Opportunity's paid
fields up to date and makes no second ``Payment__c`` (no echo).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, TypedDict

from dbos import DBOS, WorkflowHandle

from ledgerlink.engine.flows import ACCOUNTING, CRM, Flow, register
from ledgerlink.engine.retry import durable_step
from ledgerlink.engine.runtime import enqueue_record, wait_for
from ledgerlink.flows import _invoice_state as invoice_state
from ledgerlink.flows import payment_sync
from ledgerlink.flows._errors import FLOW_ERRORS, RecordRejected, describe
from ledgerlink.flows._ledger_steps import fail, resolve_failure
from ledgerlink.flows.deps import Deps, current_deps
from ledgerlink.flows.sync.common import transform_context
from ledgerlink.model import Payment
from ledgerlink.systems.salesforce import soql as literal

FLOW = "payment_to_books"
WATERMARK = "salesforce.Payment__c.unrecorded"  # the trigger keeps none: its filter is the record's own state
PAGE = 200
UNRECORDED = "External_Id__c = null"  # a Payment__c not yet in the books
PAYMENT_OBJECT = payment_sync.PAYMENT_OBJECT
SELECT = (
    "SELECT Id, Name, Opportunity__c, Invoice__c, Amount__c, Payment_Date__c, Method__c, External_Id__c, Type__c "
    "FROM Payment__c"
)
SOURCE_PREFIX = "salesforce:"  # the books' payment note says which Payment__c it came from


class Outcome(TypedDict, total=False):
    payment: str  # the Payment__c id
    status: str  # recorded | already_recorded | failed
    invoice_number: str
    books_payment: str
    error: str
    field: str | None


# --- steps ---------------------------------------------------------------------------------------------------


@durable_step
def read_record(deps: Deps, record_id: str) -> dict[str, Any] | None:
    rows = list(deps.crm.query(f"{SELECT} WHERE Id = '{literal.record_id(record_id)}'"))
    return rows[0] if rows else None


@durable_step
def find_invoice(deps: Deps, record: dict[str, Any]) -> str:
    """The books' invoice number the payment settles: its Opportunity's invoice, else its imported invoice's."""
    books = deps.books
    if record.get("Opportunity__c"):
        billed = invoice_state.load(deps.ledger, books.name, record["Opportunity__c"])
        if billed is not None and billed.status == invoice_state.OPEN:
            return billed.invoice  # the deal's invoice was reissued: the one standing now
        found = deps.ledger.lookup(
            "salesforce", "Opportunity", record["Opportunity__c"], books.name, books.invoice_object
        )
        if found:
            return found
    if record.get("Invoice__c"):
        found = deps.ledger.lookup("salesforce", "Invoice__c", record["Invoice__c"], books.name, books.invoice_object)
        if found:
            return found
    raise RecordRejected(
        "pays no invoice LedgerLink knows (its Opportunity__c or Invoice__c has no invoice in the books)",
        field="Opportunity__c",
    )


def _payment(record: dict[str, Any], invoice_number: str, currency: str) -> Payment:
    if record.get("Type__c") == "Refund":  # LedgerLink's refunds carry External_Id__c; this one a person typed
        raise RecordRejected(
            "is a refund: refunds reach the books from credit notes (refund_policy), record this one in the books",
            field="Type__c",
        )
    if record.get("Amount__c") in (None, ""):
        raise RecordRejected("has no amount", field="Amount__c")
    if Decimal(str(record["Amount__c"])) <= 0:
        raise RecordRejected("a payment's amount must be positive (a refund is a credit note's)", field="Amount__c")
    paid_on = record.get("Payment_Date__c") or dt.datetime.now(dt.UTC).date().isoformat()
    return Payment.model_validate(
        {
            "invoice_number": invoice_number,
            "amount": record["Amount__c"],
            "currency": currency,
            "paid_on": paid_on,
            "method": record.get("Method__c") or None,
            "reference": f"{SOURCE_PREFIX}{record['Id']}",
        }
    )


@durable_step
def record_in_books(deps: Deps, record: dict[str, Any], invoice_number: str, run_id: str) -> dict[str, Any]:
    """Pay the invoice in the books (found first by the note, so a retry pays nothing twice); returns the books'
    payment reference, as ``payment_sync`` names it."""
    books = deps.books
    ctx = transform_context(deps)
    payment = _payment(record, invoice_number, deps.settings.default_currency)
    books_id = books.record_payment(invoice_number, payment, ctx)
    reference = next(
        (
            p.reference
            for p in books.payments(invoice_number, ctx)
            if p.reference and p.reference.split(":")[-1] == books_id
        ),
        f"{books.name}:{books_id}",
    )
    deps.ledger.link((books.name, PAYMENT_OBJECT, reference), ("salesforce", "Payment__c", record["Id"]))
    deps.ledger.audit(
        flow=FLOW,
        system=books.name,
        obj=PAYMENT_OBJECT,
        record_id=reference,
        action="recorded",
        run_id=run_id,
        source_id=record["Id"],
        detail={"invoice": invoice_number, "amount": str(payment.amount), "paid_on": payment.paid_on.isoformat()},
    )
    return {"reference": reference}


@durable_step
def write_books_id(deps: Deps, record_id: str, reference: str, run_id: str) -> None:
    deps.crm.update("Payment__c", record_id, {"External_Id__c": reference})
    deps.ledger.audit(
        flow=FLOW,
        system="salesforce",
        obj="Payment__c",
        record_id=record_id,
        action="updated",
        run_id=run_id,
        source_id=record_id,
        detail={"External_Id__c": reference},
    )


# --- the workflow --------------------------------------------------------------------------------------------


@DBOS.workflow(name=FLOW)
def payment_to_books(record_id: str) -> Outcome:
    run_id = DBOS.workflow_id or ""
    deps = current_deps()
    record: dict[str, Any] = {"Id": record_id}
    try:
        found = read_record(deps, record_id)
        if found is None:
            raise RecordRejected("is no longer in Salesforce", field="Id")
        record = found
        known = deps.ledger.lookup("salesforce", "Payment__c", record_id, deps.books.name, PAYMENT_OBJECT)
        if record.get("External_Id__c") and known:
            return {"payment": record_id, "status": "already_recorded", "books_payment": known}
        if record.get("External_Id__c"):
            return {"payment": record_id, "status": "already_recorded", "books_payment": record["External_Id__c"]}
        invoice_number = find_invoice(deps, record)
        made = record_in_books(deps, record, invoice_number, run_id)
        write_books_id(deps, record_id, made["reference"], run_id)
        resolve_failure(deps, FLOW, record_id)
        # The Opportunity's paid fields follow (payment_sync finds the Payment__c linked: it makes none).
        payment_sync.enqueue(payment_sync.payment_key(invoice_number, made["reference"]), f"from-crm-{record_id}")
        return {
            "payment": record_id,
            "status": "recorded",
            "invoice_number": invoice_number,
            "books_payment": made["reference"],
        }
    except FLOW_ERRORS as exc:
        message, field, attempts = describe(exc, record=f"Payment__c {record.get('Name') or record_id}")
        fail(deps, FLOW, ("salesforce", "Payment__c", record_id), message, field, attempts, record)
        return {"payment": record_id, "status": "failed", "error": message, "field": field}


def workflow_id(record_id: str, version: str) -> str:
    return f"{FLOW}:{record_id}:{version}"


def enqueue(record_id: str, version: str = "new") -> WorkflowHandle[Outcome]:
    return enqueue_record(
        payment_to_books,
        record_id,
        workflow_id=workflow_id(record_id, version),
        record_key=f"{FLOW}:{record_id}",
        connection=ACCOUNTING,
    )


def replay(record_id: str) -> WorkflowHandle[Outcome]:
    return enqueue(record_id, f"replay-{uuid.uuid4().hex[:12]}")


# --- the trigger ---------------------------------------------------------------------------------------------


@durable_step
def read_unrecorded(deps: Deps, after_id: str) -> list[str]:
    """A page of Payment__c ids with no books id, after ``after_id`` (Id order)."""
    where = UNRECORDED + (f" AND Id > '{literal.record_id(after_id)}'" if after_id else "")
    return [row["Id"] for row in deps.crm.query(f"SELECT Id FROM Payment__c WHERE {where} ORDER BY Id LIMIT {PAGE}")]


@DBOS.workflow(name="poll_salesforce_payments")
def poll_salesforce_payments(lag_seconds: float = 0.0) -> list[str]:
    """Each unrecorded Payment__c gets one run per poll at most: the run id is the record's, so a record whose run
    is still going (or failed) is not started again by the next poll; a replay starts it afresh."""
    del lag_seconds
    deps = current_deps()
    started: list[str] = []
    after = ""
    while True:
        ids = read_unrecorded(deps, after)
        for record_id in ids:
            started.append(enqueue(record_id).get_workflow_id())
        if len(ids) < PAGE:
            # Read to the end: alive (stalled alerts). The trigger keeps no watermark, so this is all it leaves.
            deps.ledger.trigger_checked(WATERMARK)
            return started
        after = ids[-1]


def anything_unrecorded(_lag_seconds: float) -> bool:
    """The trigger's probe: a Payment__c with no books id (one that keeps failing keeps this true)."""
    rows = current_deps().crm.query(f"SELECT Id FROM Payment__c WHERE {UNRECORDED} LIMIT 1")
    return next(iter(rows), None) is not None


def poll(*, lag_seconds: float | None = None) -> list[WorkflowHandle[Outcome]]:
    del lag_seconds
    if not current_deps().settings.payment_to_books:
        return []
    ids = wait_for(DBOS.start_workflow(poll_salesforce_payments))
    return [DBOS.retrieve_workflow(workflow_id) for workflow_id in ids]


register(
    Flow(
        name=FLOW,
        description="Payment__c recorded in Salesforce → the payment in the books, once",
        source=(CRM, "Payment__c"),
        watermark=WATERMARK,
        replay=replay,
        poll=poll,
        trigger=poll_salesforce_payments,
        probe=anything_unrecorded,
        enabled=lambda settings: settings.payment_to_books,
    )
)
