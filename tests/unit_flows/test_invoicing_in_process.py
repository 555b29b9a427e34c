"""A flow's step with its dependencies handed in: the invoice step run against the Salesforce and KashFlow sandboxes
in-process (their ASGI apps behind httpx.MockTransport), with no server, no DBOS and no running engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledgerlink.engine.runtime import FlowSettings
from ledgerlink.flows import invoicing
from ledgerlink.flows import opportunity_to_invoice as o2i
from ledgerlink.flows.deps import Deps
from ledgerlink.store import Ledger
from ledgerlink.systems.kashflow.books import KashFlowBooks
from ledgerlink.systems.kashflow.client import KashFlowClient, KashFlowSettings
from ledgerlink.systems.salesforce import auth
from ledgerlink.systems.salesforce.client import SalesforceClient, SalesforceSettings
from tests.unit_flows.inprocess import InProcessSandbox
from tests.web.scenario import _create_won_opportunity


@pytest.fixture
def deps(tmp_path: Path) -> Iterator[Deps]:
    crm_box = InProcessSandbox("salesforce", tmp_path / "sf")
    books_box = InProcessSandbox("kashflow", tmp_path / "kf")
    crm = SalesforceClient(
        SalesforceSettings(
            login_url=crm_box.base_url, auth=auth.from_spec(crm_box.describe()), transport=crm_box.transport()
        )
    )
    creds = books_box.credentials
    books = KashFlowBooks(
        KashFlowClient(
            KashFlowSettings(
                base_url=books_box.api_base,
                username=creds["username"],
                password=creds["password"],
                memorable_word=creds["memorable_word"],
                transport=books_box.transport(),
            )
        )
    )
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        yield Deps(ledger=ledger, crm=crm, books=books, settings=FlowSettings())
    finally:
        crm.close()
        books.close()
        ledger.dispose()
        crm_box.close()
        books_box.close()


def test_the_invoice_step_runs_on_the_dependencies_it_is_given(deps: Deps) -> None:
    opportunity = _create_won_opportunity(deps.crm)

    first = invoicing.invoice_batch(deps, o2i.SOURCE, [opportunity], "run-1")[opportunity]
    assert first["status"] == "invoiced", first
    again = invoicing.invoice_batch(deps, o2i.SOURCE, [opportunity], "run-2")[opportunity]
    assert again["status"] == "already_invoiced" and again["invoice_number"] == first["invoice_number"]

    references = deps.books.invoice_references()
    assert references.count(opportunity) == 1  # made once, found the second time
    written = next(
        iter(deps.crm.query(f"SELECT {o2i.INVOICE_NUMBER_FIELD} FROM Opportunity WHERE Id = '{opportunity}'"))
    )
    assert written[o2i.INVOICE_NUMBER_FIELD] == first["invoice_number"]
    assert (
        deps.ledger.lookup("salesforce", "Opportunity", opportunity, "kashflow", "Invoice") == first["invoice_number"]
    )
