"""Where the connectors rely on something no public source confirms, the sandbox can behave the other ways
(``/__admin/behaviour``), and the connectors still work: the change feed's parameter ignored or rejected switches to
full listings with a content hash per record (said once in the log), a missing PDF route to the next best PDF.
Also: retries and a second worker make no duplicate, counted in the sandbox itself. Real HTTP on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerlink.connections.build import build_accounting
from ledgerlink.engine.retry import RetryPolicy, with_retries
from ledgerlink.model import Customer, Invoice, InvoiceLine
from ledgerlink.sandbox.runner import Sandbox, sandbox_kinds, start_sandbox
from ledgerlink.systems.accounting import AccountingSystem
from ledgerlink.systems.errors import TransientError

FAST = RetryPolicy(max_attempts=6, interval_seconds=0.05, max_interval_seconds=0.5)


@pytest.fixture(params=["kashflow", "kashoo"])
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    running = start_sandbox(request.param, tmp_path / "sandbox")
    try:
        yield running
    finally:
        running.stop()


def books_for(sandbox: Sandbox) -> AccountingSystem:
    return build_accounting(sandbox.describe())


def behave(sandbox: Sandbox, **switches: str) -> None:
    httpx.put(f"{sandbox.base_url}/__admin/behaviour", json=switches).raise_for_status()


def customer(code: str) -> Customer:
    return Customer(code=code, name=f"{code} Ltd", email=f"{code.lower()}@example.com")


@pytest.mark.parametrize("feed", ["ignored", "rejected"])
def test_changes_are_still_found_when_the_feed_parameter_is_ignored_or_rejected(
    sandbox: Sandbox, feed: str, caplog: pytest.LogCaptureFixture
) -> None:
    books = books_for(sandbox)
    try:
        books.create_customer(customer("EARLY"))
        httpx.post(f"{sandbox.base_url}/__admin/advance-clock", json={"seconds": 5}).raise_for_status()
        books.create_customer(customer("SECOND"))  # the watermark is now after EARLY's change
        page, mark, _more = books.customers_changed(None, 50, None)
        assert [c.code for _id, c in page] and mark
        behave(sandbox, change_feed=feed)
        httpx.post(f"{sandbox.base_url}/__admin/advance-clock", json={"seconds": 5}).raise_for_status()
        books.create_customer(customer("LATER"))
        with caplog.at_level(logging.WARNING):
            page, _mark, _more = books.customers_changed(mark, 50, None)
        names = [c.name for _id, c in page]
        assert "LATER Ltd" in names and len(names) == len(set(names))
        if sandbox.system == "kashoo":  # (KashFlow's watermark re-reads its own second by design)
            assert names == ["LATER Ltd"]
        feed_state: Any = books.feed
        assert feed_state.mode == "listing" and feed in feed_state.reason
        assert any("full listings" in r.getMessage() for r in caplog.records)
    finally:
        books.close()


def test_a_missing_pdf_route_falls_back(sandbox: Sandbox) -> None:
    books = books_for(sandbox)
    try:
        code = books.create_customer(customer("PDF"))
        rate = sandbox_kinds()[sandbox.system].books.tax_rate
        invoice = Invoice(
            customer_code=code,
            issue_date=dt.date(2026, 3, 2),
            due_date=dt.date(2026, 4, 1),
            currency=sandbox_kinds()[sandbox.system].books.currency,
            reference="OPP-PDF",
            lines=[InvoiceLine(description="Work", quantity=Decimal(1), unit_price=Decimal(10), tax_rate=rate)],
        )
        made = books.create_invoice(invoice, code, look_first=False)
        behave(sandbox, pdf_route="missing")
        body = books.invoice_pdf(made.number)
        if sandbox.system == "kashflow":
            assert body is not None and body.startswith(b"%PDF-")  # the documented permalink document
        else:
            assert body is None  # the flow renders it; Kashoo is not asked again
            assert books.pdf_route is False
            assert books.get_invoice(made.number) is not None
    finally:
        books.close()


def count_customers(sandbox: Sandbox) -> int:
    """Active customers as the sandbox itself lists them (no connector in between)."""
    books = books_for(sandbox)
    try:
        page, _cursor, _more = books.customers_all(None, 500, None)
        return sum(1 for _id, c in page if not c.archived)
    finally:
        books.close()


def test_a_retry_in_another_worker_after_a_lost_reply_makes_no_second_customer(sandbox: Sandbox) -> None:
    first, second = books_for(sandbox), books_for(sandbox)
    try:
        assert first.find_customer("TWICE") is None and second.find_customer("TWICE") is None  # both have looked
        path = "/v2/customers" if sandbox.system == "kashflow" else "/api/businesses/"
        httpx.put(
            f"{sandbox.base_url}/__admin/faults", json={"drop_after_next": 1, "paths": [path], "methods": ["POST"]}
        ).raise_for_status()
        with pytest.raises(TransientError):  # the reply is lost: the first worker cannot know it was made
            first.create_customer(customer("TWICE"))
        time.sleep(2.1)  # the retry comes later, from the other worker (whose listing predates the first attempt)
        made = with_retries(second.create_customer, FAST)(customer("TWICE"))
        assert made
        assert count_customers(sandbox) == 1
    finally:
        first.close()
        second.close()
