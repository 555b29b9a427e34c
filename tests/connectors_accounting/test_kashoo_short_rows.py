"""Kashoo's adapter keeps listed invoice rows a short while (``lookups.ShortCache``) and drops the ones its own writes
change. A listing another run starts *while* a write is in flight (after the drop, before Kashoo has the write) reads
the row from before it: kept, it would show an invoice unpaid for a minute after its payment, and a flow deciding on
that balance (what is still owed) would pay it twice, which Kashoo refuses. Over real HTTP: the sandbox holds each
payment POST for a moment, and a listing runs meanwhile."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from ledgerlink.connections.build import build_accounting
from ledgerlink.model import Customer, Invoice, InvoiceLine, Payment
from ledgerlink.sandbox.runner import Sandbox, start_sandbox

HOLD_MS = 2500


@pytest.fixture
def kashoo(tmp_path: Path) -> Iterator[Sandbox]:
    sandbox = start_sandbox("kashoo", tmp_path / "sandbox")
    try:
        yield sandbox
    finally:
        sandbox.stop()


def test_a_listing_during_a_payment_does_not_keep_the_unpaid_row(kashoo: Sandbox) -> None:
    books = build_accounting(kashoo.describe())
    try:
        contact = books.create_customer(Customer(code="SHORT-1", name="Short Rows Ltd"))
        today = dt.date.today()
        invoice = Invoice(
            customer_code=contact,
            issue_date=today,
            due_date=today + dt.timedelta(days=30),
            currency="CAD",
            reference="short-rows-1",
            lines=[InvoiceLine(description="Work", quantity=Decimal(1), unit_price=Decimal(100), tax_rate=0)],
        )
        number = books.create_invoice(invoice, contact, look_first=False).number
        before = books.get_invoice(number)
        assert before is not None and before.amount_paid == 0

        faults = {"latency_ms": HOLD_MS, "methods": ["POST"], "paths": ["/api/businesses"]}
        httpx.put(f"{kashoo.base_url}/__admin/faults", json=faults).raise_for_status()
        payment = Payment(invoice_number=number, amount=Decimal(100), currency="CAD", paid_on=today, reference="P-1")
        paying = threading.Thread(target=books.record_payment, args=(number, payment))
        paying.start()
        time.sleep(HOLD_MS / 2000)  # its reads are done and its POST is held by the sandbox now
        assert books.get_invoice("99999") is None  # another run's miss: a listing, while the payment is in flight
        paying.join(timeout=30)
        httpx.put(f"{kashoo.base_url}/__admin/faults", json={"latency_ms": 0}).raise_for_status()

        after = books.get_invoice(number)
        assert after is not None
        assert after.amount_paid == Decimal(100), "the row listed during the payment was kept"
        assert after.status == "Paid"
    finally:
        books.close()
