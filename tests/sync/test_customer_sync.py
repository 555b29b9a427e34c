"""Customers both ways, over real HTTP on loopback: Salesforce sandbox ⇄ LedgerLink on DBOS ⇄ KashFlow/Kashoo."""

from __future__ import annotations

import logging

import httpx
import pytest

from ledgerlink.flows import reconciliation
from ledgerlink.systems.kashflow.books import KashFlowBooks
from tests.sync.conftest import SyncEnv


def _linked(env: SyncEnv, name: str, **fields: str) -> tuple[str, str]:
    account = env.make_account(name, **fields)
    env.user.create("Contact", {"AccountId": account, "FirstName": "Ada", "LastName": "Byron", "Email": "ada@x.test"})
    env.sync_customers()
    books_id = env.books_id(account)
    assert books_id is not None
    return account, books_id


def test_rapid_edits_on_either_side_end_in_the_last_value_on_both(any_env: SyncEnv) -> None:
    env = any_env
    account, books_id = _linked(env, "Rapid Ltd", code="RAPID1")
    for n in range(5):
        env.user.update("Account", account, {"Name": f"Rapid {n} Ltd", "Phone": f"0113 00{n}"})
    env.sync_customers()
    assert env.books_customer(books_id).name == "Rapid 4 Ltd"
    assert env.books_customer(books_id).phone == "0113 004"
    for n in range(5):
        env.edit_books_customer(books_id, website=f"https://rapid{n}.test")
    env.sync_customers()
    assert env.account(account)["Website"] == "https://rapid4.test"
    # No flip-flop: further runs write nothing anywhere.
    writes, updates = len(env.sf_events()), env.audits("updated")
    for _ in range(2):
        env.sync_customers()
    assert (len(env.sf_events()), env.audits("updated")) == (writes, updates)
    assert env.account(account)["Name"] == env.books_customer(books_id).name == "Rapid 4 Ltd"


def test_simultaneous_edits_end_as_the_rules_say_with_an_audit_entry(env: SyncEnv) -> None:
    account, code = _linked(env, "Both Sides Ltd", code="BOTH1")
    env.user.update("Account", account, {"Name": "Both Sides (Salesforce) Ltd"})
    env.edit_books_customer(code, name="Both Sides (KashFlow) Ltd", website="https://both.test", payment_terms_days=14)
    env.sync_customers()
    customer = env.books_customer(code)
    assert customer.name == "Both Sides (Salesforce) Ltd"  # Salesforce owns names
    assert customer.payment_terms_days == 14  # the books own terms
    assert env.account(account)["Name"] == "Both Sides (Salesforce) Ltd"
    assert env.account(account)["Website"] == "https://both.test"  # changed on one side only: travels
    conflicts = [e for e in env.ledger.audit_trail(record_id=code) if e.action == "conflict"]
    assert [(e.detail["field"], e.detail["winner"], e.detail["rule"]) for e in conflicts] == [
        ("name", "salesforce", "owner")
    ]
    assert conflicts[0].detail["values"]["kashflow"] == "Both Sides (KashFlow) Ltd"


def test_an_edit_ledgerlink_made_never_comes_back(any_env: SyncEnv) -> None:
    env = any_env
    account, books_id = _linked(env, "Echo Ltd", code="ECHO1")
    assert env.sf_events() == []  # creating the customer wrote nothing to Salesforce
    env.user.update("Account", account, {"Phone": "0113 111"})
    env.sync_customers()
    assert env.audits("updated") == 1  # the books' customer, once
    env.edit_books_customer(books_id, website="https://echo.test")
    env.sync_customers()
    assert len(env.sf_events()) == 1  # the Account, once
    assert env.audits("updated") == 2
    for _ in range(3):  # our own writes show up as changes on both sides: each is recognised and dropped
        env.sync_customers()
    assert len(env.sf_events()) == 1
    assert env.audits("updated") == 2


def test_delete_and_undelete_follow_the_policy(env: SyncEnv) -> None:
    account, code = _linked(env, "Gone Ltd", code="GONE1")
    env.user.delete("Account", account)
    env.sync_customers()
    assert env.books_customer(code).archived
    base = env.sandboxes["salesforce"].base_url
    httpx.post(f"{base}/__admin/undelete/{account}").raise_for_status()
    env.sync_customers()
    assert not env.books_customer(code).archived
    assert (env.audits("archived"), env.audits("restored")) == (1, 1)

    env.runtime.settings.flows.delete_policy = "ignore"
    env.user.delete("Account", account)
    env.sync_customers()
    assert not env.books_customer(code).archived
    assert env.audits("delete_ignored") == 1


def test_a_missed_event_is_caught_by_the_next_reconciliation(env: SyncEnv) -> None:
    account, code = _linked(env, "Missed Ltd", code="MISS1")
    env.user.update("Account", account, {"Phone": "0113 222"})
    env.edit_books_customer(code, website="https://missed.test")
    # The trigger was down while these happened: its watermarks have moved past them.
    for mark in ("salesforce.Account.customer_sync", "salesforce.Contact.customer_sync"):
        env.ledger.set_watermark(mark, "2999-01-01T00:00:00.000Z|")
    env.ledger.set_watermark("kashflow.customers.customer_sync", "2999-01-01 00:00:00|")
    env.sync_customers()
    assert env.books_customer(code).phone is None
    report = reconciliation.run_now()
    assert env.books_customer(code).phone == "0113 222"
    assert env.account(account)["Website"] == "https://missed.test"
    customers = report["entities"]["customer"]
    assert customers["drift"] >= 1 and customers["repaired"] >= 2 and customers["failed"] == 0
    again = reconciliation.run_now()["entities"]["customer"]
    assert (again["drift"], again["repaired"]) == (0, 0)


def test_every_flow_run_twice_on_the_same_input_writes_nothing_the_second_time(env: SyncEnv) -> None:
    _linked(env, "Twice Ltd", code="TWICE1")
    books = env.runtime.books
    assert isinstance(books, KashFlowBooks)
    books.client.create_customer({"Code": "BOOKS1", "Name": "Books First Ltd", "Email": "first@books.test"})
    product = env.user.create("Product2", {"Name": "Twice widget", "ProductCode": "TW-1", "IsActive": True})
    standard = next(iter(env.user.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")))["Id"]
    env.user.create(
        "PricebookEntry", {"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 9, "IsActive": True}
    )
    first = (env.sync_customers(), env.sync_products(), reconciliation.run_now())
    assert first[0]["counts"].get("created_salesforce") == 1 and first[1]["counts"].get("created_books") == 1
    writes = (len(env.sf_events()), env.audits("updated"), env.audits("created"))
    for mark in list(("salesforce.Account.customer_sync", "salesforce.Product2.product_sync")):
        env.ledger.set_watermark(mark, "")  # the same input again, from the start
    env.sync_customers()
    env.sync_products()
    report = reconciliation.run_now()
    assert (len(env.sf_events()), env.audits("updated"), env.audits("created")) == writes
    assert all(e["repaired"] == 0 for e in report["entities"].values())


def test_a_create_refused_for_a_moment_is_retried_alone_not_with_its_whole_page(
    any_env: SyncEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """Two creates answered 503: each is tried again where it is made. The page's step is not retried (a page of
    forty creates at a few per cent of faults would otherwise fail its attempt nearly every time)."""
    env = any_env
    _linked(env, "First Ltd", code="FIRST1")  # signed in, pool read: the next POSTs are the creates
    accounts = [env.make_account(f"Brief {n} Ltd", code=f"BRIEF{n}") for n in range(3)]
    env.fail_next_books_posts(2)
    with caplog.at_level(logging.WARNING, logger="ledgerlink.engine.retry"):
        outcome = env.sync_customers()
    assert env.books_errors_injected() == 2
    assert outcome["counts"].get("created_books") == 3 and not outcome["counts"].get("failed"), outcome
    assert all(env.books_id(account) for account in accounts)
    retried = [r.getMessage() for r in caplog.records]
    assert len([m for m in retried if "attempt 1 failed" in m and "POST" in m]) == 2, retried
    assert not [m for m in retried if m.startswith("accounts_page")], retried
