"""What an invoice change does in the books reaches Salesforce in the same run (the credit note as a negative
Invoice__c, the invoice's balance and status, a void, the deal), once: a replay and the later history import write
nothing more. A deal won again after its void is invoiced anew, by policy, once. Over HTTP, KashFlow."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ledgerlink.engine.runtime import wait_for
from ledgerlink.flows import invoice_changes, invoice_history
from ledgerlink.flows import opportunity_to_invoice as o2i
from tests.flows.conftest import CLOSE_DATE
from tests.invoice_life.conftest import BooksEnv


def _poll() -> list[invoice_changes.Outcome]:
    return [wait_for(h) for h in invoice_changes.poll(lag_seconds=0)]


def _set_price(env: BooksEnv, opportunity: str, price: float) -> None:
    [item] = env.user.query(f"SELECT Id FROM OpportunityLineItem WHERE OpportunityId = '{opportunity}'")
    env.user.update("OpportunityLineItem", item["Id"], {"UnitPrice": price})


def _invoices(env: BooksEnv) -> dict[str, dict[str, Any]]:
    soql = "SELECT Id, Name, Status__c, Total__c, Balance__c, Opportunity__c, Account__c FROM Invoice__c"
    return {str(r["Name"]): r for r in env.user.query(soql)}


def _salesforce_writes(env: BooksEnv) -> int:
    return env.ledger.count_audit(flow=invoice_changes.FLOW, system="salesforce")


def test_a_credit_note_reaches_salesforce_at_once_and_the_import_does_not_duplicate_it(
    kashflow_env: BooksEnv,
) -> None:
    env = kashflow_env
    account, opp, number = env.invoiced_opportunity("At Once Ltd", 100.0)
    env.pay(number, "120.00", CLOSE_DATE + dt.timedelta(days=2), reference="all")

    _set_price(env, opp, 80.0)
    [outcome] = _poll()
    assert outcome["status"] == "credited", outcome
    [note] = outcome["documents"]
    assert outcome["salesforce"]["credit_notes"] == 1
    rows = _invoices(env)
    assert sorted(rows) == sorted([number, note])
    assert Decimal(str(rows[note]["Total__c"])) == Decimal("-24.00")
    assert rows[note]["Opportunity__c"] == opp and rows[note]["Account__c"] == account
    assert rows[number]["Opportunity__c"] == opp and Decimal(str(rows[number]["Balance__c"])) == 0
    deal = env.one(f"SELECT {o2i.INVOICE_STATUS_FIELD} FROM Opportunity WHERE Id = '{opp}'")
    assert deal[o2i.INVOICE_STATUS_FIELD] == "Paid"  # the books' status of the invoice that stands

    # A replay and another poll write nothing to Salesforce; the import finds both records as written.
    writes = _salesforce_writes(env)
    assert wait_for(invoice_changes.replay(opp))["status"] == "unchanged"
    assert {o["status"] for o in _poll()} <= {"unchanged"}
    imported = wait_for(invoice_history.poll()[0])
    assert imported["unchanged"] == 2 and imported.get("invoices", 0) == 0, imported
    assert _salesforce_writes(env) == writes
    assert len(_invoices(env)) == 2


def test_a_void_and_a_reissue_show_in_salesforce(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    env.runtime.settings.flows.invoice_change_policy = "credit_and_reissue"
    _a, voided, voided_number = env.invoiced_opportunity("Void Me Ltd", 100.0)
    _b, reissued, reissued_number = env.invoiced_opportunity("Reissue Me Ltd", 100.0)
    wait_for(invoice_history.poll()[0])  # both invoices are in Salesforce already

    env.user.update("Opportunity", voided, {"StageName": "Negotiation/Review"})
    _set_price(env, reissued, 90.0)
    outcomes = {o["opportunity"]: o for o in _poll()}
    assert outcomes[voided]["status"] == "voided" and outcomes[voided]["salesforce"] == {"voided": 1}
    reissue = outcomes[reissued]
    assert reissue["status"] == "reissued"
    note, new_number = reissue["documents"]
    rows = _invoices(env)
    assert rows[voided_number]["Status__c"] == "Voided" and Decimal(str(rows[voided_number]["Balance__c"])) == 0
    assert Decimal(str(rows[note]["Total__c"])) == Decimal("-120.00") and rows[note]["Opportunity__c"] == reissued
    assert Decimal(str(rows[new_number]["Total__c"])) == Decimal("108.00")
    assert rows[new_number]["Opportunity__c"] == reissued
    assert Decimal(str(rows[reissued_number]["Balance__c"])) == 0  # credited in full

    writes = _salesforce_writes(env)
    assert {o["status"] for o in _poll()} <= {"unchanged"}
    env.ledger.set_watermark(invoice_history.WATERMARK, "")
    again = wait_for(invoice_history.poll()[0])
    assert again.get("invoices", 0) == 0 and again.get("credit_notes", 0) == 0, again
    assert _salesforce_writes(env) == writes
    assert len(_invoices(env)) == 4  # the voided one, the credited one, its credit note, the new one

    # An explicit replay of the invoice run finds the deal's first invoice, but leaves the reissued one written back.
    replayed = wait_for(o2i.replay(reissued))
    assert replayed["status"] == "already_invoiced" and replayed["invoice_number"] == reissued_number
    deal = env.one(f"SELECT {o2i.INVOICE_NUMBER_FIELD} FROM Opportunity WHERE Id = '{reissued}'")
    assert deal[o2i.INVOICE_NUMBER_FIELD] == new_number


def test_a_deal_won_again_after_its_void_gets_a_new_invoice_once(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    _account, opp, number = env.invoiced_opportunity("Won Again Ltd", 100.0)
    env.user.update("Opportunity", opp, {"StageName": "Negotiation/Review"})
    [voided] = _poll()
    assert voided["status"] == "voided"

    _set_price(env, opp, 110.0)
    env.user.update("Opportunity", opp, {"StageName": "Closed Won"})
    [outcome] = _poll()
    assert outcome["status"] == "reinvoiced", outcome
    assert outcome["previous"] == number and outcome["was"] == "voided"
    new_number = outcome["invoice_number"]
    invoice = env.runtime.books.get_invoice(new_number)
    assert invoice is not None and invoice.total_net == Decimal("110.00") and invoice.reference != opp
    deal = env.one(f"SELECT {o2i.INVOICE_NUMBER_FIELD}, {o2i.INVOICE_STATUS_FIELD} FROM Opportunity WHERE Id = '{opp}'")
    assert deal[o2i.INVOICE_NUMBER_FIELD] == new_number and deal[o2i.INVOICE_STATUS_FIELD] == "Unpaid"
    trail = [a for a in env.ledger.audit_trail(source_id=opp) if a.flow == invoice_changes.FLOW]
    assert [a.record_id for a in trail if a.action == "created" and a.object == env.runtime.books.invoice_object] == [
        new_number
    ]
    assert _invoices(env)[new_number]["Opportunity__c"] == opp

    # A replay, another poll and the invoice run find it: no third invoice.
    before = len(env.kashflow_invoices())
    assert wait_for(invoice_changes.replay(opp))["status"] == "unchanged"
    assert {o["status"] for o in _poll()} <= {"unchanged"}
    assert env.poll_and_run() == []  # the number written back is the one standing: nothing for the invoice run
    assert len(env.kashflow_invoices()) == before


def test_rewon_policy_fail_leaves_it_to_a_person(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    env.runtime.settings.flows.rewon_policy = "fail"
    _account, opp, number = env.invoiced_opportunity("Ask First Ltd", 100.0)
    env.user.update("Opportunity", opp, {"StageName": "Negotiation/Review"})
    _poll()
    env.user.update("Opportunity", opp, {"StageName": "Closed Won"})
    [outcome] = _poll()
    assert outcome["status"] == "failed" and outcome["field"] == "StageName"
    assert number in outcome["error"] and "voided" in outcome["error"]
    assert len(env.kashflow_invoices()) == 0  # the voided one was deleted; nothing new made

    env.runtime.settings.flows.rewon_policy = "new_invoices"  # a typo: a clear error naming the setting
    typo = wait_for(invoice_changes.replay(opp))
    assert typo["status"] == "failed" and typo["field"] == "rewon_policy" and "new_invoice, fail" in typo["error"]

    env.runtime.settings.flows.rewon_policy = "new_invoice"  # decided: replay
    assert wait_for(invoice_changes.replay(opp))["status"] == "reinvoiced"
    assert len(env.kashflow_invoices()) == 1
