"""A sync page whose Salesforce write fails once is retried, and the retry still carries every change.

Found by the reliability scenario: the page remembered each record's version before its Salesforce writes went out,
so the retried page skipped those records as unchanged and the change never reached Salesforce (reconciliation
found the drift later)."""

from __future__ import annotations

from typing import Any

import httpx

from ledgerlink.systems.kashflow.books import KashFlowBooks
from tests.sync.conftest import SyncEnv


def _fail_next(env: SyncEnv, method: str, path: str, count: int = 1) -> None:
    """The next ``count`` Salesforce ``method`` requests under ``path`` answer 500, before any processing."""
    prefix = f"{env.runtime.crm.base_path}/{path}"
    url = f"{env.sandboxes['salesforce'].base_url}/__admin/faults"
    httpx.put(url, json={"paths": [prefix], "methods": [method], "fail_next": count}).raise_for_status()


def _injected(env: SyncEnv) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{env.sandboxes['salesforce'].base_url}/__admin/faults").json()
    return dict(body["injected"])


def test_a_books_edit_reaches_salesforce_when_the_collections_update_fails_once(env: SyncEnv) -> None:
    account = env.make_account("Retry Ltd", code="RETRY1")
    env.sync_customers()
    env.edit_books_customer("RETRY1", website="https://retry.test")
    _fail_next(env, "PATCH", "composite/sobjects")
    outcome = env.sync_customers()
    assert _injected(env)["errors"] == 1
    assert outcome["status"] == "synced", outcome
    assert env.account(account)["Website"] == "https://retry.test"


def test_a_new_books_customer_gets_its_contacts_when_their_create_fails_once(env: SyncEnv) -> None:
    books = env.runtime.books
    assert isinstance(books, KashFlowBooks)
    books.client.create_customer(
        {
            "Code": "NEWBK1",
            "Name": "New In Books Ltd",
            "Contacts": [{"FirstName": "Grace", "LastName": "Hopper", "Email": "grace@x.test"}],
        }
    )
    _fail_next(env, "POST", "composite/sobjects")
    env.sync_customers()
    assert _injected(env)["errors"] == 1
    rows = list(
        env.user.query("SELECT Id, (SELECT LastName FROM Contacts) FROM Account WHERE ExternalID__c = 'NEWBK1'")
    )
    assert len(rows) == 1
    assert [c["LastName"] for c in (rows[0].get("Contacts") or {}).get("records") or []] == ["Hopper"]


def test_a_contact_whose_create_reply_is_lost_is_made_once(env: SyncEnv) -> None:
    """Found by the reliability benchmark (a duplicate Contact under faults): Salesforce made the Contacts, the
    connection dropped before the reply, and the retry made them again. A Contact has no key to upsert on, so the
    retry looks first."""
    books = env.runtime.books
    assert isinstance(books, KashFlowBooks)
    books.client.create_customer(
        {
            "Code": "LOSTRP1",
            "Name": "Lost Reply Contacts Ltd",
            "Contacts": [
                {"FirstName": "Grace", "LastName": "Hopper", "Email": "grace@x.test"},
                {"FirstName": "Alan", "LastName": "Turing"},
            ],
        }
    )
    prefix = f"{env.runtime.crm.base_path}/composite/sobjects"
    url = f"{env.sandboxes['salesforce'].base_url}/__admin/faults"
    httpx.put(url, json={"paths": [prefix], "methods": ["POST"], "drop_after_next": 1}).raise_for_status()
    outcome = env.sync_customers()
    assert _injected(env)["drops_after"] == 1
    assert outcome["status"] == "synced", outcome
    rows = list(
        env.user.query("SELECT Id, (SELECT LastName FROM Contacts) FROM Account WHERE ExternalID__c = 'LOSTRP1'")
    )
    assert len(rows) == 1
    names = sorted(c["LastName"] for c in (rows[0].get("Contacts") or {}).get("records") or [])
    assert names == ["Hopper", "Turing"]


def test_a_books_price_reaches_salesforce_when_the_collections_update_fails_once(env: SyncEnv) -> None:
    product, _entry = env.user.create("Product2", {"Name": "Widget", "ProductCode": "WID-1", "IsActive": True}), None
    standard = next(iter(env.user.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")))["Id"]
    env.user.create(
        "PricebookEntry", {"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 10, "IsActive": True}
    )
    env.sync_products()
    books = env.runtime.books
    assert isinstance(books, KashFlowBooks)
    books.client.request("PUT", "products/4000/WID-1", json={"Name": "Widget (books)"})
    _fail_next(env, "PATCH", "composite/sobjects")
    outcome = env.sync_products()
    assert _injected(env)["errors"] == 1
    assert outcome["status"] == "synced", outcome
    assert env.user.get("Product2", product)["Name"] == "Widget (books)"
