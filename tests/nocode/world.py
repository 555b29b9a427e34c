"""A running LedgerLink against the CRM and books sandboxes, the CRM org carrying the custom fields the seed's
examples use (an Approved checkbox on Order, a Project on each OrderItem), and helpers to make Orders as a
person would. Shared by tests/nocode and the browser test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from ledgerlink.bootstrap import engine_settings, open_runtime
from ledgerlink.connections.build import build_crm
from ledgerlink.engine import runtime as engine
from ledgerlink.flows import defined_flows
from ledgerlink.sandbox.runner import SandboxSet, start_sandboxes
from ledgerlink.store import Ledger, database_url

CRM, BOOKS = "salesforce", "kashflow"
EXTRA_FIELDS = {
    "Order": {"Approved__c": {"type": "boolean"}},
    "OrderItem": {"Project__c": {"type": "string", "length": 40}},
}
EFFECTIVE = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=5)).isoformat()


@dataclass
class World:
    sandboxes: SandboxSet
    runtime: engine.Runtime
    user: Any  # a person editing the CRM: writes not tagged as LedgerLink's
    data_dir: Path

    @property
    def ledger(self) -> Ledger:
        return self.runtime.ledger

    def spec(self, system: str) -> dict[str, Any]:
        return self.sandboxes[system].describe()

    def account(self, name: str, country: str) -> str:
        code = "C-" + name.upper().replace(" ", "")[:12]
        return str(self.user.create("Account", {"Name": name, "ExternalID__c": code, "BillingCountry": country}))

    def product(self, code: str, price: float) -> str:
        product = self.user.create("Product2", {"Name": f"Product {code}", "ProductCode": code, "IsActive": True})
        standard = next(iter(self.user.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")))["Id"]
        return str(
            self.user.create(
                "PricebookEntry",
                {"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": price, "IsActive": True},
            )
        )

    def order(
        self, account: str, lines: list[tuple[str, float, float, str | None]], *, approved: bool, activate: bool = True
    ) -> str:
        """lines: (pricebook entry, quantity, unit price, project). Items go in while Draft, as Salesforce requires."""
        standard = next(iter(self.user.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")))["Id"]
        order_id = self.user.create(
            "Order",
            {
                "AccountId": account,
                "EffectiveDate": EFFECTIVE,
                "Status": "Draft",
                "Pricebook2Id": standard,
                "Approved__c": approved,
            },
        )
        for entry, quantity, price, project in lines:
            fields: dict[str, Any] = {
                "OrderId": order_id,
                "PricebookEntryId": entry,
                "Quantity": quantity,
                "UnitPrice": price,
            }
            if project:
                fields["Project__c"] = project
            self.user.create("OrderItem", fields)
        if activate:
            self.user.update("Order", order_id, {"Status": "Activated"})
        return str(order_id)

    def poll(self) -> list[dict[str, Any]]:
        """Run the user-defined flows' trigger now and wait for every run it started (in a thread of its own: DBOS's
        blocking calls refuse a thread with an event loop, as Playwright's sync API keeps one)."""
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(lambda: [engine.wait_for(h) for h in defined_flows.poll(lag_seconds=0)]).result()

    def invoice(self, source_object: str, reference: str, definition: str | None = None) -> dict[str, Any] | None:
        """The invoice the books hold for a reference, with its lines (read back from the books)."""
        books = self.runtime.books
        number = self.ledger.lookup(CRM, source_object, reference, books.name, books.invoice_object)
        if number is None:
            return None
        invoice = books.get_invoice(number)
        assert invoice is not None, f"the ledger links {reference} to {number}, which the books do not have"
        return {
            "number": number,
            "lines": [(line.description, line.quantity * line.unit_price) for line in invoice.lines],
            "net": sum((line.quantity * line.unit_price for line in invoice.lines), Decimal("0")),
        }


@contextmanager
def running_world(data_dir: Path, ledger: Ledger | None = None) -> Iterator[World]:
    sandboxes = start_sandboxes([CRM, BOOKS], data_dir / "sandboxes", overrides={CRM: {"extra_fields": EXTRA_FIELDS}})
    try:
        ledger = ledger or Ledger(database_url(data_dir))
        settings = engine_settings(data_dir, ledger_url=ledger.url)
        runtime = open_runtime(settings, sandboxes[CRM].describe(), sandboxes[BOOKS].describe(), ledger=ledger)
        user = build_crm(sandboxes[CRM].describe(), client_tag="test-user")
        try:
            yield World(sandboxes, runtime, user, data_dir)
        finally:
            user.close()
            engine.stop()
    finally:
        sandboxes.stop()
