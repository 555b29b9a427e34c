"""The books' invoices → ``Invoice__c`` (with its ``Invoice_Line__c`` lines and one ``Payment__c`` per payment), linked
to the Account: every invoice, also those LedgerLink didn't make. ``ledgerlink sync invoices --full`` imports from
the first; without ``--full``, from where the last import stopped.

A page of invoices is one durable step: read the page from the books (each invoice whole: lines, payments, credits),
then upsert the page to Salesforce on external ids in sObject Collections calls (200 records a call): invoices on
``External_Id__c`` = ``<system>:<number>``, lines on ``<system>:<number>:<line>``, payments on the books' payment
reference (the key ``payment_sync`` uses, so a payment is one ``Payment__c`` whichever flow saw it first), credit
notes as ``Invoice__c`` records of status ``Credit note`` with negative totals (one object for every document the
customer sees, as a ledger would list them). Upserts make a page run again harmless. The cursor moves on only after
the page is written. Each invoice is linked in the ledger to its ``Invoice__c``, each payment to its ``Payment__c``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from dbos import DBOS, WorkflowHandle

from ledgerlink.engine.flows import ACCOUNTING, Flow, register
from ledgerlink.engine.retry import durable_step
from ledgerlink.engine.runtime import CRM
from ledgerlink.flows import _invoice_state as state
from ledgerlink.flows._invoice_accounts import salesforce_accounts, unmatched
from ledgerlink.flows._ledger_steps import save_watermark
from ledgerlink.flows.deps import Deps, current_deps
from ledgerlink.flows.invoice_records import CREDIT_NOTE_STATUS, Links, invoice_key, write_invoices

__all__ = ["CREDIT_NOTE_STATUS", "FLOW", "WATERMARK", "import_invoices", "invoice_key"]
from ledgerlink.flows.sync.common import transform_context
from ledgerlink.systems.invoice_life import invoice_life

FLOW = "invoices"
WATERMARK = "accounting.Invoice.imported"
PAGE = 200
# A worker imports what is new this often (payments reach imported invoices sooner, through payment_sync).
IMPORT_EVERY_SECONDS = 900.0


@durable_step
def import_page(deps: Deps, cursor: str | None) -> dict[str, Any]:
    """One page of the books' invoices upserted to Salesforce; returns the next cursor and what was written."""
    books = deps.books
    run_id = DBOS.workflow_id
    items, next_cursor, more = invoice_life(books).invoices_page(cursor, PAGE, transform_context(deps))
    counts: Counter[str] = Counter()
    if not items:
        return {"cursor": next_cursor, "more": False, "counts": dict(counts)}
    customers = [i.customer_id for i in items]
    accounts, matched = salesforce_accounts(deps, customers, run_id=run_id, flow=FLOW)
    counts.update(matched)
    numbers = [i.invoice.number or "" for i in items]
    deals = deps.ledger.lookup_many(books.name, books.invoice_object, numbers, "salesforce", "Opportunity")
    # A credit note or an extra invoice made for a deal: the deal the invoice-change flow noted for it. Noted after
    # any link of the same number (books that give a deleted invoice's number again), so it wins.
    deals.update(state.deals_of(deps.ledger, books.name, numbers))
    counts.update(write_invoices(deps, items, Links(accounts, deals), flow=FLOW, run_id=run_id))
    counts = +counts  # drop the zeros
    if set(counts) <= {"unchanged"}:  # nothing written: a rerun leaves no trace either
        return {"cursor": next_cursor, "more": more, "counts": dict(counts)}
    detail: dict[str, Any] = dict(counts)
    if counts["without_account"]:
        detail["customers_without_account"] = unmatched(customers, accounts)[:50]
    deps.ledger.audit(
        flow=FLOW,
        system="salesforce",
        obj="Invoice__c",
        action="imported",
        run_id=run_id,
        source_id=f"page:{cursor or 1}",
        detail=detail,
    )
    return {"cursor": next_cursor, "more": more, "counts": dict(counts)}


@DBOS.workflow(name="import_invoices")
def import_invoices(lag_seconds: float = 0.0) -> dict[str, Any]:
    """Every page after the saved cursor, one step each; the cursor is saved after each page is written."""
    del lag_seconds
    deps = current_deps()
    totals: Counter[str] = Counter()
    cursor = deps.ledger.get_watermark(WATERMARK) or None
    while True:
        page = import_page(deps, cursor)
        totals.update(page["counts"])
        if page["cursor"]:
            save_watermark(deps, WATERMARK, page["cursor"])
            cursor = page["cursor"]
        if not page["more"]:
            deps.ledger.trigger_checked(WATERMARK)  # read to the end: alive, changes or none (stalled alerts)
            return {"status": "imported", **totals, "counts": dict(totals)}


def poll(*, lag_seconds: float | None = None) -> list[WorkflowHandle[dict[str, Any]]]:
    del lag_seconds
    if not current_deps().settings.invoice_history:
        return []
    return [DBOS.start_workflow(import_invoices)]


def replay(_source_id: str) -> WorkflowHandle[dict[str, Any]]:
    return DBOS.start_workflow(import_invoices)


register(
    Flow(
        name=FLOW,
        description="The books' invoices, credit notes and payments → Invoice__c, lines and Payment__c on the Account",
        source=(ACCOUNTING, "Invoice"),
        watermark=WATERMARK,
        replay=replay,
        poll=poll,
        trigger=import_invoices,
        period_seconds=IMPORT_EVERY_SECONDS,
        writes_to=CRM,
        enabled=lambda settings: settings.invoice_history,
    )
)
