"""A running LedgerLink against the Salesforce and KashFlow sandboxes, for flow tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledgerlink.bootstrap import engine_settings, open_runtime
from ledgerlink.connections.build import build_crm
from ledgerlink.engine import runtime as engine
from ledgerlink.flows import opportunity_to_invoice as o2i
from ledgerlink.sandbox.runner import SandboxSet, start_sandboxes
from ledgerlink.store import Ledger
from ledgerlink.systems.salesforce.client import SalesforceClient

# Test deals closed twenty days ago: their invoices (30 days' terms) fall due in ten, so none is overdue on
# whatever day the suite runs (the books' clock is the real one).
CLOSE_DATE = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=20)


@dataclass
class FlowEnv:
    sandboxes: SandboxSet
    runtime: engine.Runtime
    user: SalesforceClient  # a person editing Salesforce: writes are not tagged as LedgerLink's

    @property
    def ledger(self) -> Ledger:
        return self.runtime.ledger

    def poll_and_run(self) -> list[o2i.Outcome]:
        return [engine.wait_for(handle) for handle in o2i.poll_won(lag_seconds=0)]

    def run_one(self, opportunity_id: str) -> o2i.Outcome:
        return engine.wait_for(o2i.replay(opportunity_id))

    def kashflow_invoices(self) -> list[dict[str, Any]]:
        books = self.runtime.books
        return list(books.client.list("invoices"))  # type: ignore[attr-defined]

    def set_faults(self, system: str, **settings: Any) -> None:
        import httpx

        httpx.put(f"{self.sandboxes[system].base_url}/__admin/faults", json=settings).raise_for_status()

    def make_opportunity(self, *, stage: str, account_id: str | None, lines: list[tuple[str, float, float]]) -> str:
        """lines: (pricebook entry id, quantity, unit price)."""
        fields: dict[str, Any] = {"Name": "Test deal", "StageName": "Prospecting", "CloseDate": CLOSE_DATE.isoformat()}
        if account_id:
            fields["AccountId"] = account_id
        opp_id = self.user.create("Opportunity", fields)
        for entry, quantity, price in lines:
            self.user.create(
                "OpportunityLineItem",
                {"OpportunityId": opp_id, "PricebookEntryId": entry, "Quantity": quantity, "UnitPrice": price},
            )
        if stage != "Prospecting":
            self.user.update("Opportunity", opp_id, {"StageName": stage})
        return opp_id

    def make_account(self, name: str, code: str | None = None) -> str:
        fields: dict[str, Any] = {"Name": name, "BillingCity": "Leeds", "BillingCountry": "United Kingdom"}
        if code:
            fields["ExternalID__c"] = code
        account_id = self.user.create("Account", fields)
        self.user.create(
            "Contact", {"AccountId": account_id, "FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com"}
        )
        return account_id

    def make_product(self, code: str | None, price: float) -> tuple[str, str]:
        fields: dict[str, Any] = {"Name": f"Product {code or 'without code'}", "IsActive": True}
        if code:
            fields["ProductCode"] = code
        product = self.user.create("Product2", fields)
        standard = next(iter(self.user.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")))["Id"]
        entry = self.user.create(
            "PricebookEntry", {"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": price, "IsActive": True}
        )
        return product, entry


@pytest.fixture
def flow_env(tmp_path: Path) -> Iterator[FlowEnv]:
    sandboxes = start_sandboxes(["salesforce", "kashflow"], tmp_path / "sandboxes")
    sf_spec = sandboxes["salesforce"].describe()
    runtime = open_runtime(engine_settings(tmp_path), sf_spec, sandboxes["kashflow"].describe())
    user = build_crm(sf_spec, client_tag="test-user")
    try:
        yield FlowEnv(sandboxes=sandboxes, runtime=runtime, user=user)
    finally:
        user.close()
        engine.stop()
        sandboxes.stop()
