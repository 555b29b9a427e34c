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

from ledgerlink.engine.connections import build_accounting
from ledgerlink.flows.accounting import AccountingSystem
from ledgerlink.model import Customer, Invoice, InvoiceLine
from ledgerlink.sandbox.runner import Sandbox, SystemName, start_sandbox
from tests.engine.conftest import postgres_url  # noqa: F401  (a fresh PostgreSQL database, for the limiter)

SYSTEMS: tuple[SystemName, ...] = ("kashflow", "kashoo")
# A VAT/sales-tax rate each sandbox's books have, and one neither has.
HAVE_RATE = {"kashflow": Decimal("20"), "kashoo": Decimal("13")}
MISSING_RATE = Decimal("17.5")
CURRENCY = {"kashflow": "GBP", "kashoo": "CAD"}
EXPIRE_AUTH = {"kashflow": "/__admin/expire-sessions", "kashoo": "/__admin/expire-tokens"}


@dataclass
class Harness:
    system: SystemName
    sandbox: Sandbox
    books: AccountingSystem
    make_books: Callable[..., AccountingSystem]

    @property
    def rate(self) -> Decimal:
        return HAVE_RATE[self.system]

    @property
    def currency(self) -> str:
        return CURRENCY[self.system]

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(method, f"{self.sandbox.base_url}{path}", json=body)
        response.raise_for_status()
        return response.json()

    def faults(self, **settings: Any) -> None:
        self.admin("PUT", "/__admin/faults", settings)

    def api_path(self, collection: str) -> str:
        """The path prefix a fault filter needs for a collection ("invoices", "customers", "payments")."""
        if self.system == "kashflow":
            return "/v2/invoices" if collection == "payments" else f"/v2/{collection}"
        kashoo = {"invoices": "records/invoices", "customers": "contacts", "payments": "records/invoicePayments"}
        return f"/api/businesses/{self.sandbox.config.business_id}/{kashoo[collection]}"

    def expire_auth(self) -> None:
        self.admin("POST", EXPIRE_AUTH[self.system])

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
    system: SystemName = request.param
    sandbox = start_sandbox(system, tmp_path / "sandbox")
    made: list[AccountingSystem] = []

    def make_books(**overrides: Any) -> AccountingSystem:
        books = build_accounting({**sandbox.describe(), **overrides})
        made.append(books)
        return books

    try:
        yield Harness(system=system, sandbox=sandbox, books=make_books(), make_books=make_books)
    finally:
        for books in made:
            books.close()
        sandbox.stop()
