"""What the invoice-life flows need from the books beyond ``AccountingSystem``: change an invoice, void it, credit it,
and read the whole ledger of invoices (history import, balances and aging). Each accounting plugin implements it on
its books adapter (``systems/<name>/invoice_life.py``); flows ask ``invoice_life(books)`` and never name a system.

Every write is idempotent on something the vendor keeps: a credit note on its ``reference`` (looked up before it is
made), a void on the invoice's own state (voiding a voided invoice is a no-op).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, runtime_checkable

from ledgerlink.mapping import TransformContext
from ledgerlink.model import CreditNote, Invoice, Payment, Refund

LOCKED = "InvoiceLocked"  # PermanentError.code: the books refuse to edit this invoice (paid, part-paid, closed)


@dataclass(frozen=True)
class MadeDocument:
    number: str
    created: bool  # False when an earlier attempt had already made it


@dataclass(frozen=True)
class BooksInvoice:
    """An invoice as the books keep it, with who owes it, what was paid and what was credited against it."""

    invoice: Invoice  # number, totals, status, amount_paid, lines
    customer_id: str
    payments: list[Payment] = field(default_factory=list)
    credited: Decimal = Decimal("0")
    balance: Decimal = Decimal("0")  # still owed: gross - paid - credited
    voided: bool = False
    refunds: list[Refund] = field(default_factory=list)  # paid back out of credit on it (systems.refunds)


@dataclass(frozen=True)
class OpenItem:
    """One invoice with money still owed (or owed back, when negative), for balances and aging."""

    customer_id: str
    number: str
    due_date: dt.date
    balance: Decimal
    days_overdue: int = 0  # by the books' own clock where they report it


@runtime_checkable
class InvoiceLife(Protocol):
    # True where the books keep a credit note as an invoice with negative amounts (the history import then brings it
    # with the invoices, not again as a credit note).
    credit_notes_are_invoices: bool

    def update_invoice(self, number: str, invoice: Invoice, ctx: TransformContext | None = None) -> Invoice:
        """Replace the invoice's lines (and dates); a ``PermanentError`` with code ``LOCKED`` when the books refuse."""
        ...

    def void_invoice(self, number: str) -> bool:
        """Void (or delete, where that is the books' only way) an unpaid invoice; False when the books refuse."""
        ...

    def create_credit_note(
        self, note: CreditNote, customer_id: str, ctx: TransformContext | None = None
    ) -> MadeDocument: ...

    def credit_notes(self, invoice_number: str) -> list[CreditNote]: ...

    def invoices_page(
        self, cursor: str | None, limit: int, ctx: TransformContext | None = None
    ) -> tuple[list[BooksInvoice], str | None, bool]:
        """Every invoice in the books, a page at a time (cursor, more to read), each with payments and credits."""
        ...

    def books_invoice(self, number: str, ctx: TransformContext | None = None) -> BooksInvoice | None:
        """One invoice as ``invoices_page`` reads it (None when gone, voided or removed): what a change just made
        is written to the CRM as, the same record the history import would write."""
        ...

    def open_items(self) -> list[OpenItem]: ...

    def customer_balance(self, customer_id: str) -> Decimal:
        """What the books themselves say the customer owes (their own figure, for reconciliation)."""
        ...


def invoice_life(books: object) -> InvoiceLife:
    """The books' invoice-life half, or a clear error when the plugin lacks it."""
    if not isinstance(books, InvoiceLife):
        name = getattr(books, "name", type(books).__name__)
        raise NotImplementedError(f"the {name} plugin does not support invoice updates, credit notes and history")
    return books
