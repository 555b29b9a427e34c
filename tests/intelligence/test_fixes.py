"""Suggested fixes for failed records: a misspelt country is corrected in Salesforce in one click and the record
replayed; an unknown product code is invoiced as the books' closest product on the record's replay (over HTTP:
the console, the Salesforce and KashFlow sandboxes); an unsafe fix is only suggested."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from ledgerlink.engine import runtime as engine
from ledgerlink.flows import fix_rewrites
from ledgerlink.flows import opportunity_to_invoice as o2i
from ledgerlink.store import FailedRecordRow, Ledger, database_url
from ledgerlink.web.services import fixes
from tests.sync.conftest import _env
from tests.web.console_helpers import ADMIN, serve_console, signed_in


def test_a_misspelt_country_is_fixed_and_replayed(tmp_path: Path) -> None:
    for env in _env(tmp_path, "kashflow"):
        account = env.make_account("Epsilon Ltd", BillingCountry="Untied Kingdom")
        env.sync_customers()
        [failed] = env.ledger.failed_records(flow="customer_sync")
        assert failed.source_id == account
        with serve_console(tmp_path / "console", ledger=env.ledger) as served:
            sf = env.sandboxes["salesforce"].describe()
            served.console.connections.add("salesforce", "salesforce", sf["base_url"], sf["credentials"])
            client, csrf = signed_in(served.url, ADMIN)
            with client:
                fix = client.get(f"/api/failed/{failed.id}/fix").json()
                assert fix["safe"] and fix["source_field"] == "BillingCountry" and fix["value"] == "United Kingdom"
                assert "closest is United Kingdom (GB" in fix["message"]
                page = client.get(f"/failed/{failed.id}/fix")
                assert 'id="apply-fix"' in page.text
                applied = client.post(f"/api/failed/{failed.id}/fix", headers={"X-CSRF-Token": csrf})
                assert applied.status_code == 200, applied.text
                assert applied.json()["replay_run"]
        assert env.account(account)["BillingCountry"] == "United Kingdom"
        for _ in range(300):  # the replay runs on the engine's queue: wait for it to link and close the failure
            if env.books_id(account) and not env.ledger.failed_records(flow="customer_sync"):
                break
            time.sleep(0.2)
        assert env.books_id(account)
        assert env.ledger.failed_records(flow="customer_sync") == []
        assert env.audits("fix_applied") == 1


def _row(error: str, field: str | None, data: dict[str, object]) -> FailedRecordRow:
    return FailedRecordRow(
        id=1,
        flow="f",
        source_system="salesforce",
        source_object="Account",
        source_id="001X",
        target_ids={},
        input=data,
        errors=[{"error": error, "field": field}],
        status="open",
        created_at=None,
        updated_at=None,
    )


def test_unsafe_and_format_fixes() -> None:
    long = fixes.suggest(_row("field name: String should have at most 50 characters (got 'x')", "name", {"Name": "x"}))
    assert long is not None and not long.safe and "50 characters" in long.message
    vat = fixes.suggest(_row("field vat_number: bad (got '123 4567 89')", "vat_number", {"VAT__c": "123 4567 89"}))
    assert vat is not None and vat.safe and vat.value == "GB123456789" and vat.source_field == "VAT__c"
    nowhere = fixes.suggest(_row("unknown country 'Qwzxv'", "billing_address.country", {"BillingCountry": "Qwzxv"}))
    assert nowhere is not None and not nowhere.safe
    assert fixes.suggest(_row("HTTP 500 from the books", None, {})) is None


def test_a_record_without_account_is_offered_the_account_its_name_matches() -> None:
    accounts = [("001A", "Northwind Traders Ltd"), ("001B", "Contoso Pharmaceuticals"), ("001C", "Fabrikam Inc")]
    row = _row("required value is missing", "customer_code", {"Name": "Northwind Traders Ltd - renewal 2027"})
    fix = fixes.suggest(row, lambda: accounts)
    assert fix is not None and fix.safe and fix.value == "001A" and fix.source_field == "AccountId"
    assert "matches Account Northwind Traders Ltd (001A" in fix.message
    vague = fixes.suggest(_row("required value is missing", "customer_code", {"Name": "Deal 0042"}), lambda: accounts)
    assert vague is not None and not vague.safe
    assert fixes.suggest(row) is not None and not fixes.suggest(row).safe  # no CRM: no guess


def _deal_with_product(env: Any, code: str, name: str) -> str:
    """A won Opportunity of one line whose Product2 carries ``code``."""
    account = env.make_account("Zeta Ltd", code="CUST-ZETA")
    product = env.user.create("Product2", {"Name": name, "ProductCode": code, "IsActive": True})
    standard = next(iter(env.user.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")))["Id"]
    entry = env.user.create(
        "PricebookEntry", {"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 4500.0, "IsActive": True}
    )
    close = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    opp = env.user.create(
        "Opportunity", {"Name": "Rollout", "StageName": "Prospecting", "CloseDate": close, "AccountId": account}
    )
    env.user.create("OpportunityLineItem", {"OpportunityId": opp, "PricebookEntryId": entry, "Quantity": 1})
    env.user.update("Opportunity", opp, {"StageName": "Closed Won"})
    return str(opp)


def test_an_unknown_product_code_is_invoiced_as_the_closest_on_replay(tmp_path: Path) -> None:
    for env in _env(tmp_path, "kashflow"):
        env.runtime.settings.flows.create_missing_products = False  # the catalogue is kept in the books by hand
        kashflow = env.runtime.books.client  # type: ignore[attr-defined]
        kashflow.create_product(
            {"Code": "SRV-IMPL", "Name": "Implementation package", "Price": 4500, "NominalCode": 4000}
        )
        kashflow.create_product({"Code": "SRV-CONS", "Name": "Consulting day", "Price": 950, "NominalCode": 4000})
        opp = _deal_with_product(env, "SRV-IMLP", "Implementation package")  # letters swapped in the CRM
        assert engine.wait_for(o2i.replay(opp))["status"] == "failed"
        [failed] = env.ledger.failed_records(flow="opportunity_to_invoice")
        assert "SRV-IMLP" in failed.errors[-1]["error"]
        with serve_console(tmp_path / "console", ledger=env.ledger) as served:
            for system in ("salesforce", "kashflow"):
                spec = env.sandboxes[system].describe()
                served.console.connections.add(system, system, spec["base_url"], spec["credentials"])
            client, csrf = signed_in(served.url, ADMIN)
            with client:
                fix = client.get(f"/api/failed/{failed.id}/fix").json()
                assert fix["safe"] and fix["kind"] == "product_code"
                assert (fix["replaces"], fix["value"]) == ("SRV-IMLP", "SRV-IMPL") and fix["confidence"] == 1.0
                assert "the closest is SRV-IMPL (Implementation package, 1.00)" in fix["message"]
                page = client.get(f"/failed/{failed.id}/fix")
                assert 'id="apply-fix"' in page.text and "closest is SRV-IMPL" in page.text
                applied = client.post(f"/failed/{failed.id}/fix", headers={"X-CSRF-Token": csrf})
                assert applied.status_code == 200, applied.text
                assert "is invoiced as “SRV-IMPL”" in applied.text and ":replay-" in applied.text
        for _ in range(300):  # the replay runs on the engine's queue: wait for the invoice and the closed failure
            if not env.ledger.failed_records(flow="opportunity_to_invoice"):
                break
            time.sleep(0.2)
        [listed] = [i for i in kashflow.list("invoices") if i["CustomerReference"] == opp]
        invoice = kashflow.get_invoice(str(listed["Number"]))
        assert [line["ProductCode"] for line in invoice["LineItems"]] == ["SRV-IMPL"]
        assert (
            env.user.get("Product2", env.user.get("OpportunityLineItem", _line(env, opp))["Product2Id"])["ProductCode"]
            == "SRV-IMLP"
        )  # the CRM is left as it was: the rewrite is this record's
        assert env.ledger.failed_records(flow="opportunity_to_invoice") == []
        assert env.audits("fix_applied") == 1


def _line(env: Any, opp: str) -> str:
    rows = env.user.query(f"SELECT Id FROM OpportunityLineItem WHERE OpportunityId = '{opp}'")
    return str(next(iter(rows))["Id"])


def test_an_unknown_product_code_without_a_clear_closest_is_only_suggested() -> None:
    row = _row(
        "Opportunity 006X: kashflow refused it: LineItems[1].ProductCode: no product 'LIC'",
        "LineItems[1].ProductCode",
        {"OpportunityLineItems": {"records": [{"Product2": {"Name": "Licence", "ProductCode": "LIC"}}]}},
    )
    pool = [("LIC-STD", "Licence — Standard seat"), ("LIC-PRO", "Licence — Pro seat")]
    vague = fixes.suggest(row, products=lambda: pool)
    assert vague is not None and not vague.safe and "correct the line yourself" in vague.message
    named = fixes.suggest(row, products=lambda: [*pool, ("LICENCE", "Licence")])
    assert named is not None and named.safe and named.value == "LICENCE" and named.replaces == "LIC"
    no_books = fixes.suggest(row)
    assert no_books is not None and not no_books.safe


def test_a_product_code_rewrite_is_read_by_replays_only(tmp_path: Path) -> None:
    ledger = Ledger(database_url(tmp_path))
    for code_to in ("SRV-IMPL", "SRV-IMPL2"):  # two fixes in turn: the later one wins
        ledger.audit(
            flow="opportunity_to_invoice",
            system="salesforce",
            obj="Opportunity",
            record_id="006A",
            action=fix_rewrites.ACTION,
            source_id="006A",
            detail={"rewrite": fix_rewrites.product_code_rewrite("SRV-IMLP", code_to)},
        )
    ledger.audit(  # a fix written to the source record carries no rewrite
        flow="opportunity_to_invoice", system="salesforce", obj="Opportunity", record_id="006B",
        action=fix_rewrites.ACTION, source_id="006B", detail={"field": "AccountId", "value": "001A"},
    )  # fmt: skip
    ids = ["006A", "006B", "006C"]
    replay = "opportunity_to_invoice:006A:replay-0123456789ab"
    assert fix_rewrites.read(ledger, "opportunity_to_invoice", ids, replay) == {"006A": {"SRV-IMLP": "SRV-IMPL2"}}
    assert fix_rewrites.read(ledger, "opportunity_to_invoice", ids, "opportunity_to_invoice:006A:v1") == {}
    assert fix_rewrites.read(ledger, "order_to_invoice", ids, replay) == {}
    invoice = {"lines": [{"product_code": "SRV-IMLP", "quantity": 1}, {"product_code": "LIC-STD", "quantity": 2}]}
    rewritten = fix_rewrites.apply(invoice, {"SRV-IMLP": "SRV-IMPL2"})
    assert [line["product_code"] for line in rewritten["lines"]] == ["SRV-IMPL2", "LIC-STD"]
    assert invoice["lines"][0]["product_code"] == "SRV-IMLP"  # the input is not changed in place
    ledger.dispose()
