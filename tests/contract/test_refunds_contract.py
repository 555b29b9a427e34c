"""What every accounting adapter with refunds promises: a refund out of a credit note on a paid invoice is recorded
once (a repeat finds the first), never more than the note owes back, never read as a payment, and a books without
refunds through its API says so (code ``RefundsUnavailable``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ledgerlink.model import CreditNote, InvoiceLine, Payment, Refund
from ledgerlink.systems.errors import PermanentError
from ledgerlink.systems.invoice_life import invoice_life
from ledgerlink.systems.refunds import UNAVAILABLE, refund_books
from tests.contract.conftest import Harness


def _credited_paid_invoice(harness: Harness, reference: str) -> tuple[str, str, Decimal]:
    """(invoice number, credit note number, what the note owes back): a paid invoice credited 10.00 net."""
    books = harness.books
    customer = harness.ensure_customer(reference[:20])
    made = books.create_invoice(harness.invoice(reference, customer), customer)
    gross = books.get_invoice(made.number)
    assert gross is not None and gross.total_gross is not None
    paid = Payment(
        invoice_number=made.number, amount=gross.total_gross, currency=harness.currency, paid_on=dt.date(2026, 3, 9)
    )
    books.record_payment(made.number, paid)
    note = CreditNote(
        customer_code=customer,
        invoice_number=made.number,
        issue_date=dt.date(2026, 3, 10),
        currency=harness.currency,
        lines=[
            InvoiceLine(description="Discount", quantity=Decimal(1), unit_price=Decimal("10.00"), tax_rate=harness.rate)
        ],
        reference=f"{reference}:cn",
    )
    made_note = invoice_life(books).create_credit_note(note, customer)
    [read] = invoice_life(books).credit_notes(made.number)
    assert read.total_gross is not None
    return made.number, made_note.number, read.total_gross


def _refund(note: str, amount: Decimal, currency: str, reference: str = "REFUND-1") -> Refund:
    return Refund(
        credit_note_number=note, amount=amount, currency=currency, paid_on=dt.date(2026, 3, 11), reference=reference
    )


def test_a_refund_is_recorded_once_and_read_back(harness: Harness) -> None:
    refunder = refund_books(harness.books)
    number, note, owed = _credited_paid_invoice(harness, "OPP-REFUND")
    assert refunder.refundable(note) == owed

    with pytest.raises(PermanentError) as caught:
        refunder.record_refund(_refund(note, owed + Decimal("0.01"), harness.currency, "TOO-MUCH"))
    assert (caught.value.field or "").lower() == "amount" and note in (caught.value.record or "")

    first = refunder.record_refund(_refund(note, owed, harness.currency), look_first=False)
    again = refunder.record_refund(_refund(note, owed, harness.currency))  # a retry finds the first
    assert first.created and not again.created and again.number == first.number
    [refund] = refunder.refunds(note)
    assert (refund.amount, refund.reference, refund.refs[0].id) == (owed, "REFUND-1", first.number)
    assert refunder.refundable(note) == 0
    assert [p.amount > 0 for p in harness.books.payments(number)] == [True]  # a refund is no payment


def test_books_without_refunds_say_so(harness: Harness) -> None:
    _number, note, owed = _credited_paid_invoice(harness, "OPP-NOREFUND")
    harness.admin("PUT", "/__admin/behaviour", {"refunds": "missing"})
    with pytest.raises(PermanentError) as caught:
        refund_books(harness.books).record_refund(_refund(note, owed, harness.currency), look_first=False)
    assert caught.value.code == UNAVAILABLE and "then replay" in str(caught.value)
