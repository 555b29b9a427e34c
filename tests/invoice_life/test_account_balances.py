"""An Account's balance, overdue amount and aging buckets equal the books' after payments, over HTTP; a run with
nothing new writes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ledgerlink.engine.runtime import wait_for
from ledgerlink.flows import account_balances
from tests.invoice_life.conftest import BooksEnv

# Days past due of each invoice, by the books' clock (negative: due in the future).
LATENESS = (-10, 0, 10, 45, 75, 120)


def _refresh() -> dict[str, Any]:
    [handle] = account_balances.poll()
    return wait_for(handle)


def _books_aging(env: BooksEnv, code: str) -> dict[str, Decimal]:
    """The books' own figures: the customer's OutstandingBalance and its invoices' DueAmount by OverdueDays."""
    kashflow = env.runtime.books.client  # type: ignore[attr-defined]
    out = dict.fromkeys(account_balances.FIELDS, Decimal(0))
    out["Accounting_Balance__c"] = Decimal(str(kashflow.get_customer(code)["OutstandingBalance"]))
    for row in kashflow.list("invoices", {"customercode": code}):
        due, days = Decimal(str(row["DueAmount"])), int(row["OverdueDays"] or 0)
        out[account_balances.bucket(days)] += due
        if days > 0:
            out["Overdue_Balance__c"] += due
    return out


def _salesforce_aging(env: BooksEnv, account: str) -> dict[str, Decimal]:
    row = env.one(f"SELECT {', '.join(account_balances.FIELDS)} FROM Account WHERE Id = '{account}'")
    return {k: Decimal(str(row[k] or 0)).quantize(Decimal("0.01")) for k in account_balances.FIELDS}


def test_balance_and_aging_equal_the_books_after_payments(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    kashflow = env.runtime.books.client  # type: ignore[attr-defined]
    today = env.books_today()
    accounts, numbers = {}, []
    for c in range(2):
        code = f"AGE{c}"
        kashflow.create_customer({"Code": code, "Name": f"Aging {c} Ltd"})
        accounts[code] = env.make_account(f"Aging {c} Ltd", code)
        for days in LATENESS:
            due = today - dt.timedelta(days=days)
            made = kashflow.create_invoice(
                {
                    "CustomerCode": code,
                    "IssuedDate": (due - dt.timedelta(days=30)).isoformat(),
                    "DueDate": due.isoformat(),
                    "LineItems": [{"Description": "Work", "Quantity": 1, "Rate": 100 + days, "VATLevel": 20}],
                }
            )
            numbers.append((code, str(made["Number"])))

    counts = _refresh()
    assert counts["updated"] == 2
    for code, account in accounts.items():
        assert _salesforce_aging(env, account) == _books_aging(env, code)
    assert _salesforce_aging(env, accounts["AGE0"])["Aging_Over_90__c"] > 0

    # Payments: part of one, all of others; the Account follows.
    env.pay(numbers[3][1], "20.00", today)
    for code, number in numbers:
        if code == "AGE1":
            env.pay(number, str(env.gross(number)), today)
    assert _refresh()["updated"] == 2
    for code, account in accounts.items():
        assert _salesforce_aging(env, account) == _books_aging(env, code)
    assert _salesforce_aging(env, accounts["AGE1"]) == dict.fromkeys(account_balances.FIELDS, Decimal("0.00"))

    # Nothing new: nothing written.
    writes = env.ledger.count_audit(flow=account_balances.FLOW)
    assert _refresh().get("updated", 0) == 0
    assert env.ledger.count_audit(flow=account_balances.FLOW) == writes
