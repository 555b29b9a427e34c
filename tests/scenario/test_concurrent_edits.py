"""A person's edit that lands while LedgerLink writes the same Account is synced, not taken for LedgerLink's own.

Found by the reliability scenario (edits during a trigger round): after writing an Account, the page re-read it
and remembered whatever Salesforce held as its own write, Contacts included. A Contact edited by a person in that
moment was then skipped as an echo, never reached the books, and the next reconciliation "repaired" the drift by
writing the books' stale phone number back over the person's edit."""

from __future__ import annotations

from typing import Any

import pytest

from ledgerlink.flows import reconciliation
from tests.sync.conftest import SyncEnv


def test_a_contact_edited_while_ledgerlink_updates_its_account_reaches_the_books(
    env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = env.make_account("Busy Ltd", code="BUSY1")
    contact = env.user.create(
        "Contact", {"AccountId": account, "FirstName": "Ada", "LastName": "Byron", "Email": "ada@busy.test"}
    )
    env.sync_customers()
    env.edit_books_customer("BUSY1", phone="0113 496 0000")  # LedgerLink will write this to the Account

    sf = env.runtime.crm
    real_update_many = sf.update_many

    def update_while_a_person_edits(sobject: str, records: list[dict[str, Any]], **kwargs: Any) -> Any:
        results = real_update_many(sobject, records, **kwargs)
        if sobject == "Account":  # between LedgerLink's write and its re-read of the Account
            env.user.update("Contact", contact, {"Phone": "07700 900123"})
        return results

    monkeypatch.setattr(sf, "update_many", update_while_a_person_edits)
    env.sync_customers()
    monkeypatch.undo()
    assert env.account(account)["Phone"] == "0113 496 0000"

    env.sync_customers()
    assert [c.phone for c in env.books_customer("BUSY1").contacts] == ["07700 900123"]
    report = reconciliation.run_now()
    assert report["entities"]["customer"]["drift"] == 0, report
    assert env.user.get("Contact", contact)["Phone"] == "07700 900123"
