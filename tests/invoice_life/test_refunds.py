"""Refunds against each books sandbox (KashFlow and Kashoo), over HTTP: a paid invoice credited by a deal change is
refunded by policy in the books exactly once and reaches Salesforce once; a re-run adds nothing; a books without
refunds fails the record clearly; a refund made in the books by a person arrives with the history import."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from ledgerlink.bootstrap import load_app_settings
from ledgerlink.engine.runtime import flow_settings_from, wait_for
from ledgerlink.flows import invoice_changes, invoice_history, payment_sync, payment_to_books, refunds
from ledgerlink.flows.deps import current_deps
from ledgerlink.model import Refund
from ledgerlink.systems.invoice_life import invoice_life
from ledgerlink.systems.refunds import refund_books
from tests.flows.conftest import CLOSE_DATE
from tests.invoice_life.conftest import BooksEnv


def _poll() -> list[invoice_changes.Outcome]:
    return [wait_for(h) for h in invoice_changes.poll(lag_seconds=0)]


def _set_price(env: BooksEnv, opportunity: str, price: float) -> None:
    [item] = env.user.query(f"SELECT Id FROM OpportunityLineItem WHERE OpportunityId = '{opportunity}'")
    env.user.update("OpportunityLineItem", item["Id"], {"UnitPrice": price})


def _sandbox_refunds(env: BooksEnv) -> list[dict[str, Any]]:
    """Every refund the books sandbox holds, read from it over HTTP (not through LedgerLink's refund reads)."""
    client: Any = env.runtime.books.client  # the adapter's own HTTP client
    if env.system == "kashoo":
        return [r for r in client.list("records/refunds") if not r.get("removed")]
    lines = []
    for row in client.list("invoices"):
        if Decimal(str(row["GrossAmount"])) < 0:
            full = client.get_invoice(str(row["Number"])) or {}
            lines += [p for p in full.get("PaymentLines") or [] if Decimal(str(p["Amount"])) < 0]
    return lines


def _salesforce_refunds(env: BooksEnv) -> list[dict[str, Any]]:
    soql = "SELECT Id, Amount__c, External_Id__c, Opportunity__c, Invoice__c FROM Payment__c WHERE Type__c = 'Refund'"
    return list(env.user.query(soql))


def _paid_then_shrunk(env: BooksEnv, name: str) -> tuple[str, str]:
    """(opportunity, invoice number): a paid invoice whose deal went from 100 to 80, credited."""
    _account, opp, number = env.invoiced_opportunity(name, 100.0)
    env.pay(number, str(env.gross(number)), CLOSE_DATE + dt.timedelta(days=2), reference="paid in full")
    _set_price(env, opp, 80.0)
    outcomes = {o["opportunity"]: o for o in _poll()}
    assert outcomes[opp]["status"] == "credited", outcomes[opp]
    return opp, number


def _behaviour(env: BooksEnv, **switches: str) -> None:
    url = f"{env.sandboxes[env.system].base_url}/__admin/behaviour"
    httpx.put(url, json=switches).raise_for_status()


def test_a_refund_by_policy_reaches_the_books_and_salesforce_once(books_env: BooksEnv) -> None:
    env = books_env
    env.runtime.settings.flows.refund_policy = "refund"
    books = env.runtime.books
    opp, number = _paid_then_shrunk(env, "Refunded Ltd")
    [note] = invoice_life(books).credit_notes(number)
    assert note.total_net == Decimal("20.00") and note.number
    owed_back = note.total_gross

    [in_books] = _sandbox_refunds(env)
    [refund] = refund_books(books).refunds(note.number)
    assert refund.amount == owed_back and refund.reference == f"{opp}:refund:{note.number}"
    assert abs(Decimal(str(in_books["amount" if env.system == "kashoo" else "Amount"]))) in (
        owed_back,
        owed_back * 100,  # Kashoo keeps cents
    )
    assert refund_books(books).refundable(note.number) == 0
    customer = books.get_invoice(number)
    assert customer is not None and invoice_life(books).customer_balance(customer.customer_code) == 0

    [record] = _salesforce_refunds(env)
    assert Decimal(str(record["Amount__c"])) == -owed_back and record["Opportunity__c"] == opp
    assert record["External_Id__c"] == f"{env.system}:refund:{refund.refs[0].id}"
    # The invoice's Invoice__c holds the refund: the run's mirror writes the invoice to Salesforce at once and links it.
    assert record["Invoice__c"]
    audited = env.ledger.count_audit(flow=refunds.FLOW)
    # the books' refund, its Payment__c, and the same Payment__c linked to the Invoice__c by the run's mirror
    assert audited == 3

    # Run again, and as a crashed run would (the credit note found, not made): nothing more anywhere.
    assert {o["status"] for o in _poll()} <= {"unchanged"}
    again = refunds.refund_credit(
        current_deps(), opp, number, note.number, "rerun", note_created=False, currency=note.currency, opportunity=opp
    )
    assert again == record["External_Id__c"]
    assert len(_sandbox_refunds(env)) == 1 and len(_salesforce_refunds(env)) == 1
    assert env.ledger.count_audit(flow=refunds.FLOW) == audited

    # No echo: the refund is not a payment to record in the books, nor a books payment for Salesforce.
    assert payment_to_books.poll() == []
    # The customer's payment reached Salesforce with the invoice in the change run's mirror: nothing left to sync.
    assert payment_sync.poll() == [] and payment_to_books.poll() == []
    assert len(books.payments(number)) == 1
    assert len(list(env.user.query("SELECT Id FROM Payment__c"))) == 2  # the payment and the refund

    # The history import finds the invoice and its refund as the mirror wrote them: nothing more is written.
    assert wait_for(invoice_history.poll()[0]).get("refunds", 0) == 0
    [record] = _salesforce_refunds(env)
    assert record["Invoice__c"] and Decimal(str(record["Amount__c"])) == -owed_back


def test_keep_credit_is_the_default_and_refunds_nothing(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    assert env.runtime.settings.flows.refund_policy == "keep_credit"
    _opp, number = _paid_then_shrunk(env, "Kept Credit Ltd")
    [note] = invoice_life(env.runtime.books).credit_notes(number)
    assert note.number and refund_books(env.runtime.books).refundable(note.number) == note.total_gross
    assert _sandbox_refunds(env) == [] and _salesforce_refunds(env) == []


def test_books_without_refunds_fail_the_record_clearly_then_a_replay_refunds_once(books_env: BooksEnv) -> None:
    env = books_env
    env.runtime.settings.flows.refund_policy = "refund"
    _behaviour(env, refunds="missing")
    _account, opp, number = env.invoiced_opportunity("No Refunds Ltd", 100.0)
    env.pay(number, str(env.gross(number)), CLOSE_DATE + dt.timedelta(days=2), reference="paid in full")
    _set_price(env, opp, 80.0)
    [outcome] = [o for o in _poll() if o["opportunity"] == opp]
    assert outcome["status"] == "failed"
    assert "refund" in outcome["error"] and "then replay" in outcome["error"], outcome["error"]
    assert _salesforce_refunds(env) == []
    notes = invoice_life(env.runtime.books).credit_notes(number)
    assert len(notes) == 1  # the credit note stands; only its refund failed

    _behaviour(env, refunds="served")
    assert _sandbox_refunds(env) == []
    replayed = wait_for(invoice_changes.replay(opp))
    assert replayed["status"] == "credited", replayed
    assert len(invoice_life(env.runtime.books).credit_notes(number)) == 1  # found, not made again
    assert len(_sandbox_refunds(env)) == 1 and len(_salesforce_refunds(env)) == 1


def test_a_refund_made_in_the_books_is_imported_once(books_env: BooksEnv) -> None:
    env = books_env
    books = env.runtime.books
    opp, number = _paid_then_shrunk(env, "Bookkeeper Refund Ltd")
    [note] = invoice_life(books).credit_notes(number)
    assert note.number and note.total_gross is not None
    refund = Refund(
        credit_note_number=note.number,
        amount=note.total_gross,
        currency=note.currency,
        paid_on=CLOSE_DATE + dt.timedelta(days=5),
        reference="cheque 1042",
    )
    refund_books(books).record_refund(refund)  # as the bookkeeper would, in the books
    assert _salesforce_refunds(env) == []

    imported = wait_for(invoice_history.poll()[0])
    assert imported.get("refunds") == 1, imported
    [record] = _salesforce_refunds(env)
    assert Decimal(str(record["Amount__c"])) == -note.total_gross
    assert record["Opportunity__c"] == opp and record["Invoice__c"]
    [made] = refund_books(books).refunds(note.number)
    assert record["External_Id__c"] == f"{env.system}:refund:{made.refs[0].id}"
    wait_for(invoice_history.poll()[0])
    assert len(_salesforce_refunds(env)) == 1 and len(_sandbox_refunds(env)) == 1


def test_the_refund_policy_is_set_in_the_settings_file(tmp_path: Path) -> None:
    path = tmp_path / "ledgerlink.toml"
    assert flow_settings_from(load_app_settings(path)).refund_policy == "keep_credit"  # nothing changes by default
    path.write_text('[defaults]\nrefund_policy = "refund"\n')
    assert flow_settings_from(load_app_settings(path)).refund_policy == "refund"


def test_a_refund_typed_in_salesforce_is_refused_not_paid_into_the_books(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    _account, opp, number = env.invoiced_opportunity("Typed Refund Ltd", 100.0)
    fields = {"Opportunity__c": opp, "Amount__c": -10.0, "Type__c": "Refund", "Payment_Date__c": "2026-03-10"}
    env.user.create("Payment__c", fields)
    [outcome] = [wait_for(h) for h in payment_to_books.poll()]
    assert outcome["status"] == "failed" and outcome["field"] == "Type__c" and "refund" in outcome["error"]
    assert env.runtime.books.payments(number) == []
