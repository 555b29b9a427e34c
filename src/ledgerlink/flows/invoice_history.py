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
from decimal import Decimal
from typing import Any

from dbos import DBOS, WorkflowHandle

from ledgerlink.engine.flows import ACCOUNTING, Flow, register
from ledgerlink.engine.retry import durable_step
from ledgerlink.engine.runtime import CRM
from ledgerlink.flows import refunds
from ledgerlink.flows._ledger_steps import save_watermark
from ledgerlink.flows.deps import Deps, current_deps
from ledgerlink.flows.payment_sync import PAYMENT_OBJECT
from ledgerlink.flows.sync.common import transform_context
from ledgerlink.store.ledger import content_hash
from ledgerlink.systems.errors import PermanentError
from ledgerlink.systems.invoice_life import BooksInvoice, invoice_life
from ledgerlink.systems.salesforce import soql as literal

FLOW = "invoices"
WATERMARK = "accounting.Invoice.imported"
PAGE = 200
CREDIT_NOTE_STATUS = "Credit note"
# A worker imports what is new this often (payments reach imported invoices sooner, through payment_sync).
IMPORT_EVERY_SECONDS = 900.0


def invoice_key(system: str, number: str) -> str:
    return f"{system}:{number}"


def _num(value: Decimal | None) -> float:
    return float(value or 0)


def salesforce_accounts(deps: Deps, customer_ids: list[str]) -> dict[str, str]:
    """Salesforce Account id by books customer id: the ledger's links, else the Account whose ExternalID__c is
    the customer's code."""
    books = deps.books
    found = deps.ledger.lookup_many(books.name, books.customer_object, customer_ids, "salesforce", "Account")
    missing = [c for c in dict.fromkeys(customer_ids) if c not in found]
    for start in range(0, len(missing), 200):
        chunk = ", ".join(f"'{literal.escape(c)}'" for c in missing[start : start + 200])
        for row in deps.crm.query(f"SELECT Id, ExternalID__c FROM Account WHERE ExternalID__c IN ({chunk})"):
            for code in missing:
                if str(row.get("ExternalID__c") or "").casefold() == code.casefold():
                    found[code] = row["Id"]
    return found


def invoice_fields(system: str, item: BooksInvoice, account: str | None, opportunity: str | None) -> dict[str, Any]:
    inv = item.invoice
    number = inv.number or ""
    paid_dates = [p.paid_on for p in item.payments]
    return {
        "Name": number,
        "External_Id__c": invoice_key(system, number),
        "Accounting_System__c": system,
        "Account__c": account,
        "Opportunity__c": opportunity,
        "Issue_Date__c": inv.issue_date.isoformat(),
        "Due_Date__c": inv.due_date.isoformat(),
        "Paid_Date__c": max(paid_dates).isoformat() if paid_dates and item.balance <= 0 else None,
        "Status__c": inv.status,
        "Currency_Code__c": inv.currency,
        "Net_Total__c": _num(inv.total_net),
        "Tax_Total__c": _num(inv.total_tax),
        "Total__c": _num(inv.total_gross),
        "Amount_Paid__c": _num(inv.amount_paid),
        "Balance__c": float(item.balance),
    }


def _check(results: list[dict[str, Any]], what: str) -> list[str]:
    ids = []
    for result in results:
        if not result.get("success", False):
            errors = "; ".join(str(e.get("message")) for e in result.get("errors") or [])
            raise PermanentError(f"{what}: Salesforce refused the upsert: {errors}", system="salesforce")
        ids.append(str(result.get("id") or ""))
    return ids


def _existing_lines(deps: Deps, invoice_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(invoice_ids), 200):
        ids = literal.id_list(invoice_ids[start : start + 200])
        soql = f"SELECT External_Id__c FROM Invoice_Line__c WHERE Invoice__c IN ({ids})"
        found.update(str(row["External_Id__c"]) for row in deps.crm.query(soql))
    return found


@durable_step
def import_page(deps: Deps, cursor: str | None) -> dict[str, Any]:
    """One page of the books' invoices upserted to Salesforce; returns the next cursor and what was written."""
    books, crm = deps.books, deps.crm
    life = invoice_life(books)
    items, next_cursor, more = life.invoices_page(cursor, PAGE, transform_context(deps))
    counts: Counter[str] = Counter()
    if not items:
        return {"cursor": next_cursor, "more": False, "counts": dict(counts)}
    accounts = salesforce_accounts(deps, [i.customer_id for i in items])
    numbers = [i.invoice.number or "" for i in items]
    deals = deps.ledger.lookup_many(books.name, books.invoice_object, numbers, "salesforce", "Opportunity")
    records = [
        invoice_fields(books.name, i, accounts.get(i.customer_id), deals.get(i.invoice.number or "")) for i in items
    ]
    # What was imported before and has not changed since (its fields, lines, payments, credits) is left alone: a
    # rerun writes nothing to Salesforce.
    hashes = [
        content_hash(
            {
                "invoice": record,
                "lines": [line.model_dump(mode="json") for line in item.invoice.lines],
                "payments": [p.model_dump(mode="json") for p in item.payments],
                "credited": str(item.credited),
                **refunds.content(item),
            }
        )
        for item, record in zip(items, records, strict=True)
    ]
    keep = [
        k
        for k, (record, digest) in enumerate(zip(records, hashes, strict=True))
        if (seen := deps.ledger.get_version("salesforce", "Invoice__c", record["External_Id__c"])) is None
        or seen.content_hash != digest
    ]
    counts["unchanged"] = len(items) - len(keep)
    items, records, hashes = [items[k] for k in keep], [records[k] for k in keep], [hashes[k] for k in keep]
    numbers = [i.invoice.number or "" for i in items]
    if not items:
        return {"cursor": next_cursor, "more": more, "counts": dict(counts)}
    counts["without_account"] = sum(1 for r in records if not r["Account__c"])
    ids = _check(crm.upsert_many("Invoice__c", "External_Id__c", records), "Invoice__c")
    by_number = dict(zip(numbers, ids, strict=True))
    deps.ledger.link_all(
        [((books.name, books.invoice_object, n), ("salesforce", "Invoice__c", i)) for n, i in by_number.items()]
    )
    counts["invoices"] = len(ids)

    lines = [
        {
            "External_Id__c": f"{invoice_key(books.name, n)}:{k}",
            "Invoice__c": by_number[n],
            "Line_Number__c": k,
            "Description__c": line.description[:255],
            "Product_Code__c": line.product_code,
            "Quantity__c": float(line.quantity),
            "Unit_Price__c": float(line.unit_price),
            "Tax_Rate__c": float(line.tax_rate),
            "Line_Total__c": float(line.net),
        }
        for item, n in zip(items, numbers, strict=True)
        for k, line in enumerate(item.invoice.lines, start=1)
    ]
    # A line's master (Invoice__c) is set when it is made, never on an update (Salesforce refuses to reparent it).
    existing = _existing_lines(deps, list(by_number.values()))
    for line_record in lines:
        if line_record["External_Id__c"] in existing:
            del line_record["Invoice__c"]
    counts["lines"] = len(_check(crm.upsert_many("Invoice_Line__c", "External_Id__c", lines), "Invoice_Line__c"))

    payments = [(n, p) for item, n in zip(items, numbers, strict=True) for p in item.payments if p.reference]
    payment_records = [
        {
            "External_Id__c": p.reference,
            "Invoice__c": by_number[n],
            "Opportunity__c": deals.get(n),
            "Amount__c": float(p.amount),
            "Payment_Date__c": p.paid_on.isoformat(),
            "Method__c": p.method,
        }
        for n, p in payments
    ]
    payment_ids = _check(crm.upsert_many("Payment__c", "External_Id__c", payment_records), "Payment__c")
    deps.ledger.link_all(
        [
            ((books.name, PAYMENT_OBJECT, str(p.reference)), ("salesforce", "Payment__c", pid))
            for (_n, p), pid in zip(payments, payment_ids, strict=True)
        ]
    )
    counts["payments"] = len(payment_ids)
    # Refunds (money paid back out of credit notes) as Payment__c of type Refund: flows/refunds.
    pairs = [(item, by_number[n]) for item, n in zip(items, numbers, strict=True)]
    counts.update(refunds.import_refunds(deps, pairs, deals, DBOS.workflow_id))

    notes = [
        (item, n, note)
        for item, n in zip(items, numbers, strict=True)
        if item.credited > 0 and not life.credit_notes_are_invoices
        for note in life.credit_notes(n)
    ]
    note_records = [
        {
            "Name": f"CN {note.number}",
            "External_Id__c": f"{books.name}:creditnote:{note.number}",
            "Accounting_System__c": books.name,
            "Account__c": accounts.get(item.customer_id),
            "Opportunity__c": deals.get(n),
            "Issue_Date__c": note.issue_date.isoformat(),
            "Due_Date__c": note.issue_date.isoformat(),
            "Status__c": CREDIT_NOTE_STATUS,
            "Currency_Code__c": note.currency,
            "Net_Total__c": -_num(note.total_net),
            "Tax_Total__c": -_num(note.total_tax),
            "Total__c": -_num(note.total_gross),
            "Amount_Paid__c": 0.0,
            "Balance__c": 0.0,  # applied to its invoice, whose balance counts it
        }
        for item, n, note in notes
    ]
    counts["credit_notes"] = len(_check(crm.upsert_many("Invoice__c", "External_Id__c", note_records), "Invoice__c"))
    for record, digest in zip(records, hashes, strict=True):
        deps.ledger.put_version(
            "salesforce", "Invoice__c", record["External_Id__c"], digest, written_by_us=True, modified_at=None
        )
    deps.ledger.audit(
        flow=FLOW,
        system="salesforce",
        obj="Invoice__c",
        action="imported",
        run_id=DBOS.workflow_id,
        source_id=f"page:{cursor or 1}",
        detail=dict(counts),
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
