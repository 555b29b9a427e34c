"""LedgerLink running against the Salesforce sandbox and one accounting sandbox, for two-way sync scenarios."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerlink.bootstrap import open_runtime
from ledgerlink.connections.build import build_crm
from ledgerlink.engine import runtime as engine
from ledgerlink.flows import customer_sync, product_sync
from ledgerlink.model import Customer
from ledgerlink.sandbox.runner import SandboxSet, SystemName, start_sandboxes
from ledgerlink.store import Ledger, database_url
from ledgerlink.systems.accounting import AccountingSystem
from ledgerlink.systems.kashflow.books import KashFlowBooks
from ledgerlink.systems.kashoo.books import KashooBooks
from ledgerlink.systems.salesforce.client import SalesforceClient


@dataclass
class SyncEnv:
    sandboxes: SandboxSet
    runtime: engine.Runtime
    user: SalesforceClient  # a person editing Salesforce (writes tagged test-user, not ledgerlink)
    books_system: SystemName

    @property
    def ledger(self) -> Ledger:
        return self.runtime.ledger

    @property
    def sb(self) -> AccountingSystem:
        return self.runtime.books

    def sync_customers(self) -> customer_sync.Outcome:
        return customer_sync.poll(lag_seconds=0)[0].get_result()

    def sync_products(self) -> product_sync.Outcome:
        return product_sync.poll(lag_seconds=0)[0].get_result()

    def sf_events(self, client: str = "ledgerlink") -> list[dict[str, Any]]:
        """Changes written to Salesforce, from the org's change-event log, by the given client."""
        url = f"{self.sandboxes['salesforce'].base_url}/__admin/events"
        events = httpx.get(url, params={"limit": 100000}).json()
        return [e for e in events if e.get("change_origin", "").endswith(f"client={client}")]

    def fail_next_books_posts(self, count: int) -> None:
        """The books sandbox answers its next ``count`` POSTs with a 503 (``/__admin/faults``)."""
        url = f"{self.sandboxes[self.books_system].base_url}/__admin/faults"
        httpx.put(url, json={"fail_next": count, "methods": ["POST"]}).raise_for_status()

    def books_errors_injected(self) -> int:
        url = f"{self.sandboxes[self.books_system].base_url}/__admin/faults"
        return int(httpx.get(url).json()["injected"]["errors"])

    def books_calls(self) -> int:
        return self.runtime.books.api_calls()

    def make_account(self, name: str, *, code: str | None = None, postcode: str = "LS1 1AA", **extra: Any) -> str:
        fields: dict[str, Any] = {
            "Name": name,
            "BillingStreet": "1 Park Row",
            "BillingCity": "Leeds",
            "BillingPostalCode": postcode,
            "BillingCountry": "United Kingdom",
            **extra,
        }
        if code:
            fields["ExternalID__c"] = code
        return self.user.create("Account", fields)

    def account(self, account_id: str) -> dict[str, Any]:
        return self.user.get("Account", account_id)

    def books_customer(self, books_id: str) -> Customer:
        customer = self.sb.read_customer(books_id, None)
        assert customer is not None
        return customer

    def edit_books_customer(self, books_id: str, **values: Any) -> None:
        """A person editing the customer in the books (canonical names: name, website, phone, payment_terms_days)."""
        books = self.runtime.books
        if isinstance(books, KashFlowBooks):
            names = {
                "name": "Name",
                "website": "Website",
                "phone": "TelephoneNumber",
                "payment_terms_days": "PaymentTerms",
            }
            books.client.update_customer(books_id, {names[k]: v for k, v in values.items()})
        else:
            assert isinstance(books, KashooBooks)
            names = {"name": "name", "website": "website", "phone": "phone", "payment_terms_days": "terms"}
            books.client.update("contacts", books_id, {names[k]: v for k, v in values.items()})

    def audits(self, action: str) -> int:
        return self.ledger.count_audit(action=action)

    def books_id(self, account_id: str) -> str | None:
        sb = self.sb
        return self.ledger.lookup("salesforce", "Account", account_id, sb.name, sb.customer_object)


def _env(tmp_path: Path, books: SystemName) -> Iterator[SyncEnv]:
    sandboxes = start_sandboxes(["salesforce", books], tmp_path / "sandboxes")
    sf_spec = sandboxes["salesforce"].describe()
    ledger = Ledger(database_url(tmp_path))
    settings = engine.EngineSettings(
        data_dir=tmp_path, ledger_url=ledger.url, system_database_url=engine.system_database_url(ledger.url, tmp_path)
    )
    runtime = open_runtime(settings, sf_spec, sandboxes[books].describe(), ledger=ledger)
    user = build_crm(sf_spec, client_tag="test-user")
    try:
        yield SyncEnv(sandboxes=sandboxes, runtime=runtime, user=user, books_system=books)
    finally:
        user.close()
        engine.stop()
        sandboxes.stop()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[SyncEnv]:
    yield from _env(tmp_path, "kashflow")


@pytest.fixture(params=["kashflow", "kashoo"])
def any_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SyncEnv]:
    yield from _env(tmp_path, request.param)
