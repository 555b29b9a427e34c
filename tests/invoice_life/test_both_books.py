"""The invoice's life against each books sandbox (KashFlow and Kashoo), through the same flows, over HTTP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ledgerlink.engine.runtime import wait_for
from ledgerlink.flows import account_balances, balance_reconciliation, invoice_changes, invoice_history
from ledgerlink.systems.invoice_life import invoice_life
from tests.flows.conftest import CLOSE_DATE
from tests.invoice_life.conftest import BooksEnv


def _poll() -> list[invoice_changes.Outcome]:
    return [wait_for(h) for h in invoice_changes.poll(lag_seconds=0)]


def _set_price(env: BooksEnv, opportunity: str, price: float) -> None:
    [item] = env.user.query(f"SELECT Id FROM OpportunityLineItem WHERE OpportunityId = '{opportunity}'")
    env.user.update("OpportunityLineItem", item["Id"], {"UnitPrice": price})


def test_update_credit_and_void_in_each_books(books_env: BooksEnv) -> None:
    env = books_env
    life = invoice_life(env.runtime.books)
    _a, grower, grower_number = env.invoiced_opportunity("Both Grower Ltd", 100.0)
    _b, shrinker, shrinker_number = env.invoiced_opportunity("Both Shrinker Ltd", 100.0)
    _c, reopened, reopened_number = env.invoiced_opportunity("Both Reopened Ltd", 100.0)
    env.pay(shrinker_number, str(env.gross(shrinker_number)), CLOSE_DATE + dt.timedelta(days=2), reference="all")

    _set_price(env, grower, 150.0)
    _set_price(env, shrinker, 80.0)
    env.user.update("Opportunity", reopened, {"StageName": "Negotiation/Review"})
    outcomes = {o["opportunity"]: o for o in _poll()}
    assert outcomes[grower]["status"] == "updated"
    assert outcomes[shrinker]["status"] == "credited"
    assert outcomes[reopened]["status"] == "voided"

    updated = env.runtime.books.get_invoice(grower_number)
    assert updated is not None and updated.total_net == Decimal("150.00")
    [note] = life.credit_notes(shrinker_number)
    assert note.total_net == Decimal("20.00")
    gone = env.runtime.books.get_invoice(reopened_number)  # KashFlow may give a deleted invoice's number again
    assert gone is None or gone.status == "Removed" or gone.reference != reopened

    writes = env.ledger.count_audit(flow=invoice_changes.FLOW, system=env.system)
    assert {o["status"] for o in _poll()} <= {"unchanged"}
    assert env.ledger.count_audit(flow=invoice_changes.FLOW, system=env.system) == writes
    assert len(life.credit_notes(shrinker_number)) == 1

    # History, balances and reconciliation see the same books.
    # The changes were written to Salesforce as they were made (the credit note, negative; the credited invoice's
    # balance): the import finds every record as written, and writes none again.
    assert outcomes[shrinker]["salesforce"]["credit_notes"] == 1
    rows = {r["Name"]: r for r in env.user.query("SELECT Name, Status__c, Total__c, Balance__c FROM Invoice__c")}
    assert sorted(rows) == sorted([grower_number, shrinker_number, _note_name(life, note.number or "")])
    assert Decimal(str(rows[_note_name(life, note.number or "")]["Total__c"])) == -Decimal("24.00")
    imported = wait_for(invoice_history.poll()[0])
    # KashFlow: the credit note is an invoice with negative amounts, imported with the invoices
    assert imported["unchanged"] == (3 if life.credit_notes_are_invoices else 2), imported
    assert imported.get("invoices", 0) == 0 and imported.get("credit_notes", 0) == 0
    assert len(list(env.user.query("SELECT Id FROM Invoice__c"))) == 3
    wait_for(account_balances.poll()[0])
    report = wait_for(balance_reconciliation.poll()[0])
    assert report["checked"] >= 2 and report["drift"] == []


def _note_name(life: object, number: str) -> str:
    """A credit note's Invoice__c name: its number where the books keep it as an invoice, else "CN <number>"."""
    return number if getattr(life, "credit_notes_are_invoices", False) else f"CN {number}"


def test_a_deal_won_again_after_its_void_is_invoiced_once_in_each_books(books_env: BooksEnv) -> None:
    env = books_env
    _account, opp, number = env.invoiced_opportunity("Both Won Again Ltd", 100.0)
    env.user.update("Opportunity", opp, {"StageName": "Negotiation/Review"})
    assert [o["status"] for o in _poll()] == ["voided"]
    env.user.update("Opportunity", opp, {"StageName": "Closed Won"})
    [outcome] = _poll()
    assert outcome["status"] == "reinvoiced" and outcome["previous"] == number, outcome
    made = env.runtime.books.get_invoice(outcome["invoice_number"])
    assert made is not None and made.total_net == Decimal("100.00")
    assert wait_for(invoice_changes.replay(opp))["status"] == "unchanged"
    assert {o["status"] for o in _poll()} <= {"unchanged"}
    assert env.poll_and_run() == []  # the invoice run leaves the deal alone: no third invoice
    assert env.ledger.count_audit(flow=invoice_changes.FLOW, system=env.system, action="created") == 1
