"""What the refund flow needs from the books: how much of a credit note is still owed back to the customer, record a
refund (money paid back out of it), and list a credit note's refunds. Each accounting plugin implements it on its
books adapter (``systems/<name>/refunds.py``); flows ask ``refund_books(books)`` and never name a system.

A refund is idempotent on what the vendor keeps: its note or memo carries ``Refund.reference`` (the source it was made
for), looked up among the credit note's refunds before a create when an earlier attempt may have made it. Where the
books offer no refund through their API the connector raises a ``PermanentError`` with code ``UNAVAILABLE`` whose
message says what a person does instead.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol, runtime_checkable

from ledgerlink.mapping import TransformContext
from ledgerlink.model import Refund
from ledgerlink.systems.invoice_life import MadeDocument

UNAVAILABLE = "RefundsUnavailable"  # PermanentError.code: these books take no refund through their API


def refund_key(system: str, refund: Refund) -> str:
    """The refund's key outside the books (the Salesforce record's external id): the books' own id for it."""
    ref = next((r for r in refund.refs if r.system == system), None)
    if ref is None:
        raise ValueError(f"refund {refund.reference or refund.credit_note_number} carries no {system} id")
    return f"{system}:refund:{ref.id}"


@runtime_checkable
class RefundBooks(Protocol):
    refund_object: str  # the vendor's name for a refund, as the ledger and the audit log show it

    def refundable(self, credit_note_number: str) -> Decimal:
        """What of the credit note is still owed back to the customer: not applied to an invoice, not refunded."""
        ...

    def record_refund(
        self, refund: Refund, ctx: TransformContext | None = None, *, look_first: bool = True
    ) -> MadeDocument:
        """Pay ``refund.amount`` back out of credit note ``refund.credit_note_number``; ``MadeDocument.number`` is
        the books' id of the refund. ``look_first=False``: the caller knows no earlier attempt made it."""
        ...

    def refunds(self, credit_note_number: str) -> list[Refund]:
        """The credit note's refunds, each with ``refs`` naming the books' record."""
        ...


def refund_books(books: object) -> RefundBooks:
    """The books' refund half, or a clear error when the plugin lacks it."""
    if not isinstance(books, RefundBooks):
        name = getattr(books, "name", type(books).__name__)
        raise NotImplementedError(f"the {name} plugin does not support refunds")
    return books
