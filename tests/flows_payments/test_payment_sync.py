"""Payments in the books → the Opportunity's paid fields and one Payment__c each, over HTTP, run twice."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ledgerlink.flows import payment_sync
from tests.flows.conftest import CLOSE_DATE
from tests.flows_payments.conftest import BooksEnv, result

PAID_FIELDS = "Amount_Paid__c, Paid_Date__c, Invoice_Status__c"


def _poll(env: BooksEnv) -> list[payment_sync.Outcome]:
    return [result(h) for h in payment_sync.poll()]


def test_part_then_final_payment_sets_running_total_and_makes_two_payment_records(books_env: BooksEnv) -> None:
    env = books_env
    _account, opp, number = env.invoiced_opportunity("Payer Ltd", 100.0)
    gross = env.gross(number)  # 120.00 with VAT
    assert _poll(env) == []  # nothing paid yet

    first_day, final_day = CLOSE_DATE + dt.timedelta(days=9), CLOSE_DATE + dt.timedelta(days=11)
    env.pay(number, "50.00", first_day, reference="first")
    [first] = _poll(env)
    assert first["status"] == "synced" and first["opportunity"] == opp
    row = env.one(f"SELECT {PAID_FIELDS} FROM Opportunity WHERE Id = '{opp}'")
    assert Decimal(str(row["Amount_Paid__c"])) == Decimal("50.00")
    assert row["Paid_Date__c"] == first_day.isoformat()
    assert row["Invoice_Status__c"] == "PartPaid"

    env.pay(number, str(gross - Decimal("50.00")), final_day, reference="final")
    [second] = _poll(env)
    assert second["status"] == "synced"
    row = env.one(f"SELECT {PAID_FIELDS} FROM Opportunity WHERE Id = '{opp}'")
    assert Decimal(str(row["Amount_Paid__c"])) == gross  # the running total, not the last payment
    assert row["Paid_Date__c"] == final_day.isoformat()
    assert row["Invoice_Status__c"] == "Paid"

    payments = list(
        env.user.query(
            "SELECT Id, Opportunity__c, Amount__c, Payment_Date__c, External_Id__c FROM Payment__c "
            "ORDER BY Payment_Date__c"
        )
    )
    assert [p["Opportunity__c"] for p in payments] == [opp, opp]
    assert [Decimal(str(p["Amount__c"])) for p in payments] == [Decimal("50.00"), gross - Decimal("50.00")]
    assert all(p["External_Id__c"].startswith(f"{env.system}:") for p in payments)
    assert len({p["External_Id__c"] for p in payments}) == 2

    # Run twice: every run finds its work done and writes nothing; the trigger has nothing new.
    writes = env.ledger.count_audit(flow=payment_sync.FLOW)
    stamp = env.one(f"SELECT SystemModstamp FROM Opportunity WHERE Id = '{opp}'")["SystemModstamp"]
    reruns = [result(payment_sync.replay(o["payment"])) for o in (first, second)]
    assert [o["status"] for o in reruns] == ["already_synced", "already_synced"]
    assert _poll(env) == []
    assert env.ledger.count_audit(flow=payment_sync.FLOW) == writes
    assert len(list(env.user.query("SELECT Id FROM Payment__c"))) == 2
    assert env.one(f"SELECT SystemModstamp FROM Opportunity WHERE Id = '{opp}'")["SystemModstamp"] == stamp


def test_payment_on_an_invoice_ledgerlink_did_not_make_is_a_failed_record(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    kashflow = env.runtime.books.client  # type: ignore[attr-defined]
    kashflow.create_customer({"Code": "HAND01", "Name": "Made By Hand"})
    made = kashflow.create_invoice(
        {"CustomerCode": "HAND01", "LineItems": [{"Description": "Consulting", "Quantity": 1, "Rate": 10}]}
    )
    number = str(made["Number"])
    env.pay(number, "12.00", CLOSE_DATE + dt.timedelta(days=2), reference="by-hand")

    [outcome] = _poll(env)
    assert outcome["status"] == "failed"
    assert outcome["field"] == "invoice_number"
    [failed] = env.ledger.failed_records(flow=payment_sync.FLOW)
    assert failed.source_id == outcome["payment"] and failed.source_id.startswith(f"{number}/kashflow:")
    error = failed.errors[-1]
    assert error["field"] == "invoice_number"
    assert f"invoice {number}" in error["error"] and "Payment kashflow:" in error["error"]
    assert failed.input["amount"] == "12.00"  # the payment is kept for inspection and replay
    assert list(env.user.query("SELECT Id FROM Payment__c")) == []


def test_trigger_pages_through_payments_in_one_second_without_losing_or_repeating(
    kashflow_env: BooksEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = kashflow_env
    monkeypatch.setattr(payment_sync, "PAGE", 2)  # a page per step: 5 payments take 3 pages
    numbers = [env.invoiced_opportunity(f"Pager {i} Ltd", 10.0)[2] for i in range(5)]
    for i, number in enumerate(numbers):
        env.pay(number, "1.00", CLOSE_DATE, reference=f"p{i}")  # most land in the same second

    outcomes = _poll(env)
    assert sorted(o["payment"].split("/")[0] for o in outcomes) == sorted(numbers)
    assert {o["status"] for o in outcomes} == {"synced"}
    assert len(list(env.user.query("SELECT Id FROM Payment__c"))) == 5
    assert _poll(env) == []
