"""The accounting contract, run against each connector over real HTTP on 127.0.0.1 (KashFlow and Kashoo sandboxes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerlink.connections.build import build_accounting
from ledgerlink.engine.retry import RetryPolicy, with_retries
from ledgerlink.model import Customer, Invoice, InvoiceLine
from ledgerlink.sandbox.kind import BooksFacts
from ledgerlink.sandbox.runner import Sandbox, sandbox_kinds, start_sandbox
from ledgerlink.systems.accounting import AccountingSystem, CreatedInvoice
from ledgerlink.systems.registry import names
from tests.engine.conftest import postgres_url  # noqa: F401  (a fresh PostgreSQL database, for the limiter)

# The conformance kit: every registered accounting system, each against its own sandbox.
SYSTEMS = names("accounting")
MISSING_RATE = Decimal("17.5")  # a VAT/sales-tax rate no sandbox's books have
FAST_RETRIES = RetryPolicy(max_attempts=6, interval_seconds=0.05, max_interval_seconds=0.5)


@dataclass
class Harness:
    system: str
    sandbox: Sandbox
    books: AccountingSystem
    make_books: Callable[..., AccountingSystem]
    facts: BooksFacts

    @property
    def rate(self) -> Decimal:
        return self.facts.tax_rate

    @property
    def currency(self) -> str:
        return self.facts.currency

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(method, f"{self.sandbox.base_url}{path}", json=body)
        response.raise_for_status()
        return response.json()

    def faults(self, **settings: Any) -> None:
        self.admin("PUT", "/__admin/faults", settings)

    def api_path(self, collection: str) -> str:
        """The path prefix a fault filter needs for a collection ("invoices", "customers", "payments")."""
        return self.facts.collection_path(collection, self.sandbox.config)

    def expire_auth(self) -> None:
        self.admin("POST", self.facts.expire_auth_path)

    def create_invoice_as_the_engine_does(self, invoice: Invoice, customer_id: str) -> CreatedInvoice:
        """A create under the engine's one retry level, as the invoice flow makes it: the first attempt skips the
        look (no earlier attempt can have made it), every retry looks before it creates again."""
        attempts = 0

        def create() -> CreatedInvoice:
            nonlocal attempts
            attempts += 1
            return self.books.create_invoice(invoice, customer_id, look_first=attempts > 1)

        return with_retries(create, FAST_RETRIES)()

    def customer(self, code: str, name: str | None = None) -> Customer:
        return Customer(code=code, name=name or f"{code} Ltd", email=f"{code.lower()}@example.com")

    def ensure_customer(self, code: str) -> str:
        return self.books.find_customer(code) or self.books.create_customer(self.customer(code))

    def invoice(
        self, reference: str, customer_id: str, lines: list[tuple[str, str, str, Decimal | str]] | None = None
    ) -> Invoice:
        """lines: (description, quantity, unit price, tax rate)."""
        rows = lines or [("Consulting", "3", "33.33", self.rate), ("Widgets", "7", "19.99", self.rate)]
        return Invoice(
            customer_code=customer_id,
            issue_date=dt.date(2026, 3, 2),
            due_date=dt.date(2026, 4, 1),
            currency=self.currency,
            reference=reference,
            lines=[
                InvoiceLine(description=d, quantity=Decimal(q), unit_price=Decimal(p), tax_rate=Decimal(r))
                for d, q, p, r in rows
            ],
        )

    def references(self) -> list[str]:
        return self.books.invoice_references()


@pytest.fixture(params=SYSTEMS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    system: str = request.param
    kind = sandbox_kinds().get(system)
    if kind is None or kind.books is None:
        pytest.fail(f"{system} is registered but has no sandbox with its books' facts: the conformance kit needs one")
    sandbox = start_sandbox(system, tmp_path / "sandbox")
    made: list[AccountingSystem] = []

    def make_books(**overrides: Any) -> AccountingSystem:
        books = build_accounting({**sandbox.describe(), **overrides})
        made.append(books)
        return books

    try:
        yield Harness(system=system, sandbox=sandbox, books=make_books(), make_books=make_books, facts=kind.books)
    finally:
        for books in made:
            books.close()
        sandbox.stop()
