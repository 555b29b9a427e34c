"""Reconciliation compares the books' balances with Salesforce's and reports an injected drift, over HTTP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ledgerlink.engine.runtime import wait_for
from ledgerlink.flows import account_balances, balance_reconciliation
from ledgerlink.store.tables import TriggerCheck
from tests.invoice_life.conftest import BooksEnv


def _reconcile() -> balance_reconciliation.Report:
    [handle] = balance_reconciliation.poll()
    return wait_for(handle)


def test_an_injected_balance_drift_is_reported_and_the_next_refresh_repairs_it(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    kashflow = env.runtime.books.client  # type: ignore[attr-defined]
    accounts = {}
    for code in ("REC1", "REC2"):
        kashflow.create_customer({"Code": code, "Name": f"{code} Ltd"})
        accounts[code] = env.make_account(f"{code} Ltd", code)
        made = kashflow.create_invoice(
            {"CustomerCode": code, "LineItems": [{"Description": "Work", "Quantity": 1, "Rate": 50, "VATLevel": 20}]}
        )
    wait_for(account_balances.poll()[0])
    clean = _reconcile()
    assert clean["checked"] == 2 and clean["drift"] == []
    with env.ledger.session() as s:  # its run is its trigger's check (stalled-trigger alerts): it keeps no watermark
        assert s.get(TriggerCheck, balance_reconciliation.WATERMARK) is not None

    # Drift on both sides: a person edits one Account's balance; a payment lands in the books unseen for the other.
    env.user.update("Account", accounts["REC1"], {"Accounting_Balance__c": 999.99})
    env.pay(str(made["Number"]), "10.00", dt.date.today())
    report = _reconcile()
    assert report["drifted"] == 2
    by_customer = {d["customer"]: d for d in report["drift"]}
    assert by_customer["REC1"]["account"] == accounts["REC1"]
    assert Decimal(by_customer["REC1"]["salesforce"]) == Decimal("999.99")
    assert Decimal(by_customer["REC1"]["books"]) == Decimal("60.00")
    assert Decimal(by_customer["REC2"]["difference"]) == Decimal("10.00")
    assert env.ledger.count_audit(flow=balance_reconciliation.FLOW, action="drift") == 2

    wait_for(account_balances.poll()[0])
    assert _reconcile()["drift"] == []
