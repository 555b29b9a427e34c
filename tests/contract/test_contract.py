"""What every accounting adapter promises the flows: idempotent creates, exact money, payments, changes since."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest

from ledgerlink.model import Invoice, Payment
from ledgerlink.systems.errors import PermanentError
from tests.contract.conftest import Harness

PENNY = Decimal("0.01")


def expected_totals(invoice: Invoice) -> tuple[Decimal, Decimal]:
    """(net, tax), each line rounded half up to the penny, as both systems document."""
    net = tax = Decimal(0)
    for line in invoice.lines:
        line_net = (line.quantity * line.unit_price).quantize(PENNY, ROUND_HALF_UP)
        net += line_net
        tax += (line_net * line.tax_rate / 100).quantize(PENNY, ROUND_HALF_UP)
    return net, tax


def test_customer_is_created_once_and_found_again(harness: Harness) -> None:
    books = harness.books
    assert books.find_customer("ACME") is None
    first = books.create_customer(harness.customer("ACME", "Acme Ltd"))
    assert books.find_customer("ACME") == first
    assert books.find_customer("acme") == first  # codes match ignoring case
    # A repeated create (a retried step, a parallel run for the same account) returns the same customer.
    assert books.create_customer(harness.customer("ACME", "Acme Ltd")) == first
    changed, _ = books.customers_changed_since(None)
    assert [c.name for c in changed].count("Acme Ltd") == 1


def test_customer_code_clash_is_refused_naming_record_and_field(harness: Harness) -> None:
    harness.books.create_customer(harness.customer("CLASH", "Clash One Ltd"))
    with pytest.raises(PermanentError) as caught:
        harness.books.create_customer(harness.customer("CLASH", "Somebody Else plc"))
    assert caught.value.record == "Customer CLASH"
    assert caught.value.field and caught.value.field.lower() == "code"
    assert "Clash One Ltd" in str(caught.value)


def test_invoice_totals_to_the_penny_and_create_is_idempotent(harness: Harness) -> None:
    customer = harness.ensure_customer("PENNY")
    invoice = harness.invoice(
        "OPP-PENNY",
        customer,
        [
            ("Consulting", "3", "33.33", harness.rate),
            ("Widgets", "7", "19.99", harness.rate),
            ("Half day", "0.5", "0.05", harness.rate),
            ("Untaxed", "1", "10.01", "0"),
        ],
    )
    created = harness.books.create_invoice(invoice, customer)
    assert created.created
    again = harness.books.create_invoice(invoice, customer)
    assert again.number == created.number and not again.created
    found = harness.books.find_invoice(customer, "OPP-PENNY")
    assert found is not None and found.number == created.number
    assert harness.references().count("OPP-PENNY") == 1

    back = harness.books.get_invoice(created.number)
    assert back is not None
    net, tax = expected_totals(invoice)
    print(f"{harness.system}: net {back.total_net} tax {back.total_tax} gross {back.total_gross}")
    assert (back.total_net, back.total_tax, back.total_gross) == (net, tax, net + tax)
    assert [(li.quantity, li.unit_price, li.tax_rate) for li in back.lines] == [
        (li.quantity, li.unit_price, li.tax_rate) for li in invoice.lines
    ]
    assert back.reference == "OPP-PENNY"
    assert back.issue_date == invoice.issue_date and back.due_date == invoice.due_date


def test_payment_is_recorded_once_and_read_back(harness: Harness) -> None:
    customer = harness.ensure_customer("PAYER")
    created = harness.books.create_invoice(harness.invoice("OPP-PAY", customer), customer)
    payment = Payment(
        invoice_number=created.number,
        amount=Decimal("100.01"),
        currency=harness.currency,
        paid_on=dt.date(2026, 3, 10),
        reference="SF-PAY-1",
    )
    first = harness.books.record_payment(created.number, payment)
    assert harness.books.record_payment(created.number, payment) == first  # a retry pays nothing twice
    paid = harness.books.payments(created.number)
    assert [(p.amount, p.paid_on, p.invoice_number) for p in paid] == [
        (Decimal("100.01"), dt.date(2026, 3, 10), created.number)
    ]
    assert first in (paid[0].reference or "")
    back = harness.books.get_invoice(created.number)
    assert back is not None and back.amount_paid == Decimal("100.01")


def test_payment_larger_than_the_balance_is_refused(harness: Harness) -> None:
    customer = harness.ensure_customer("OVERPAY")
    created = harness.books.create_invoice(harness.invoice("OPP-OVER", customer), customer)
    back = harness.books.get_invoice(created.number)
    assert back is not None and back.total_gross is not None
    too_much = Payment(
        invoice_number=created.number,
        amount=back.total_gross + PENNY,
        currency=harness.currency,
        paid_on=dt.date(2026, 3, 10),
        reference="SF-PAY-OVER",
    )
    with pytest.raises(PermanentError) as caught:
        harness.books.record_payment(created.number, too_much)
    assert caught.value.field and caught.value.field.lower() == "amount"
    assert caught.value.record and created.number in caught.value.record
    assert harness.books.payments(created.number) == []


def test_customers_changed_since_a_watermark(harness: Harness) -> None:
    books = harness.books
    books.create_customer(harness.customer("OLD", "Old Customer Ltd"))
    everything, mark = books.customers_changed_since(None)
    assert "Old Customer Ltd" in [c.name for c in everything]
    assert books.customers_changed_since(mark)[0] == []  # nothing new: nothing returned, not even the boundary
    harness.admin("POST", "/__admin/advance-clock", {"seconds": 2})
    books.create_customer(harness.customer("NEW", "New Customer Ltd"))
    changed, later = books.customers_changed_since(mark)
    assert [c.name for c in changed] == ["New Customer Ltd"]
    assert books.customers_changed_since(later)[0] == []


def test_a_vat_rate_the_books_lack_is_refused_naming_the_line_and_leaves_no_invoice(harness: Harness) -> None:
    customer = harness.ensure_customer("TAXLESS")
    invoice = harness.invoice(
        "OPP-TAX", customer, [("Fine", "1", "10.00", harness.rate), ("Odd rate", "1", "10.00", "17.5")]
    )
    with pytest.raises(PermanentError) as caught:
        harness.books.create_invoice(invoice, customer)
    assert caught.value.record == "Invoice OPP-TAX"
    # The second line, in each system's own terms: KashFlow "LineItems[2].VATLevel", Kashoo "lines[1].tax_rate".
    assert caught.value.field in ("LineItems[2].VATLevel", "lines[1].tax_rate")
    print(f"{harness.system}: {caught.value}")
    assert "OPP-TAX" not in harness.references()
    assert harness.books.find_invoice(customer, "OPP-TAX") is None


def test_a_malformed_date_is_refused_naming_the_field(harness: Harness) -> None:
    customer = harness.ensure_customer("BADDATE")
    good = harness.invoice("OPP-DATE", customer)
    # As if a hand-edited mapping or an old queue entry carried text where a date belongs.
    bad = Invoice.model_construct(**{**dict(good), "issue_date": "2026-02-30"})
    with pytest.raises(PermanentError) as caught:
        harness.books.create_invoice(bad, customer)
    assert caught.value.field == "issue_date" or "date" in (caught.value.field or "").lower()
    assert caught.value.record == "Invoice OPP-DATE"
    assert "OPP-DATE" not in harness.references()


def test_a_fraction_of_a_cent_is_refused_not_rounded(harness: Harness) -> None:
    customer = harness.ensure_customer("FRACTION")
    created = harness.books.create_invoice(harness.invoice("OPP-FRAC", customer), customer)
    payment = Payment(
        invoice_number=created.number, amount=Decimal("1.005"), paid_on=dt.date(2026, 3, 10), reference="P-FRAC"
    )
    with pytest.raises(PermanentError) as caught:
        harness.books.record_payment(created.number, payment)
    assert caught.value.field and caught.value.field.lower() == "amount"
    assert harness.books.payments(created.number) == []
