"""The history import writes through mapping templates (a user's copy maps a custom field on Invoice__c, no code),
and puts the invoices of a customer with no Account of that code on the Account golden-record matching finds, or
queues the pair for review, or lists the customer as without an Account. Over HTTP, KashFlow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledgerlink.engine.runtime import wait_for
from ledgerlink.flows import invoice_history
from ledgerlink.intelligence import review
from ledgerlink.mapping import load_mapping
from tests.flows_payments.conftest import _start
from tests.invoice_life.conftest import BooksEnv

CUSTOM = "Customer_Code__c"


@pytest.fixture
def custom_env(tmp_path: Path) -> Iterator[BooksEnv]:
    """An org where Invoice__c has a custom field of the user's own."""
    overrides = {"salesforce": {"extra_fields": {"Invoice__c": {CUSTOM: {"type": "string", "length": 50}}}}}
    yield from _start("kashflow", tmp_path, overrides)


def _invoice(env: BooksEnv, code: str, rate: float = 100) -> str:
    kashflow = env.runtime.books.client  # type: ignore[attr-defined]
    made = kashflow.create_invoice(
        {"CustomerCode": code, "LineItems": [{"Description": "Work", "Quantity": 1, "Rate": rate, "VATLevel": 20}]}
    )
    return str(made["Number"])


def test_a_user_mapping_fills_a_custom_field_on_the_imported_invoice(
    custom_env: BooksEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = custom_env
    env.runtime.books.client.create_customer({"Code": "CUST01", "Name": "Custom Ltd"})  # type: ignore[attr-defined]
    env.make_account("Custom Ltd", "CUST01")
    number = _invoice(env, "CUST01")

    user_dir = tmp_path / "mappings"
    (user_dir / "salesforce").mkdir(parents=True)
    template = Path(load_mapping("salesforce/invoice_from_canonical").file or "").read_text(encoding="utf-8")
    (user_dir / "salesforce" / "invoice_from_canonical.yaml").write_text(
        template + f"  {CUSTOM}: customer_code\n", encoding="utf-8"
    )
    (user_dir / "schema_extensions.yaml").write_text(f"salesforce:\n  Invoice__c:\n    {CUSTOM}: string\n")
    monkeypatch.setenv("LEDGERLINK_MAPPINGS_DIR", str(user_dir))

    result = wait_for(invoice_history.poll()[0])
    assert result["invoices"] == 1, result
    row = env.one(f"SELECT Name, {CUSTOM}, Total__c FROM Invoice__c")
    assert row["Name"] == number and row[CUSTOM] == "CUST01" and row["Total__c"] == 120


def _customer(env: BooksEnv, code: str, name: str, postcode: str, email: str | None, city: str) -> None:
    body: dict[str, Any] = {
        "Code": code,
        "Name": name,
        "Addresses": [{"Line1": "1 High St", "Line3": city, "PostCode": postcode, "CountryCode": "GB"}],
    }
    if email:
        body["Email"] = email
    env.runtime.books.client.create_customer(body)  # type: ignore[attr-defined]


def _account(env: BooksEnv, name: str, postcode: str, email: str, city: str) -> str:
    fields = {"Name": name, "BillingCity": city, "BillingPostalCode": postcode, "BillingCountry": "United Kingdom"}
    account = env.user.create("Account", fields)  # no ExternalID__c: nothing links it by code
    env.user.create("Contact", {"AccountId": account, "FirstName": "Ada", "LastName": "Lovelace", "Email": email})
    return account


def test_customers_without_an_account_are_matched_reviewed_or_listed(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    # Link only the surest: "Brightside Cleaning" vs "Brightside Cleaning Services" lands between the thresholds.
    env.runtime.settings.flows.match_link_threshold = 0.9999999999
    matchwell = _account(env, "Matchwell Trading Ltd", "LS1 4AB", "accounts@matchwell.example", "Leeds")
    brightside = _account(env, "Brightside Cleaning Services", "M1 2CD", "info@brightside.example", "Manchester")
    _account(env, "Unrelated Widgets", "YO1 7HH", "hello@widgets.example", "York")
    _customer(env, "MW01", "Matchwell Trading Ltd", "LS1 4AB", "accounts@matchwell.example", "Leeds")
    _customer(env, "BS01", "Brightside Cleaning", "M1 2CD", None, "Manchester")
    _customer(env, "NO01", "Nobody Matches plc", "BS1 9ZZ", "n@nobody.example", "Bristol")
    numbers = {code: _invoice(env, code) for code in ("MW01", "BS01", "NO01")}

    result = wait_for(invoice_history.poll()[0])
    assert result["invoices"] == 3 and result["accounts_matched"] == 1 and result["accounts_in_review"] == 1, result
    assert result["without_account"] == 2
    rows = {r["Name"]: r for r in env.user.query("SELECT Name, Account__c FROM Invoice__c")}
    assert rows[numbers["MW01"]]["Account__c"] == matchwell
    assert rows[numbers["BS01"]]["Account__c"] is None and rows[numbers["NO01"]]["Account__c"] is None
    books = env.runtime.books
    assert env.ledger.lookup(books.name, books.customer_object, "MW01", "salesforce", "Account") == matchwell
    [imported] = [a for a in env.ledger.audit_trail() if a.flow == invoice_history.FLOW and a.action == "imported"]
    assert imported.detail["customers_without_account"] == ["BS01", "NO01"]
    [pending] = review.find(env.ledger)
    assert pending.source == (books.name, books.customer_object, "BS01")
    assert pending.target == ("salesforce", "Account", brightside)

    # A person approves the pair: the next full import puts that invoice on the Account, and rewrites nothing else.
    review.decide(env.ledger, pending.id, approve=True, user="finance@example.com")
    env.ledger.set_watermark(invoice_history.WATERMARK, "")
    again = wait_for(invoice_history.poll()[0])
    assert again["invoices"] == 1 and again["unchanged"] == 2 and again.get("without_account", 0) == 0, again
    assert env.one(f"SELECT Account__c FROM Invoice__c WHERE Name = '{numbers['BS01']}'")["Account__c"] == brightside


def test_a_mapping_that_fails_on_an_invoice_makes_a_failed_record_naming_it(
    kashflow_env: BooksEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = kashflow_env
    env.runtime.books.client.create_customer({"Code": "BAD01", "Name": "Bad Map Ltd"})  # type: ignore[attr-defined]
    number = _invoice(env, "BAD01")
    user_dir = tmp_path / "mappings"
    (user_dir / "salesforce").mkdir(parents=True)
    template = Path(load_mapping("salesforce/invoice_from_canonical").file or "").read_text(encoding="utf-8")
    broken = template.replace("Status__c: status", "Status__c: {from: status, transforms: [number]}")
    assert broken != template
    (user_dir / "salesforce" / "invoice_from_canonical.yaml").write_text(broken, encoding="utf-8")
    monkeypatch.setenv("LEDGERLINK_MAPPINGS_DIR", str(user_dir))

    result = wait_for(invoice_history.poll()[0])
    assert result["failed"] == 1 and result.get("invoices", 0) == 0, result
    [failure] = env.ledger.failed_records(flow=invoice_history.FLOW)
    message = str(failure.errors[-1])
    assert failure.source_id == number and "Status__c" in message and number in message, failure
    assert list(env.user.query("SELECT Id FROM Invoice__c")) == []
