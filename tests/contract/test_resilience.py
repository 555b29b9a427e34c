"""The contract under trouble: expired sessions, 429s, dropped connections, 5xx — over real HTTP, per system.

A client waits out a 429 and signs in again on a 401 by itself; every other failure is a ``TransientError`` the
engine retries (its one retry level, ``engine.retry``), looking before it creates again."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ledgerlink.engine.retry import RetriesExhausted, with_retries
from ledgerlink.model import Payment
from tests.contract.conftest import FAST_RETRIES, Harness


def test_an_expired_session_is_renewed_without_losing_the_request(harness: Harness) -> None:
    customer = harness.ensure_customer("RELOGIN")
    calls = harness.books.api_calls()
    harness.expire_auth()
    # The first call after expiry draws a 401, logs in again, and repeats that same write.
    created = harness.books.create_invoice(harness.invoice("OPP-RELOGIN", customer), customer)
    assert created.created
    assert harness.books.api_calls() > calls + 1
    harness.expire_auth()
    assert harness.books.find_customer("RELOGIN") == customer
    assert harness.references().count("OPP-RELOGIN") == 1


def test_429_with_retry_after_is_honoured_and_the_work_completes(harness: Harness) -> None:
    harness.admin("PUT", "/__admin/ratelimit", {"requests": 3, "per_seconds": 1, "reset": True})
    books = harness.make_books(rate_limit=None)  # no client pacing: let the server refuse
    customer = books.find_customer("BUSY") or books.create_customer(harness.customer("BUSY"))
    numbers = [books.create_invoice(harness.invoice(f"OPP-BUSY-{i}", customer), customer).number for i in range(4)]
    assert len(set(numbers)) == 4
    counters = harness.admin("GET", "/__admin/ratelimit")
    print(f"{harness.system}: allowed {counters['allowed']}, refused with 429 {counters['limited']}")
    assert counters["limited"] > 0
    assert sorted(r for r in books.invoice_references() if r.startswith("OPP-BUSY")) == [
        f"OPP-BUSY-{i}" for i in range(4)
    ]


def test_the_client_pacer_keeps_under_the_limit(harness: Harness) -> None:
    harness.admin("PUT", "/__admin/ratelimit", {"requests": 4, "per_seconds": 0.5, "reset": True})
    books = harness.make_books(rate_limit="4 per 0.5 s")
    customer = books.find_customer("PACED") or books.create_customer(harness.customer("PACED"))
    for i in range(3):
        books.create_invoice(harness.invoice(f"OPP-PACED-{i}", customer), customer)
    counters = harness.admin("GET", "/__admin/ratelimit")
    assert counters["limited"] == 0 and counters["allowed"] > 8


def test_5xx_on_create_is_retried_into_exactly_one_invoice(harness: Harness) -> None:
    customer = harness.ensure_customer("FLAKY")
    harness.faults(fail_next=2, paths=[harness.api_path("invoices")], methods=["POST"])
    created = harness.create_invoice_as_the_engine_does(harness.invoice("OPP-5XX", customer), customer)
    assert created.created
    assert harness.references().count("OPP-5XX") == 1


def test_a_reply_lost_after_the_create_does_not_duplicate(harness: Harness) -> None:
    customer = harness.ensure_customer("LOST")
    harness.faults(drop_after_next=1, paths=[harness.api_path("invoices")], methods=["POST"])
    created = harness.create_invoice_as_the_engine_does(harness.invoice("OPP-LOST", customer), customer)
    assert created.number
    assert harness.references().count("OPP-LOST") == 1
    # The same for a payment: processed, reply lost, repeated — paid once.
    harness.faults(drop_after_next=1, paths=[harness.api_path("payments")], methods=["POST"])
    payment = Payment(
        invoice_number=created.number, amount=Decimal("5.00"), paid_on=dt.date(2026, 3, 5), reference="LOST-PAY"
    )
    with_retries(harness.books.record_payment, FAST_RETRIES)(created.number, payment)
    assert [p.amount for p in harness.books.payments(created.number)] == [Decimal("5.00")]


def test_dropped_connections_on_reads_are_retried(harness: Harness) -> None:
    customer_id = harness.books.create_customer(harness.customer("DROPS"))
    harness.faults(drop_rate=0.3, seed=7, methods=["GET"])
    for _ in range(5):  # a read that always goes to the books (finding by code may be served by a recent listing)
        assert with_retries(harness.books.read_customer, FAST_RETRIES)(customer_id, None) is not None
    injected = harness.admin("GET", "/__admin/faults")["injected"]
    assert injected["drops"] > 0


def test_a_5xx_storm_fails_transiently_naming_the_record_and_leaves_nothing(harness: Harness) -> None:
    customer = harness.ensure_customer("STORM")
    harness.faults(fail_next=50, paths=[harness.api_path("invoices")], methods=["POST"])
    with pytest.raises(RetriesExhausted) as caught:
        harness.create_invoice_as_the_engine_does(harness.invoice("OPP-STORM", customer), customer)
    assert caught.value.last.record == "Invoice OPP-STORM"
    assert all("OPP-STORM" in error for error in caught.value.errors)
    harness.faults(fail_next=0)
    assert "OPP-STORM" not in harness.references()
