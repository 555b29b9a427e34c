"""What an invoice change just did in the books, shown in Salesforce in the same durable run: the credit note as a
negative ``Invoice__c``, the credited (or updated, or reissued) invoice's ``Invoice__c`` with its new balance and
status, a voided invoice's ``Invoice__c`` marked void, and the deal's ``Invoice_Status__c`` as the books now say.

It writes through the history import's writer (``invoice_records``), with the same templates, the same external
ids and the same remembered content, so the import that comes later finds these records unchanged and writes
nothing, and a replay writes nothing twice. Off with the history import (``invoice_history``): no ``Invoice__c`` is
written where the project keeps none.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ledgerlink.engine.retry import durable_step
from ledgerlink.flows import _invoice_documents as docs
from ledgerlink.flows import opportunity_to_invoice as o2i
from ledgerlink.flows._invoice_accounts import salesforce_accounts
from ledgerlink.flows.deps import Deps
from ledgerlink.flows.invoice_records import Links, mark_voided, write_invoices
from ledgerlink.flows.sync.common import transform_context
from ledgerlink.systems.invoice_life import invoice_life
from ledgerlink.systems.salesforce import soql as literal


@durable_step
def mirror(deps: Deps, deal: str, wanted: dict[str, Any], run_id: str) -> dict[str, int]:
    """``wanted``: ``invoices`` (numbers whose books state changed), ``credit_notes`` (made for the deal),
    ``voided`` (numbers voided), ``deal_status`` (write the invoice's status to the deal). Returns what was written
    to Salesforce; a rerun returns nothing."""
    counts: Counter[str] = Counter()
    if not deps.settings.invoice_history:
        return {}
    books = deps.books
    life = invoice_life(books)
    ctx = transform_context(deps, source_system=books.name)
    numbers = list(dict.fromkeys(wanted.get("invoices", [])))
    notes = list(dict.fromkeys(wanted.get("credit_notes", [])))
    if life.credit_notes_are_invoices:  # such a credit note is one of the books' invoices, and imported as one
        numbers += [n for n in notes if n not in numbers]
    items = [item for n in numbers if (item := life.books_invoice(n, ctx)) is not None]
    if items:
        accounts, _matched = salesforce_accounts(deps, [i.customer_id for i in items], run_id=run_id, flow=docs.FLOW)
        written = write_invoices(
            deps, items, Links(accounts, dict.fromkeys(numbers, deal)), flow=docs.FLOW, run_id=run_id
        )
        counts.update(written)
        if life.credit_notes_are_invoices:
            counts["credit_notes"] = sum(1 for i in items if i.invoice.number in notes) if written["invoices"] else 0
    for number in wanted.get("voided", []):
        counts["voided"] += mark_voided(deps, number, flow=docs.FLOW, run_id=run_id, deal=deal)
    # A change that left the deal's invoice standing (credited in part, updated): the deal shows the books' own
    # status of it. Voids, full credits and reissues wrote theirs already.
    status = items[0].invoice.status if items and items[0].invoice.number == numbers[0] else None
    if wanted.get("deal_status") and status and _write_status(deps, deal, status, run_id):
        counts["opportunity"] += 1
    return {k: v for k, v in counts.items() if v}


def _write_status(deps: Deps, deal: str, status: str, run_id: str) -> bool:
    field = o2i.INVOICE_STATUS_FIELD
    rows = list(deps.crm.query(f"SELECT Id, {field} FROM Opportunity WHERE Id = '{literal.record_id(deal)}'"))
    if not rows or rows[0].get(field) == status:
        return False
    docs.write_deal(deps, deal, {field: status}, run_id)
    return True
