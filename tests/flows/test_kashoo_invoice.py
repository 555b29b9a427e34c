"""The walking skeleton with Kashoo as the books: Salesforce sandbox → LedgerLink on DBOS → Kashoo sandbox."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledgerlink.bootstrap import engine_settings, open_runtime
from ledgerlink.connections.build import build_crm
from ledgerlink.demo.seed import seed
from ledgerlink.engine import runtime as engine
from ledgerlink.sandbox.runner import start_sandboxes
from ledgerlink.systems.kashoo.books import KashooBooks
from tests.flows.conftest import FlowEnv


@pytest.fixture
def kashoo_env(tmp_path: Path) -> Iterator[FlowEnv]:
    sandboxes = start_sandboxes(["salesforce", "kashoo"], tmp_path / "sandboxes")
    sf_spec = sandboxes["salesforce"].describe()
    # The seeded deals carry UK VAT (20%); this Kashoo business adds that tax when first needed.
    books_spec = {**sandboxes["kashoo"].describe(), "options": {"create_missing_taxes": True}}
    # As deployed: Kashoo's 10/s shared through the ledger, and its queue carrying that limit and concurrency 8.
    runtime = open_runtime(engine_settings(tmp_path), sf_spec, books_spec)
    assert runtime.queue_name(engine.ACCOUNTING) == "kashoo"
    kashoo_queue = runtime.settings.connection_queues[engine.ACCOUNTING]
    assert (kashoo_queue.rate_limit, kashoo_queue.period_seconds, kashoo_queue.worker_concurrency) == (10, 1.0, 8)
    user = build_crm(sf_spec, client_tag="test-user")
    try:
        yield FlowEnv(sandboxes=sandboxes, runtime=runtime, user=user)
    finally:
        user.close()
        engine.stop()
        sandboxes.stop()


def _books(env: FlowEnv) -> KashooBooks:
    books = env.runtime.books
    assert isinstance(books, KashooBooks)
    return books


def _invoices(env: FlowEnv) -> list[dict[str, Any]]:
    return list(_books(env).client.list("records/invoices"))


def test_every_won_opportunity_becomes_exactly_one_kashoo_invoice(kashoo_env: FlowEnv) -> None:
    summary = seed(kashoo_env.user, accounts=5, opportunities=14, seed=5)
    won = {r["Id"] for r in kashoo_env.user.query("SELECT Id FROM Opportunity WHERE IsWon = true AND Amount > 0")}
    assert len(won) == summary.won > 0

    outcomes = kashoo_env.poll_and_run()
    assert Counter(o["status"] for o in outcomes) == {"invoiced": len(won)}, outcomes
    invoices = _invoices(kashoo_env)
    assert Counter(inv["poNumber"] for inv in invoices) == Counter(won)

    written = {
        r["Id"]: r["Accounting_Invoice_Number__c"]
        for r in kashoo_env.user.query("SELECT Id, Accounting_Invoice_Number__c FROM Opportunity WHERE IsWon = true")
    }
    assert written == {inv["poNumber"]: inv["number"] for inv in invoices}

    # Net totals (cents) equal the opportunity amounts, to the cent.
    amounts = {
        r["Id"]: Decimal(str(r["Amount"]))
        for r in kashoo_env.user.query("SELECT Id, Amount FROM Opportunity WHERE IsWon = true")
    }
    for inv in invoices:
        assert Decimal(inv["subTotal"]) / 100 == amounts[inv["poNumber"]]

    rerun = [kashoo_env.run_one(opp_id) for opp_id in sorted(won)]
    assert Counter(o["status"] for o in rerun) == {"already_invoiced": len(won)}
    assert len(_invoices(kashoo_env)) == len(won)


def test_kashoo_500s_and_a_lost_reply_still_yield_one_invoice_each(kashoo_env: FlowEnv) -> None:
    account = kashoo_env.make_account("Retry Ltd", "CUST-KRETRY")
    _product, entry = kashoo_env.make_product("KR-1", 99.5)
    flaky = kashoo_env.make_opportunity(stage="Closed Won", account_id=account, lines=[(entry, 3, 99.5)])
    lost = kashoo_env.make_opportunity(stage="Closed Won", account_id=account, lines=[(entry, 1, 99.5)])
    path = f"/api/businesses/{kashoo_env.sandboxes['kashoo'].config.business_id}/records/invoices"

    kashoo_env.set_faults("kashoo", paths=[path], methods=["POST"], fail_next=2)
    assert kashoo_env.run_one(flaky)["status"] == "invoiced"
    kashoo_env.set_faults("kashoo", paths=[path], methods=["POST"], drop_after_next=1)
    # Kashoo kept the first POST; the repeat with the same client id gets that invoice back.
    assert kashoo_env.run_one(lost)["status"] == "already_invoiced"
    assert sorted(inv["poNumber"] for inv in _invoices(kashoo_env)) == sorted([flaky, lost])
