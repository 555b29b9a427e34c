"""Golden-record matching, a paged backfill (API calls counted), products both ways, and the nightly schedule."""

from __future__ import annotations

import logging
import time

import pytest
from dbos import DBOS

from ledgerlink.engine.flows import get_flow
from ledgerlink.flows import reconciliation
from ledgerlink.systems.kashflow.books import KashFlowBooks
from tests.sync.conftest import SyncEnv


def _kashflow(env: SyncEnv) -> KashFlowBooks:
    books = env.runtime.books
    assert isinstance(books, KashFlowBooks)
    return books


def test_accounts_are_linked_to_the_same_company_not_duplicated(env: SyncEnv) -> None:
    kf = _kashflow(env).client
    address = [{"Line1": "2 Mill St", "Line3": "Leeds", "PostCode": "LS2 7EW", "CountryCode": "GB"}]
    kf.create_customer({"Code": "BETA01", "Name": "Beta Trading"})
    kf.create_customer({"Code": "MAIL01", "Name": "Mail Order Co", "Email": "buyer@mail.test"})
    kf.create_customer({"Code": "GAMMA1", "Name": "Gamma Industries Limited", "Addresses": address})
    by_code = env.make_account("Beta Trading Ltd", code="BETA01")
    by_email = env.make_account("Mail Order Company")
    env.user.create("Contact", {"AccountId": by_email, "LastName": "Buyer", "Email": "BUYER@mail.test"})
    by_name = env.make_account("Gamma Industries Ltd", postcode="LS2 7EW")
    elsewhere = env.make_account("Gamma Industries Ltd", postcode="BS1 4DJ")  # same name, other town
    env.sync_customers()
    assert [env.books_id(a) for a in (by_code, by_email, by_name)] == ["BETA01", "MAIL01", "GAMMA1"]
    assert env.books_id(elsewhere) not in (None, "GAMMA1")
    assert len(list(kf.list("customers"))) == 4
    how = {e.detail.get("how") for e in env.ledger.audit_trail() if e.action == "matched"}
    assert how == {"code", "model"}


def test_a_backfill_goes_through_in_pages_with_collections(env: SyncEnv) -> None:
    kf = _kashflow(env).client
    for n in range(50):  # some already in the books: they come back to Salesforce in one upsert call
        kf.create_customer({"Code": f"KF{n:03d}", "Name": f"Books Customer {n}"})
    records = [{"Name": f"Backfill {n} Ltd", "ExternalID__c": f"BF{n:04d}"} for n in range(450)]
    assert all(r["success"] for r in env.user.create_many("Account", records))
    sf, books = env.runtime.crm.usage, env.runtime.books
    sf_before, kinds_before, books_before = sf.calls_made, dict(sf.by_kind), books.api_calls()
    entry = get_flow("customer_sync")
    env.ledger.set_watermark(entry.watermark, "")  # what `ledgerlink sync customer_sync --full` does
    outcome = entry.poll(lag_seconds=0)[0].get_result()
    assert outcome["counts"]["created_books"] == 450
    assert outcome["counts"]["created_salesforce"] == 50
    assert outcome["pages"] >= 3 + 1 + 1  # 450 Accounts in pages of 200, contacts, the books
    sf_calls = sf.calls_made - sf_before
    composite = sf.by_kind.get("composite", 0) - kinds_before.get("composite", 0)
    assert composite == 1  # 50 Accounts upserted in one sObject Collections call
    describes = sf.by_kind.get("describe", 0) - kinds_before.get("describe", 0)  # the hourly schema-drift check
    assert describes <= 10, sf.by_kind  # one per Salesforce object the mappings use
    assert sf_calls - describes <= 12, sf.by_kind
    assert books.api_calls() - books_before <= 450 + 20  # KashFlow has no batch create: one POST per customer
    assert env.ledger.count_links("salesforce", "Account", "kashflow", "Customer") == 500


def test_products_both_ways_with_price_archive_and_no_echo(env: SyncEnv) -> None:
    kf = _kashflow(env).client
    product = env.user.create("Product2", {"Name": "Widget", "ProductCode": "W-1", "IsActive": True})
    standard = next(iter(env.user.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")))["Id"]
    entry = env.user.create(
        "PricebookEntry", {"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 12.5, "IsActive": True}
    )
    kf.create_product({"Code": "K-9", "Name": "Books widget", "Price": "3.50", "NominalCode": 4000})
    env.sync_products()
    assert str((kf.get_product("W-1") or {})["Price"]) == "12.5000"
    made = list(
        env.user.query("SELECT Id, (SELECT UnitPrice FROM PricebookEntries) FROM Product2 WHERE ProductCode = 'K-9'")
    )
    assert made and made[0]["PricebookEntries"]["records"][0]["UnitPrice"] == 3.5
    env.user.update("PricebookEntry", entry, {"UnitPrice": 15})
    env.sync_products()
    assert str((kf.get_product("W-1") or {})["Price"]) == "15.0000"
    kf.request("PUT", "products/4000/W-1", json={"Name": "Widget Pro"})
    env.sync_products()
    assert env.user.get("Product2", product)["Name"] == "Widget Pro"
    writes = len(env.sf_events())
    env.sync_products()
    env.sync_products()
    assert len(env.sf_events()) == writes
    env.user.delete("Product2", product)
    env.sync_products()
    assert (kf.get_product("W-1") or {})["IsArchived"] is True


def test_reconciliation_runs_on_its_cron(env: SyncEnv) -> None:
    assert reconciliation.ensure_schedule() == "0 2 * * *"
    schedule = DBOS.get_schedule(reconciliation.SCHEDULE_NAME)
    assert schedule is not None and schedule["schedule"] == "0 2 * * *"
    reconciliation.ensure_schedule("* * * * * *")  # every second, to see it fire
    # A generous bound: on a loaded machine DBOS's scheduler thread may take many seconds to get its turn.
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline and not DBOS.list_workflows(name="reconcile_scheduled"):
        time.sleep(0.2)
    DBOS.delete_schedule(reconciliation.SCHEDULE_NAME)
    assert DBOS.list_workflows(name="reconcile_scheduled")


def test_a_product_create_refused_for_a_moment_is_retried_alone(env: SyncEnv, caplog: pytest.LogCaptureFixture) -> None:
    """A 503 on a product's create is tried again where it is made: the product is created once, the page's step
    is not retried."""
    kf = _kashflow(env).client
    kf.get_product("NONE")  # signed in: the next POST is the create
    env.user.create("Product2", {"Name": "Blip", "ProductCode": "BLIP-1", "IsActive": True})
    env.fail_next_books_posts(1)
    with caplog.at_level(logging.WARNING, logger="ledgerlink.engine.retry"):
        outcome = env.sync_products()
    assert env.books_errors_injected() == 1
    assert outcome["counts"].get("created_books") == 1 and not outcome["counts"].get("failed"), outcome
    assert (kf.get_product("BLIP-1") or {})["Name"] == "Blip"
    retried = [r.getMessage() for r in caplog.records]
    assert [m for m in retried if m.startswith("create_product: attempt 1 failed")], retried
    assert not [m for m in retried if "_page: attempt" in m or "products_page" in m], retried
