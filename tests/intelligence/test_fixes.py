"""Suggested fixes for failed records: a misspelt country is corrected in Salesforce in one click and the record
replayed (over HTTP: the console, the Salesforce and KashFlow sandboxes); an unsafe fix is only suggested."""

from __future__ import annotations

import time
from pathlib import Path

from ledgerlink.store import FailedRecordRow
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
