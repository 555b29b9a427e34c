"""LedgerLink against the Salesforce sandbox and a books sandbox (KashFlow or Kashoo), for the flows that carry
what happens in the books back to Salesforce: payments, invoice PDFs, late-payment Cases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from dbos import WorkflowHandle

from ledgerlink.bootstrap import open_runtime
from ledgerlink.connections.build import build_crm
from ledgerlink.engine import runtime as engine
from ledgerlink.flows import opportunity_to_invoice as o2i
from ledgerlink.model import Payment
from ledgerlink.sandbox.runner import SystemName, start_sandboxes
from ledgerlink.store import Ledger, database_url
from tests.flows.conftest import FlowEnv

R = TypeVar("R")


def result(handle: WorkflowHandle[R]) -> R:
    return handle.get_result(polling_interval_sec=0.05)  # DBOS checks once a second by default


@dataclass
class BooksEnv(FlowEnv):
    system: SystemName = "kashflow"

    def invoiced_opportunity(
        self, name: str = "Paid Ltd", price: float = 100.0, *, chain_pdf: bool = True
    ) -> tuple[str, str, str]:
        """(account id, opportunity id, invoice number): a won deal LedgerLink has invoiced. With
        ``chain_pdf=False`` the invoice run does not start the PDF run (tests that drive that run themselves)."""
        flows = self.runtime.settings.flows
        chained, flows.invoice_pdf = flows.invoice_pdf, chain_pdf and flows.invoice_pdf
        code = name.upper().replace(" ", "-")[:20]
        account = self.make_account(name, code)
        _product, entry = self.make_product(f"P-{code}", price)
        opportunity = self.make_opportunity(stage="Closed Won", account_id=account, lines=[(entry, 1, price)])
        try:
            outcome = result(o2i.replay(opportunity))
        finally:
            flows.invoice_pdf = chained
        assert outcome["status"] == "invoiced", outcome
        return account, opportunity, outcome["invoice_number"]

    def pay(self, number: str, amount: str, on: dt.date, reference: str | None = None) -> str:
        """A payment recorded in the books (as the bookkeeper would; LedgerLink's adapter is just the quickest way)."""
        books = self.runtime.books
        payment = Payment(invoice_number=number, amount=Decimal(amount), paid_on=on, reference=reference)
        return books.record_payment(number, payment)

    def gross(self, number: str) -> Decimal:
        invoice = self.runtime.books.get_invoice(number)
        assert invoice is not None and invoice.total_gross is not None
        return invoice.total_gross

    def advance_books_clock(self, days: int) -> None:
        url = f"{self.sandboxes[self.system].base_url}/__admin/advance-clock"
        httpx.post(url, json={"seconds": days * 86400}).raise_for_status()

    def books_today(self) -> dt.date:
        body: dict[str, Any] = httpx.get(f"{self.sandboxes[self.system].base_url}/__admin/clock").json()
        return dt.datetime.fromisoformat(str(body["now"]).replace(" ", "T").replace("Z", "+00:00")).date()

    def one(self, soql: str) -> dict[str, Any]:
        rows = list(self.user.query(soql))
        assert len(rows) == 1, rows
        return rows[0]


def _start(
    system: SystemName, tmp_path: Path, overrides: dict[str, dict[str, Any]] | None = None
) -> Iterator[BooksEnv]:
    sandboxes = start_sandboxes(["salesforce", system], tmp_path / "sandboxes", overrides=overrides)
    sf_spec = sandboxes["salesforce"].describe()
    ledger = Ledger(database_url(tmp_path))
    settings = engine.EngineSettings(
        data_dir=tmp_path, ledger_url=ledger.url, system_database_url=engine.system_database_url(ledger.url, tmp_path)
    )
    books_spec = sandboxes[system].describe()
    if system == "kashoo":
        books_spec = {**books_spec, "options": {"create_missing_taxes": True}}  # the deals carry UK VAT
    runtime = open_runtime(settings, sf_spec, books_spec, ledger=ledger)
    user = build_crm(sf_spec, client_tag="test-user")
    try:
        yield BooksEnv(sandboxes=sandboxes, runtime=runtime, user=user, system=system)
    finally:
        user.close()
        engine.stop()
        sandboxes.stop()


@pytest.fixture
def kashflow_env(tmp_path: Path) -> Iterator[BooksEnv]:
    yield from _start("kashflow", tmp_path)


@pytest.fixture(params=["kashflow", "kashoo"])
def books_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BooksEnv]:
    yield from _start(request.param, tmp_path)
