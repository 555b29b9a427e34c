"""500 invoices made directly in the books (not by LedgerLink) → Invoice__c with lines and Payment__c, on the
Account, over HTTP; an import run again writes no duplicate."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ledgerlink.engine.runtime import wait_for
from ledgerlink.flows import invoice_history, late_payment, payment_sync
from tests.invoice_life.conftest import BooksEnv

INVOICES = 500
CUSTOMERS = 20


def _make_books_history(env: BooksEnv) -> dict[str, Any]:
    kashflow = env.runtime.books.client  # type: ignore[attr-defined]
    accounts = {}
    for c in range(CUSTOMERS):
        code = f"HIST{c:02d}"
        kashflow.create_customer({"Code": code, "Name": f"History {c} Ltd"})
        if c < CUSTOMERS - 1:  # the last customer has no Account in Salesforce
            accounts[code] = env.make_account(f"History {c} Ltd", code)
    numbers, paid = [], Decimal(0)
    for i in range(INVOICES):
        made = kashflow.create_invoice(
            {
                "CustomerCode": f"HIST{i % CUSTOMERS:02d}",
                "IssuedDate": "2026-06-01",
                "DueDate": "2026-07-01",
                "LineItems": [
                    {"Description": "Consulting", "Quantity": 1 + i % 3, "Rate": 10 + i % 7, "VATLevel": 20},
                    {"Description": "Travel", "Quantity": 1, "Rate": 5, "VATLevel": 0},
                ],
            }
        )
        numbers.append(str(made["Number"]))
        if i % 2 == 0:
            env.pay(str(made["Number"]), "5.00", dt.date(2026, 6, 15), reference=f"hist-{i}")
            paid += Decimal(5)
    return {"accounts": accounts, "numbers": numbers, "paid": paid}


def test_five_hundred_books_invoices_are_imported_with_their_payments(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    made = _make_books_history(env)

    [handle] = invoice_history.poll()
    result = wait_for(handle)
    assert result["status"] == "imported"
    assert result["invoices"] == INVOICES and result["lines"] == 2 * INVOICES and result["payments"] == INVOICES // 2
    assert result["without_account"] == INVOICES // CUSTOMERS

    rows = list(
        env.user.query(
            "SELECT Id, Name, Account__c, Account__r.ExternalID__c, Total__c, Amount_Paid__c, Balance__c "
            "FROM Invoice__c"
        )
    )
    assert sorted(r["Name"] for r in rows) == sorted(made["numbers"])
    linked = [r for r in rows if r["Account__c"]]
    assert len(linked) == INVOICES - INVOICES // CUSTOMERS
    assert all(made["accounts"][r["Account__r"]["ExternalID__c"]] == r["Account__c"] for r in linked)
    one = env.runtime.books.get_invoice(made["numbers"][0])
    assert one is not None
    [first] = [r for r in rows if r["Name"] == made["numbers"][0]]
    assert Decimal(str(first["Total__c"])) == one.total_gross
    assert Decimal(str(first["Amount_Paid__c"])) == Decimal("5.00")
    assert Decimal(str(first["Balance__c"])) == one.total_gross - Decimal("5.00")  # type: ignore[operator]
    assert len(list(env.user.query("SELECT Id FROM Invoice_Line__c"))) == 2 * INVOICES
    payments = list(env.user.query("SELECT Id, Invoice__c, Amount__c FROM Payment__c"))
    assert len(payments) == INVOICES // 2 and all(p["Invoice__c"] for p in payments)
    assert sum(Decimal(str(p["Amount__c"])) for p in payments) == made["paid"]

    # The payments are linked: payment_sync makes no second Payment__c for them.
    assert payment_sync.poll() == []

    # Again, from the beginning (what `ledgerlink sync invoices --full` does): the same records, no duplicate.
    env.ledger.set_watermark(invoice_history.WATERMARK, "")
    writes = env.ledger.count_audit(flow=invoice_history.FLOW)
    again = wait_for(invoice_history.poll()[0])
    assert again["unchanged"] == INVOICES and again.get("invoices", 0) == 0
    assert env.ledger.count_audit(flow=invoice_history.FLOW) == writes
    assert len(list(env.user.query("SELECT Id FROM Invoice__c"))) == INVOICES
    assert len(list(env.user.query("SELECT Id FROM Invoice_Line__c"))) == 2 * INVOICES
    assert len(list(env.user.query("SELECT Id FROM Payment__c"))) == INVOICES // 2

    # A payment in the books since: that invoice alone is written again, with its new payment.
    env.pay(made["numbers"][1], "3.00", dt.date(2026, 6, 20), reference="late")
    env.ledger.set_watermark(invoice_history.WATERMARK, "")
    third = wait_for(invoice_history.poll()[0])
    assert third["invoices"] == 1 and third["payments"] == 1 and third["unchanged"] == INVOICES - 1
    row = env.one(f"SELECT Amount_Paid__c FROM Invoice__c WHERE Name = '{made['numbers'][1]}'")
    assert Decimal(str(row["Amount_Paid__c"])) == Decimal("3.00")


def test_payment_sync_covers_imported_invoices(kashflow_env: BooksEnv) -> None:
    """A payment recorded in the books on an invoice LedgerLink didn't make, once imported: one Payment__c on the
    Invoice__c, whose paid total, balance and status follow; a second poll writes nothing."""
    env = kashflow_env
    kashflow = env.runtime.books.client  # type: ignore[attr-defined]
    kashflow.create_customer({"Code": "IMP01", "Name": "Imported Ltd"})
    env.make_account("Imported Ltd", "IMP01")
    made = kashflow.create_invoice(
        {"CustomerCode": "IMP01", "LineItems": [{"Description": "Work", "Quantity": 1, "Rate": 100, "VATLevel": 20}]}
    )
    number = str(made["Number"])
    wait_for(invoice_history.poll()[0])

    env.pay(number, "120.00", dt.date(2026, 6, 20), reference="settled")
    [outcome] = [wait_for(h) for h in payment_sync.poll()]
    assert outcome["status"] == "synced", outcome
    row = env.one(
        f"SELECT Id, Amount_Paid__c, Balance__c, Status__c, Paid_Date__c FROM Invoice__c WHERE Name = '{number}'"
    )
    assert Decimal(str(row["Amount_Paid__c"])) == Decimal("120.00") and Decimal(str(row["Balance__c"])) == 0
    assert row["Status__c"] == "Paid" and row["Paid_Date__c"] == "2026-06-20"
    [payment] = env.user.query("SELECT Invoice__c, Opportunity__c FROM Payment__c")
    assert payment["Invoice__c"] == row["Id"] and payment["Opportunity__c"] is None
    assert payment_sync.poll() == []


def test_late_payment_covers_imported_invoices(kashflow_env: BooksEnv) -> None:
    """An imported invoice (no deal behind it) overdue → one Case on its Account; paying it closes the Case."""
    env = kashflow_env
    kashflow = env.runtime.books.client  # type: ignore[attr-defined]
    kashflow.create_customer({"Code": "LATE01", "Name": "Late Imported Ltd"})
    account = env.make_account("Late Imported Ltd", "LATE01")
    today = env.books_today()
    made = kashflow.create_invoice(
        {
            "CustomerCode": "LATE01",
            "IssuedDate": (today - dt.timedelta(days=60)).isoformat(),
            "DueDate": (today - dt.timedelta(days=30)).isoformat(),
            "LineItems": [{"Description": "Work", "Quantity": 1, "Rate": 100, "VATLevel": 20}],
        }
    )
    number = str(made["Number"])
    assert [wait_for(h) for h in late_payment.poll()] == []  # not in Salesforce yet: not LedgerLink's business
    wait_for(invoice_history.poll()[0])

    [opened] = [wait_for(h) for h in late_payment.poll()]
    assert opened["status"] == "opened" and opened["invoice_number"] == number
    [case] = env.user.query(f"SELECT Id, IsClosed FROM Case WHERE AccountId = '{account}'")
    assert case["Id"] == opened["case"]
    assert [wait_for(h) for h in late_payment.poll()] == []

    env.pay(number, "120.00", today, reference="paid")
    [closed] = [wait_for(h) for h in late_payment.poll()]
    assert closed["status"] == "closed"
    assert env.one(f"SELECT IsClosed FROM Case WHERE Id = '{case['Id']}'")["IsClosed"] is True
