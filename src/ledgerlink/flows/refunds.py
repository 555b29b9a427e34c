"""Refunds: money paid back to a customer out of a credit note, recorded in the books by policy and mapped into
Salesforce.

- By policy (``refund_policy``): a flow that has just credited an invoice (``invoice_changes``) calls
  ``refund_credit``. With ``keep_credit`` (the default) nothing happens: what the credit note could not take off the
  invoice (a paid invoice) stays with the customer as credit, for a person to refund or use. With ``refund``,
  LedgerLink pays that credit back: a refund in the books for what the credit note still owes back, its reference
  (``<source>:refund:<credit note>``) kept by the books in the refund's note or memo.
- Idempotent: a credit note made in this run can have no refund yet; one found (a repeated run) has its refunds
  looked through for the reference first, and a refund is only ever for what the books still owe back. The
  Salesforce record is upserted on the refund's key and linked in the ledger, so a run repeated writes nothing more.
- Into Salesforce (``systems/salesforce/refunds``): the refund is a ``Payment__c`` of type ``Refund`` with a negative
  amount; the history import (``invoice_history``) brings refunds made in the books by people with ``import_refunds``
  on the same key. Refunds carry their key in ``External_Id__c``, which keeps them out of ``payment_to_books``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

from ledgerlink.flows._errors import RecordRejected
from ledgerlink.flows.deps import Deps
from ledgerlink.flows.sync.common import transform_context
from ledgerlink.model import Refund, SystemRef
from ledgerlink.systems.invoice_life import BooksInvoice
from ledgerlink.systems.refunds import refund_books, refund_key
from ledgerlink.systems.salesforce import refunds as sf_refunds

FLOW = "refunds"  # the audit log's name for refund writes, whichever flow made them
REFUND_OBJECT = "Refund"  # the ledger's name for a refund in the books, whichever system keeps them
POLICIES = ("keep_credit", "refund")


def policy(deps: Deps) -> str:
    value = deps.settings.refund_policy
    if value not in POLICIES:
        raise RecordRejected(f"refund_policy must be one of {', '.join(POLICIES)}", field="refund_policy")
    return value


def refund_credit(
    deps: Deps,
    source_id: str,
    invoice_number: str,
    note_number: str,
    run_id: str,
    *,
    note_created: bool,
    currency: str,
    opportunity: str | None = None,
) -> str | None:
    """After credit note ``note_number`` on ``invoice_number``: by policy, refund what it leaves the customer in
    credit, in the books and in Salesforce; returns the refund's key, or None when nothing is refunded."""
    if policy(deps) == "keep_credit":
        return None
    books = deps.books
    try:
        refunder = refund_books(books)
    except NotImplementedError as exc:
        raise RecordRejected(f'{exc}: set refund_policy = "keep_credit"', field="refund_policy") from exc
    reference = f"{source_id}:refund:{note_number}"
    found = None if note_created else next((r for r in refunder.refunds(note_number) if r.reference == reference), None)
    if found is None:
        owed = refunder.refundable(note_number)
        if owed <= 0:
            return None  # the credit note was used on the invoice: nothing is owed back
        refund = Refund(
            credit_note_number=note_number,
            invoice_number=invoice_number,
            amount=owed,
            currency=currency,
            paid_on=dt.datetime.now(dt.UTC).date(),
            reference=reference,
        )
        made = refunder.record_refund(refund, transform_context(deps), look_first=False)
        ref = SystemRef(system=books.name, object=refunder.refund_object, id=made.number)
        found, action = refund.model_copy(update={"refs": [ref]}), "created" if made.created else "matched"
        key = refund_key(books.name, found)
        deps.ledger.audit(
            flow=FLOW,
            system=books.name,
            obj=REFUND_OBJECT,
            record_id=key,
            action=action,
            run_id=run_id,
            source_id=source_id,
            detail={"credit_note": note_number, "invoice": invoice_number, "amount": str(owed)},
        )
    key = refund_key(books.name, found)
    if deps.ledger.lookup(books.name, REFUND_OBJECT, key, "salesforce", sf_refunds.OBJECT) is None:
        invoice_record = deps.ledger.lookup(
            books.name, books.invoice_object, invoice_number, "salesforce", "Invoice__c"
        )
        record = sf_refunds.refund_record(key, found, invoice_record=invoice_record, opportunity=opportunity)
        [(record_id, created)] = sf_refunds.upsert_refunds(deps.crm, [record])
        deps.ledger.link((books.name, REFUND_OBJECT, key), ("salesforce", sf_refunds.OBJECT, record_id))
        deps.ledger.audit(
            flow=FLOW,
            system="salesforce",
            obj=sf_refunds.OBJECT,
            record_id=record_id,
            action="created" if created else "matched",
            run_id=run_id,
            source_id=source_id,
            detail={sf_refunds.KEY_FIELD: key, "amount": str(-found.amount)},
        )
    return key


def content(item: BooksInvoice) -> dict[str, Any]:
    """What of an imported invoice's refunds its import hash covers (nothing for an invoice without refunds, so the
    hashes of invoices imported before refunds were mapped do not change)."""
    return {"refunds": [r.model_dump(mode="json") for r in item.refunds]} if item.refunds else {}


def import_refunds(
    deps: Deps, items: list[tuple[BooksInvoice, str]], deals: dict[str, str], run_id: str | None
) -> Counter[str]:
    """The refunds on a page of imported invoices → ``Payment__c`` records of type Refund, linked to the invoice's
    ``Invoice__c`` (``items``: each invoice with its Invoice__c id) and to the deal of the invoice the credit note
    credits; each linked in the ledger. Upserts on the refund's key: made by LedgerLink or by a person, one record."""
    books = deps.books
    counts: Counter[str] = Counter()
    refunds = [(item, record_id, r) for item, record_id in items for r in item.refunds]
    if not refunds:
        return counts
    numbers = [r.invoice_number or item.invoice.number or "" for item, _i, r in refunds]
    more = deps.ledger.lookup_many(books.name, books.invoice_object, numbers, "salesforce", "Opportunity")
    keys = [refund_key(books.name, r) for _item, _i, r in refunds]
    records = [
        sf_refunds.refund_record(
            key, r, invoice_record=record_id, opportunity=more.get(number) or deals.get(item.invoice.number or "")
        )
        for (item, record_id, r), key, number in zip(refunds, keys, numbers, strict=True)
    ]
    results = sf_refunds.upsert_refunds(deps.crm, records)
    deps.ledger.link_all(
        [
            ((books.name, REFUND_OBJECT, key), ("salesforce", sf_refunds.OBJECT, record_id))
            for key, (record_id, _created) in zip(keys, results, strict=True)
        ]
    )
    counts["refunds"] = len(results)
    total = sum((r.amount for _item, _i, r in refunds), Decimal(0))
    deps.ledger.audit(
        flow=FLOW,
        system="salesforce",
        obj=sf_refunds.OBJECT,
        action="imported",
        run_id=run_id,
        source_id=f"refunds:{keys[0]}",
        detail={"refunds": len(results), "amount": str(-total)},
    )
    return counts
