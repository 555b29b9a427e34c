"""Payments recorded in the books → the Opportunity's paid fields and one ``Payment__c`` per payment.

Trigger: the books' payments recorded since a watermark, a page per step; each payment becomes a child run with a
deterministic id, then the watermark moves on. A run: read the payment again from the books → find the Opportunity
the invoice was made from (ledger) → upsert ``Payment__c`` on ``External_Id__c`` (the books' payment id) →
bring ``Amount_Paid__c`` (the invoice's running total, as the books count it), ``Paid_Date__c`` (the latest
payment's date) and ``Invoice_Status__c`` up to date, writing only what differs. A second run writes nothing.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, TypedDict

from dbos import DBOS, WorkflowHandle

from ledgerlink.engine.flows import Flow, register
from ledgerlink.engine.retry import durable_step
from ledgerlink.engine.runtime import ACCOUNTING, CRM, enqueue_record, wait_for
from ledgerlink.flows._errors import FLOW_ERRORS, RecordRejected, describe
from ledgerlink.flows._ledger_steps import fail, resolve_failure, save_watermark
from ledgerlink.flows.deps import Deps, current_deps
from ledgerlink.flows.sync.common import transform_context
from ledgerlink.mapping import Mapping, TransformContext, load_mapping
from ledgerlink.model import Payment
from ledgerlink.systems.salesforce import soql as literal

FLOW = "payment_sync"
WATERMARK = "accounting.Payment.recorded"
PAGE = 200
PAYMENT_OBJECT = "Payment"  # the ledger's name for a payment in the books, whichever system keeps them
# Of what salesforce/opportunity_from_canonical maps, the fields this flow owns on the Opportunity.
OPPORTUNITY_FIELDS = ("Amount_Paid__c", "Paid_Date__c", "Invoice_Status__c")

_step = durable_step


class Outcome(TypedDict, total=False):
    payment: str  # "<invoice number>/<payment reference>"
    status: str  # synced | already_synced | failed
    opportunity: str
    payment_record: str
    opportunity_updated: bool
    error: str
    field: str | None


def _mapping(name: str) -> Mapping:
    # No cache here: the loader keeps compiled mappings by file and modification time, so an edit in the
    # console (or on disk) reaches the next record without a restart.
    return load_mapping(name)


def _ctx(
    deps: Deps,
) -> TransformContext:
    books = deps.books

    def lookup(system: str, obj: str, record_id: str, other: str) -> str | None:
        # An invoice is linked to the Opportunity it was made from; the template's lookup names no object.
        to_object = "Opportunity" if (system, obj, other) == (books.name, books.invoice_object, "salesforce") else None
        return deps.ledger.lookup(system, obj, record_id, other, to_object)

    # payment_from_canonical finds the Opportunity from the books' invoice.
    return transform_context(deps, source_system=books.name, lookup_xref=lookup)


def payment_key(invoice_number: str, reference: str) -> str:
    return f"{invoice_number}/{reference}"


def _split_key(key: str) -> tuple[str, str]:
    invoice_number, sep, reference = key.partition("/")
    if not sep or not invoice_number or not reference:
        raise RecordRejected(f"{key!r} is not <invoice number>/<payment reference>", field="reference")
    return invoice_number, reference


# --- steps ---------------------------------------------------------------------------------------------------


@_step
def read_payment(deps: Deps, invoice_number: str, reference: str) -> dict[str, Any] | None:
    """The payment as the books have it now (a replay runs on today's data, not on what the trigger saw)."""
    for payment in deps.books.payments(invoice_number, _ctx(deps)):
        if payment.reference == reference:
            return payment.model_dump(mode="json")
    return None


@_step
def find_opportunity(deps: Deps, invoice_number: str) -> str | None:
    books = deps.books
    return deps.ledger.lookup(books.name, books.invoice_object, invoice_number, "salesforce", "Opportunity")


@_step
def find_invoice_record(deps: Deps, invoice_number: str) -> str | None:
    """The invoice's ``Invoice__c`` (imported from the books by the ``invoices`` flow), if it has one."""
    books = deps.books
    return deps.ledger.lookup(books.name, books.invoice_object, invoice_number, "salesforce", "Invoice__c")


@_step
def ensure_payment_record(
    deps: Deps, payment_json: dict[str, Any], run_id: str, key: str, invoice_record: str | None = None
) -> dict[str, Any]:
    """The Payment__c for this payment: known to the ledger, else upserted on its external id (so a crash after
    the upsert and before the ledger write repeats the upsert harmlessly)."""
    reference = str(payment_json["reference"])
    known = deps.ledger.lookup(deps.books.name, PAYMENT_OBJECT, reference, "salesforce", "Payment__c")
    if known:
        return {"id": known, "created": False}
    fields = _mapping("salesforce/payment_from_canonical").apply(payment_json, _ctx(deps)).values
    if invoice_record:
        fields["Invoice__c"] = invoice_record
    external_id = str(fields.pop("External_Id__c"))
    record_id, created = deps.crm.upsert("Payment__c", "External_Id__c", external_id, fields)
    if not record_id:  # an upsert that updated answers without a body on some API versions
        found = list(
            deps.crm.query(f"SELECT Id FROM Payment__c WHERE External_Id__c = '{literal.escape(external_id)}'")
        )
        record_id = found[0]["Id"]
    deps.ledger.link((deps.books.name, PAYMENT_OBJECT, reference), ("salesforce", "Payment__c", record_id))
    deps.ledger.audit(
        flow=FLOW,
        system="salesforce",
        obj="Payment__c",
        record_id=record_id,
        action="created" if created else "matched",
        run_id=run_id,
        source_id=key,
        detail={"External_Id__c": external_id, "Opportunity__c": fields.get("Opportunity__c")},
    )
    return {"id": record_id, "created": created}


@_step
def paid_fields(deps: Deps, invoice_number: str, payment_json: dict[str, Any]) -> dict[str, Any]:
    """What the Opportunity should say now: the template's fields, with the books' running total and status."""
    books = deps.books
    invoice = books.get_invoice(invoice_number)
    if invoice is None:
        raise RecordRejected(f"invoice {invoice_number} is no longer in the books", field="invoice_number")
    payments = books.payments(invoice_number, _ctx(deps))
    # Paid date: the latest payment's, whichever payment this run is for (runs may finish in any order).
    latest = max(payments, key=lambda p: p.paid_on) if payments else Payment.model_validate(payment_json)
    mapped = _mapping("salesforce/opportunity_from_canonical").apply(latest.model_dump(mode="json"), _ctx(deps)).values
    fields = {name: mapped[name] for name in OPPORTUNITY_FIELDS if name in mapped}
    total = invoice.amount_paid if invoice.amount_paid is not None else sum((p.amount for p in payments), Decimal(0))
    fields["Amount_Paid__c"] = float(total)  # the mapping gives this payment's amount; the field is the total
    fields["Invoice_Status__c"] = invoice.status or fields.get("Invoice_Status__c")
    return fields


@_step
def update_opportunity(deps: Deps, opportunity_id: str, fields: dict[str, Any], run_id: str, key: str) -> bool:
    """Write only the fields that differ, so a rerun (or a sibling payment's run) writes nothing."""
    columns = ", ".join(fields)
    rows = list(
        deps.crm.query(f"SELECT Id, {columns} FROM Opportunity WHERE Id = '{literal.record_id(opportunity_id)}'")
    )
    if not rows:
        raise RecordRejected(f"Opportunity {opportunity_id} not found", field="Opportunity__c")
    changed = {name: value for name, value in fields.items() if not _same(rows[0].get(name), value)}
    if not changed:
        return False
    deps.crm.update("Opportunity", opportunity_id, changed)
    deps.ledger.audit(
        flow=FLOW,
        system="salesforce",
        obj="Opportunity",
        record_id=opportunity_id,
        action="updated",
        run_id=run_id,
        source_id=key,
        detail=changed,
    )
    return True


@_step
def update_invoice_record(deps: Deps, invoice_number: str, record_id: str, run_id: str, key: str) -> bool:
    """The imported Invoice__c's paid total, balance, status and paid date, as the books have them now; only what
    differs is written."""
    invoice = deps.books.get_invoice(invoice_number)
    if invoice is None or invoice.total_gross is None:
        raise RecordRejected(f"invoice {invoice_number} is no longer in the books", field="invoice_number")
    paid = invoice.amount_paid or Decimal(0)
    payments = deps.books.payments(invoice_number, _ctx(deps))
    rows = list(
        deps.crm.query(
            "SELECT Id, Amount_Paid__c, Balance__c, Status__c, Paid_Date__c FROM Invoice__c "
            f"WHERE Id = '{literal.record_id(record_id)}'"
        )
    )
    if not rows:
        raise RecordRejected(f"Invoice__c {record_id} not found", field="Invoice__c")
    # Credit notes against the invoice are counted by the next import (``invoices``), which reads them whole.
    balance = invoice.total_gross - paid
    wanted: dict[str, Any] = {
        "Amount_Paid__c": float(paid),
        "Balance__c": float(balance),
        "Status__c": invoice.status,
        "Paid_Date__c": max(p.paid_on for p in payments).isoformat() if payments and balance <= 0 else None,
    }
    changed = {name: value for name, value in wanted.items() if not _same(rows[0].get(name), value)}
    if not changed:
        return False
    deps.crm.update("Invoice__c", record_id, changed)
    deps.ledger.audit(
        flow=FLOW,
        system="salesforce",
        obj="Invoice__c",
        record_id=record_id,
        action="updated",
        run_id=run_id,
        source_id=key,
        detail=changed,
    )
    return True


def _same(current_value: Any, wanted: Any) -> bool:
    if isinstance(wanted, int | float | Decimal) and current_value is not None:
        return Decimal(str(current_value)) == Decimal(str(wanted))
    return current_value == wanted


# --- the workflow --------------------------------------------------------------------------------------------


@DBOS.workflow(name=FLOW)
def payment_sync(key: str) -> Outcome:
    run_id = DBOS.workflow_id or ""
    deps = current_deps()
    payment: dict[str, Any] = {}
    record = f"Payment {key}"
    try:
        invoice_number, reference = _split_key(key)
        record = f"Payment {reference} on invoice {invoice_number}"
        found = read_payment(deps, invoice_number, reference)
        if found is None:
            raise RecordRejected("is no longer in the books", field="reference")
        payment = found
        opportunity_id = find_opportunity(deps, invoice_number)
        invoice_record = find_invoice_record(deps, invoice_number)
        if opportunity_id is None and invoice_record is None:
            raise RecordRejected(
                f"invoice {invoice_number} was not made by LedgerLink from an Opportunity nor imported "
                "(ledgerlink sync invoices)",
                field="invoice_number",
            )
        made = ensure_payment_record(deps, payment, run_id, key, invoice_record)
        fields = paid_fields(deps, invoice_number, payment)
        updated = False
        if opportunity_id is not None:
            updated = update_opportunity(deps, opportunity_id, fields, run_id, key)
        if invoice_record is not None:
            updated = update_invoice_record(deps, invoice_number, invoice_record, run_id, key) or updated
        resolve_failure(deps, FLOW, key)
        return {
            "payment": key,
            "status": "synced" if made["created"] or updated else "already_synced",
            "opportunity": opportunity_id or "",
            "payment_record": made["id"],
            "opportunity_updated": updated,
        }
    except FLOW_ERRORS as exc:
        message, field, attempts = describe(exc, record=record)
        fail(deps, FLOW, (deps.books.name, PAYMENT_OBJECT, key), message, field, attempts, payment)
        return {"payment": key, "status": "failed", "error": message, "field": field}


def workflow_id(key: str, version: str) -> str:
    return f"{FLOW}:{key}:{version}"


def enqueue(key: str, version: str = "recorded") -> WorkflowHandle[Outcome]:
    # Keyed by the invoice: its payments are applied one at a time (the Opportunity carries their total).
    invoice = key.partition("/")[0]
    return enqueue_record(
        payment_sync, key, workflow_id=workflow_id(key, version), record_key=f"invoice:{invoice}", connection=CRM
    )


def replay(key: str) -> WorkflowHandle[Outcome]:
    return enqueue(key, f"replay-{uuid.uuid4().hex[:12]}")


# --- the trigger ---------------------------------------------------------------------------------------------


@_step
def read_payment_page(
    deps: Deps,
) -> dict[str, Any]:
    """The next page of payments recorded in the books after the watermark. Payments the ledger already links to
    a Payment__c are left out of ``keys`` (nothing to do) but still move the watermark on."""
    books = deps.books
    since = deps.ledger.get_watermark(WATERMARK) or None
    payments, watermark = books.payments_changed_since(since, PAGE, _ctx(deps))
    keys = [
        payment_key(p.invoice_number, p.reference)
        for p in payments
        if p.reference and not deps.ledger.lookup(books.name, PAYMENT_OBJECT, p.reference, "salesforce", "Payment__c")
    ]
    return {"keys": keys, "watermark": watermark if watermark != since else None, "seen": len(payments)}


@DBOS.workflow(name="poll_payments")
def poll_payments(lag_seconds: float = 0.0) -> list[str]:
    """Durable like the Opportunity poll: a page is enqueued before the watermark passes it. (``lag_seconds``:
    the trigger contract; the books' change stamps don't lag.)"""
    del lag_seconds
    deps = current_deps()
    started: list[str] = []
    while True:
        page = read_payment_page(deps)
        for key in page["keys"]:
            started.append(enqueue(key).get_workflow_id())
        if page["watermark"]:
            save_watermark(deps, WATERMARK, page["watermark"])
        if page["seen"] < PAGE:
            deps.ledger.trigger_checked(WATERMARK)  # read to the end: alive, changes or none (stalled alerts)
            return started


def anything_recorded(_lag_seconds: float) -> bool:
    """The trigger's probe: ``read_payment_page`` asked for one payment (or a watermark it would move on)."""
    deps = current_deps()
    since = deps.ledger.get_watermark(WATERMARK) or None
    payments, watermark = deps.books.payments_changed_since(since, 1, _ctx(deps))
    return bool(payments) or watermark != since


def poll(*, lag_seconds: float | None = None) -> list[WorkflowHandle[Outcome]]:
    """Run the trigger now; handles on the runs it started. ``lag_seconds`` is unused (the books' own stamps)."""
    if not current_deps().settings.payment_sync:
        return []
    ids = wait_for(DBOS.start_workflow(poll_payments))
    return [DBOS.retrieve_workflow(workflow_id) for workflow_id in ids]


register(
    Flow(
        name=FLOW,
        description="Payment recorded in the books → Opportunity paid fields + one Payment__c per payment",
        source=(ACCOUNTING, PAYMENT_OBJECT),
        watermark=WATERMARK,
        replay=replay,
        poll=poll,
        trigger=poll_payments,
        probe=anything_recorded,
        enabled=lambda settings: settings.payment_sync,
    )
)
