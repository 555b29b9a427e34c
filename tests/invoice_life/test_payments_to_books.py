"""A payment entered in Salesforce (a Payment__c with no books id) reaches the books exactly once, over HTTP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dbos import DBOS

from ledgerlink.engine.runtime import wait_for
from ledgerlink.flows import payment_sync, payment_to_books
from tests.flows.conftest import CLOSE_DATE
from tests.invoice_life.conftest import BooksEnv


def _poll() -> list[payment_to_books.Outcome]:
    return [wait_for(h) for h in payment_to_books.poll()]


def test_salesforce_payment_reaches_the_books_once_and_a_rerun_records_nothing(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    _account, opp, number = env.invoiced_opportunity("Sf Payer Ltd", 100.0)
    paid_on = CLOSE_DATE + dt.timedelta(days=3)
    record = env.user.create(
        "Payment__c", {"Opportunity__c": opp, "Amount__c": 40.0, "Payment_Date__c": paid_on.isoformat()}
    )

    [outcome] = _poll()
    assert outcome["status"] == "recorded", outcome
    assert outcome["invoice_number"] == number
    books_payments = env.runtime.books.payments(number)
    assert [(p.amount, p.paid_on) for p in books_payments] == [(Decimal("40.00"), paid_on)]
    row = env.one(f"SELECT External_Id__c FROM Payment__c WHERE Id = '{record}'")
    assert row["External_Id__c"] == books_payments[0].reference

    # The books' side sees the payment as already linked: no second Payment__c, the Opportunity's paid total follows.
    key = payment_sync.payment_key(number, books_payments[0].reference or "")
    follow = DBOS.retrieve_workflow(payment_sync.workflow_id(key, f"from-crm-{record}"))
    assert wait_for(follow)["status"] == "synced"
    assert payment_sync.poll() == []
    assert len(list(env.user.query("SELECT Id FROM Payment__c"))) == 1
    assert Decimal(str(env.one(f"SELECT Amount_Paid__c FROM Opportunity WHERE Id = '{opp}'")["Amount_Paid__c"])) == 40

    # Run again, poll again, replay: nothing more in the books.
    writes = env.ledger.count_audit(flow=payment_to_books.FLOW)
    assert _poll() == []
    assert wait_for(payment_to_books.replay(record))["status"] == "already_recorded"
    assert len(env.runtime.books.payments(number)) == 1
    assert env.ledger.count_audit(flow=payment_to_books.FLOW) == writes


def test_a_retry_after_the_books_recorded_it_finds_the_first_payment(kashflow_env: BooksEnv) -> None:
    """A crash after the books took the payment and before Salesforce heard of it: the next run pays nothing twice."""
    env = kashflow_env
    _account, opp, number = env.invoiced_opportunity("Crash Payer Ltd", 50.0)
    record = env.user.create("Payment__c", {"Opportunity__c": opp, "Amount__c": 10.0, "Payment_Date__c": "2026-01-05"})
    env.pay(number, "10.00", dt.date(2026, 1, 5), reference=f"{payment_to_books.SOURCE_PREFIX}{record}")

    [outcome] = _poll()
    assert outcome["status"] == "recorded"
    assert len(env.runtime.books.payments(number)) == 1


def test_a_payment_for_no_known_invoice_is_a_failed_record_naming_the_field(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    account = env.make_account("Nobody Ltd", "NOBODY")
    opp = env.make_opportunity(stage="Prospecting", account_id=account, lines=[])
    record = env.user.create("Payment__c", {"Opportunity__c": opp, "Amount__c": 5.0})
    [outcome] = _poll()
    assert outcome["status"] == "failed" and outcome["field"] == "Opportunity__c"
    [failed] = env.ledger.failed_records(flow=payment_to_books.FLOW)
    assert failed.source_id == record and "Payment__c" in failed.errors[-1]["error"]
