"""The documents the invoice-change flow makes in the books for a deal (credit notes, extra and new invoices) and
its write-backs to the deal, each audited, each idempotent on a reference the books keep.

Each document is noted against its deal (``_invoice_state.note_document``): the ledger links a deal to one invoice,
so this is how the history import and the Salesforce writer know the deal of a credit note or a reissued invoice.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ledgerlink.flows import _invoice_state as state
from ledgerlink.flows import invoicing, refunds
from ledgerlink.flows import opportunity_to_invoice as o2i
from ledgerlink.flows._errors import RecordRejected
from ledgerlink.flows.deps import Deps
from ledgerlink.model import CreditNote, Invoice, InvoiceLine
from ledgerlink.systems.invoice_life import invoice_life

FLOW = "invoice_changes"
CREDIT_NOTE_OBJECT = "CreditNote"  # the ledger's name for a credit note in the books, whichever system keeps them


def audit(deps: Deps, run_id: str, deal: str, obj: str, record_id: str, action: str, detail: dict[str, Any]) -> None:
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


def credit(
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
    state.note_document(deps.ledger, books.name, made.number, deal)
    # The ledger links a deal to its first credit note only (a link is one to one); the state knows them all.
    if deps.ledger.lookup("salesforce", "Opportunity", deal, books.name, CREDIT_NOTE_OBJECT) in (None, made.number):
        deps.ledger.link((books.name, CREDIT_NOTE_OBJECT, made.number), ("salesforce", "Opportunity", deal))
    audit(
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


def new_invoice(
    deps: Deps, deal: str, base: Invoice, lines: list[InvoiceLine], reference: str, run_id: str, customer_id: str
) -> str:
    """An invoice for the deal beside the one it has (an increase, a reissue, a deal won again), found by its
    reference when an earlier attempt made it."""
    books = deps.books
    invoice = base.model_copy(
        update={"lines": lines, "reference": reference, "number": None, "customer_code": customer_id}
    )
    made = books.create_invoice(invoice, customer_id, invoicing.ctx(deps))
    state.note_document(deps.ledger, books.name, made.number, deal)
    audit(
        deps,
        run_id,
        deal,
        books.invoice_object,
        made.number,
        "created" if made.created else "matched",
        {"reference": reference, "net": str(invoice.lines_net)},
    )
    return made.number


def customer_of(deps: Deps, base: Invoice) -> str:
    """The books customer of the deal's invoice (``base.number``), else of the deal's mapped customer code."""
    found = deps.books.get_invoice(base.number or "") if base.number else None
    return found.customer_code if found else base.customer_code


def difference_lines(
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


def whole_credit(name: str, billed: state.Billed) -> list[InvoiceLine]:
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


def write_deal(deps: Deps, deal: str, fields: dict[str, Any], run_id: str) -> None:
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
