"""The books' invoices and credit notes → ``Invoice__c`` (with ``Invoice_Line__c`` lines and a ``Payment__c`` per
payment), through the mapping templates: ``salesforce/invoice_from_canonical``, ``…/invoice_line_from_canonical``,
``…/credit_note_from_canonical`` and ``…/payment_from_canonical``. A user's copy of one (in the mappings dir) maps a
custom field of their own, with no code.

Two flows write with it, and write the same records: the history import (``invoice_history``, every invoice page by
page) and the invoice-change flow (a credit note, a reissued invoice or a void, the moment it is made). Every record
is upserted on its external id (``<system>:<number>``; a credit note the books keep apart, ``<system>:creditnote:
<number>``; lines ``<invoice key>:<line>``; payments the books' payment reference), and the content written is
remembered per invoice (the ledger's record versions), so whichever flow comes second finds it unchanged and writes
nothing: one ``Invoice__c`` per document, never two.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledgerlink.flows import refunds
from ledgerlink.flows.deps import Deps
from ledgerlink.flows.payment_sync import PAYMENT_OBJECT
from ledgerlink.flows.sync.common import RECORD_ERRORS, fail, transform_context
from ledgerlink.mapping import Mapping, TransformContext, load_mapping
from ledgerlink.model import CreditNote
from ledgerlink.store.ledger import content_hash
from ledgerlink.systems.errors import PermanentError
from ledgerlink.systems.invoice_life import BooksInvoice, invoice_life
from ledgerlink.systems.salesforce import soql as literal

INVOICE_TEMPLATE = "salesforce/invoice_from_canonical"
LINE_TEMPLATE = "salesforce/invoice_line_from_canonical"
CREDIT_NOTE_TEMPLATE = "salesforce/credit_note_from_canonical"
PAYMENT_TEMPLATE = "salesforce/payment_from_canonical"
INVOICE_SOBJECT = "Invoice__c"
CREDIT_NOTE_STATUS = "Credit note"
VOIDED_STATUS = "Voided"


def invoice_key(system: str, number: str) -> str:
    return f"{system}:{number}"


def credit_note_key(system: str, number: str) -> str:
    return f"{system}:creditnote:{number}"


@dataclass(frozen=True)
class Links:
    """What an invoice is linked to in Salesforce: the Account by books customer id, the deal by invoice number."""

    accounts: dict[str, str]
    deals: dict[str, str]


def _values(mapping: Mapping, record: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
    """The mapped fields, with every top-level field the mapping writes and this record lacks as null, so that
    what the books no longer say (an Account unlinked, a paid date gone) is cleared, not left behind."""
    values = mapping.apply(record, ctx).values
    for rule in mapping.rules:
        if "." not in rule.target and "[" not in rule.target:
            values.setdefault(rule.target, None)
    return values


def invoice_source(system: str, item: BooksInvoice, links: Links) -> dict[str, Any]:
    """The record ``invoice_from_canonical`` maps: the canonical invoice and what the import knows beside it."""
    number = item.invoice.number or ""
    paid_dates = [p.paid_on for p in item.payments]
    return {
        **item.invoice.model_dump(mode="json", exclude={"lines", "refs"}),
        "key": invoice_key(system, number),
        "system": system,
        "account": links.accounts.get(item.customer_id),
        "opportunity": links.deals.get(number),
        "balance": str(item.balance),
        "credited": str(item.credited),
        "paid_date": max(paid_dates).isoformat() if paid_dates and item.balance <= 0 else None,
    }


def credit_note_source(system: str, note: CreditNote, account: str | None, deal: str | None) -> dict[str, Any]:
    return {
        **note.model_dump(mode="json", exclude={"lines", "refs"}),
        "key": credit_note_key(system, note.number or ""),
        "system": system,
        "account": account,
        "opportunity": deal,
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


def _payment_ctx(deps: Deps, deals: dict[str, str]) -> TransformContext:
    """payment_from_canonical finds the deal from the books' invoice: the ledger, else the deal a credit note or
    extra invoice was made for."""
    books = deps.books

    def lookup(system: str, obj: str, record_id: str, other: str) -> str | None:
        if (system, obj, other) == (books.name, books.invoice_object, "salesforce"):
            return deals.get(record_id)
        return deps.ledger.lookup(system, obj, record_id, other)

    return transform_context(deps, source_system=books.name, lookup_xref=lookup)


def write_invoices(
    deps: Deps, items: Sequence[BooksInvoice], links: Links, *, flow: str, run_id: str | None
) -> Counter[str]:
    """Upsert these invoices (with lines, payments and, where the books keep them apart, their credit notes);
    those written before and unchanged since are left alone. Returns the counts; an invoice that doesn't map is a
    failed record (its message names the record and field), the rest go on."""
    books, crm = deps.books, deps.crm
    counts: Counter[str] = Counter()
    ctx = transform_context(deps, source_system=books.name)
    invoice_map, line_map = load_mapping(INVOICE_TEMPLATE), load_mapping(LINE_TEMPLATE)
    kept: list[tuple[BooksInvoice, dict[str, Any], str]] = []
    for item in items:
        number = item.invoice.number or ""
        try:
            record = _values(invoice_map, invoice_source(books.name, item, links), ctx)
        except RECORD_ERRORS as exc:
            fail(deps, flow, (books.name, books.invoice_object, number), exc, run_id or "")
            counts["failed"] += 1
            continue
        # What was written before and has not changed since (fields, lines, payments, credits) is left alone.
        digest = content_hash(
            {
                "invoice": record,
                "lines": [line.model_dump(mode="json") for line in item.invoice.lines],
                "payments": [p.model_dump(mode="json") for p in item.payments],
                "credited": str(item.credited),
                **refunds.content(item),
            }
        )
        seen = deps.ledger.get_version("salesforce", INVOICE_SOBJECT, str(record["External_Id__c"]))
        if seen is not None and seen.content_hash == digest:
            counts["unchanged"] += 1
            continue
        kept.append((item, record, digest))
    if not kept:
        return counts
    counts["without_account"] = sum(1 for _i, r, _d in kept if not r.get("Account__c"))
    ids = _check(crm.upsert_many(INVOICE_SOBJECT, "External_Id__c", [r for _i, r, _d in kept]), INVOICE_SOBJECT)
    numbers = [item.invoice.number or "" for item, _r, _d in kept]
    by_number = dict(zip(numbers, ids, strict=True))
    deps.ledger.link_all(
        [((books.name, books.invoice_object, n), ("salesforce", INVOICE_SOBJECT, i)) for n, i in by_number.items()]
    )
    counts["invoices"] = len(ids)

    lines = [
        _values(
            line_map,
            {
                **line.model_dump(mode="json"),
                "key": f"{invoice_key(books.name, n)}:{k}",
                "invoice": by_number[n],
                "line_number": k,
                "net": str(line.net),
            },
            ctx,
        )
        for (item, _r, _d), n in zip(kept, numbers, strict=True)
        for k, line in enumerate(item.invoice.lines, start=1)
    ]
    # A line's master (Invoice__c) is set when it is made, never on an update (Salesforce refuses to reparent it).
    existing = _existing_lines(deps, list(by_number.values()))
    for line_record in lines:
        if line_record["External_Id__c"] in existing:
            line_record.pop("Invoice__c", None)
    counts["lines"] = len(_check(crm.upsert_many("Invoice_Line__c", "External_Id__c", lines), "Invoice_Line__c"))

    payment_map, payment_ctx = load_mapping(PAYMENT_TEMPLATE), _payment_ctx(deps, links.deals)
    payments = [(n, p) for (item, _r, _d), n in zip(kept, numbers, strict=True) for p in item.payments if p.reference]
    payment_records = [
        {**_values(payment_map, p.model_dump(mode="json"), payment_ctx), "Invoice__c": by_number[n]}
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
    pairs = [(item, by_number[n]) for (item, _r, _d), n in zip(kept, numbers, strict=True)]
    counts.update(refunds.import_refunds(deps, pairs, links.deals, run_id))

    life = invoice_life(books)
    if not life.credit_notes_are_invoices:
        note_map = load_mapping(CREDIT_NOTE_TEMPLATE)
        note_records = [
            _values(
                note_map,
                credit_note_source(
                    books.name, note, links.accounts.get(item.customer_id), links.deals.get(item.invoice.number or "")
                ),
                ctx,
            )
            for item, _r, _d in kept
            if item.credited > 0
            for note in life.credit_notes(item.invoice.number or "")
        ]
        written = _check(crm.upsert_many(INVOICE_SOBJECT, "External_Id__c", note_records), INVOICE_SOBJECT)
        counts["credit_notes"] = len(written)
    for _item, record, digest in kept:
        deps.ledger.put_version(
            "salesforce", INVOICE_SOBJECT, str(record["External_Id__c"]), digest, written_by_us=True, modified_at=None
        )
    return counts


def mark_voided(deps: Deps, number: str, *, flow: str, run_id: str | None, deal: str) -> bool:
    """A voided invoice's ``Invoice__c`` (if it was ever written) says so and owes nothing; False when there is
    none or it already says so. The books no longer list the invoice, so no import writes it again."""
    books = deps.books
    key = invoice_key(books.name, number)
    rows = list(
        deps.crm.query(
            f"SELECT Id, Status__c, Balance__c FROM {INVOICE_SOBJECT} WHERE External_Id__c = '{literal.escape(key)}'"
        )
    )
    if not rows or (rows[0].get("Status__c") == VOIDED_STATUS and not rows[0].get("Balance__c")):
        return False
    fields = {"Status__c": VOIDED_STATUS, "Balance__c": 0}
    deps.crm.update(INVOICE_SOBJECT, rows[0]["Id"], fields)
    deps.ledger.put_version(
        "salesforce", INVOICE_SOBJECT, key, content_hash(fields), written_by_us=True, modified_at=None
    )
    deps.ledger.audit(
        flow=flow,
        system="salesforce",
        obj=INVOICE_SOBJECT,
        record_id=rows[0]["Id"],
        action="voided",
        run_id=run_id,
        source_id=deal,
        detail={"invoice": number, **fields},
    )
    return True
