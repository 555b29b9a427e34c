"""An invoiced deal changes: the invoice is updated, credited, reissued or voided as the policies say, over HTTP,
once (a second poll and a replay change nothing in the books)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerlink.engine.runtime import wait_for
from ledgerlink.flows import invoice_changes, invoice_pdf
from ledgerlink.flows import opportunity_to_invoice as o2i
from tests.flows.conftest import CLOSE_DATE
from tests.invoice_life.conftest import BooksEnv


def _poll() -> list[invoice_changes.Outcome]:
    return [wait_for(h) for h in invoice_changes.poll(lag_seconds=0)]


def _set_price(env: BooksEnv, opportunity: str, price: float) -> None:
    [item] = env.user.query(f"SELECT Id FROM OpportunityLineItem WHERE OpportunityId = '{opportunity}'")
    env.user.update("OpportunityLineItem", item["Id"], {"UnitPrice": price})


def _credit_notes(env: BooksEnv) -> list[dict[str, Any]]:
    """KashFlow keeps a credit note as an invoice with negative amounts (its Credits page)."""
    rows = env.runtime.books.client.list("invoices")  # type: ignore[attr-defined]
    return [
        {**row, "NetAmount": -Decimal(str(row["NetAmount"])), "GrossAmount": -Decimal(str(row["GrossAmount"]))}
        for row in rows
        if Decimal(str(row["GrossAmount"])) < 0
    ]


def _books_writes(env: BooksEnv) -> int:
    return env.ledger.count_audit(flow=invoice_changes.FLOW, system=env.system)


def _settled(env: BooksEnv) -> None:
    """Run again: every run finds nothing to do; nothing more is written to the books."""
    writes = _books_writes(env)
    assert {o["status"] for o in _poll()} <= {"unchanged"}
    assert _books_writes(env) == writes


def test_an_amount_change_updates_the_unpaid_invoice(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    _account, opp, number = env.invoiced_opportunity("Grower Ltd", 100.0)
    # The write-back of the number moved the deal, but it is billed as it is: the trigger starts no run for it.
    assert _poll() == []

    _set_price(env, opp, 150.0)
    [outcome] = _poll()
    assert outcome["status"] == "updated" and outcome["invoice_number"] == number
    invoice = env.runtime.books.get_invoice(number)
    assert invoice is not None and invoice.total_net == Decimal("150.00") and invoice.total_gross == Decimal("180.00")
    assert len(env.kashflow_invoices()) == 1 and _credit_notes(env) == []
    _settled(env)


def test_a_new_invoice_is_not_read_back_from_the_books_by_the_change_flow(kashflow_env: BooksEnv) -> None:
    """The invoice run keeps what it billed, so the change flow's first look at a new invoice (the write-back of its
    number moved the deal) compares with that instead of asking the books for the invoice."""
    env = kashflow_env
    env.invoiced_opportunity("Kept Ltd", 70.0, chain_pdf=False)  # no PDF run reading the books meanwhile
    books_calls = env.runtime.books.client.calls_made  # type: ignore[attr-defined]
    assert _poll() == []  # compared in the trigger with what the invoice run kept: no run, no books read
    assert env.runtime.books.client.calls_made == books_calls  # type: ignore[attr-defined]


def test_a_deal_billed_as_it_is_still_gets_its_run_while_it_has_an_open_failure(kashflow_env: BooksEnv) -> None:
    """The run is what resolves the failed record (it finds the deal as billed): the trigger does not pass it over."""
    env = kashflow_env
    _account, opp, _number = env.invoiced_opportunity("Failed Before Ltd", 40.0, chain_pdf=False)
    env.ledger.record_failure(
        flow=invoice_changes.FLOW, source=("salesforce", "Opportunity", opp), error="books timed out"
    )
    env.user.update("Opportunity", opp, {"Description": "moved, lines as billed"})
    [outcome] = _poll()
    assert outcome["status"] == "unchanged"
    assert not env.ledger.failed_records(flow=invoice_changes.FLOW)  # resolved by that run


def test_a_change_to_a_paid_invoice_makes_a_credit_note_for_the_difference(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    _account, opp, number = env.invoiced_opportunity("Shrinker Ltd", 100.0)
    env.pay(number, str(env.gross(number)), CLOSE_DATE + dt.timedelta(days=2), reference="all")

    _set_price(env, opp, 80.0)
    [outcome] = _poll()
    assert outcome["status"] == "credited", outcome
    [note] = _credit_notes(env)
    assert str(note["CustomerReference"]).startswith(f"CN {number} ")
    assert Decimal(str(note["NetAmount"])) == Decimal("20.00") and Decimal(str(note["GrossAmount"])) == Decimal("24.00")
    invoice = env.runtime.books.get_invoice(number)
    assert invoice is not None and invoice.total_gross == Decimal("120.00")  # the paid invoice stands as it was
    # Paid in full: nothing left to apply the credit to; it stays with the customer, owed back to them.
    assert Decimal(str(env.runtime.books.client.get_customer(invoice.customer_code)["OutstandingBalance"])) == -24  # type: ignore[attr-defined]
    trail = env.ledger.audit_trail(source_id=opp)
    assert [a.record_id for a in trail if a.flow == invoice_changes.FLOW and a.object == "CreditNote"] == [
        str(note["Number"])
    ]
    _settled(env)
    assert wait_for(invoice_changes.replay(opp))["status"] == "unchanged"
    assert len(_credit_notes(env)) == 1


def test_an_increase_on_a_paid_invoice_makes_an_invoice_for_the_difference(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    _account, opp, number = env.invoiced_opportunity("Upsell Ltd", 100.0)
    env.pay(number, "120.00", CLOSE_DATE + dt.timedelta(days=2), reference="all")
    _set_price(env, opp, 130.0)
    [outcome] = _poll()
    assert outcome["status"] == "updated" and len(outcome["documents"]) == 1
    extra = env.runtime.books.get_invoice(outcome["documents"][0])
    assert extra is not None and extra.total_net == Decimal("30.00")
    _settled(env)


def test_credit_and_reissue_credits_the_invoice_and_writes_the_new_number_back(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    env.runtime.settings.flows.invoice_change_policy = "credit_and_reissue"
    _account, opp, number = env.invoiced_opportunity("Reissue Ltd", 100.0)
    _set_price(env, opp, 90.0)
    [outcome] = _poll()
    assert outcome["status"] == "reissued"
    new_number = outcome["invoice_number"]
    assert new_number != number
    [note] = _credit_notes(env)
    assert Decimal(str(note["GrossAmount"])) == Decimal("120.00")
    row = env.one(f"SELECT {o2i.INVOICE_NUMBER_FIELD} FROM Opportunity WHERE Id = '{opp}'")
    assert row[o2i.INVOICE_NUMBER_FIELD] == new_number
    _settled(env)


@pytest.mark.parametrize(
    ("policy", "paid", "expected"),
    [("void_or_credit", False, "voided"), ("credit", False, "credited"), ("void_or_credit", True, "credited")],
)
def test_a_reopened_deal_is_voided_or_credited_as_the_policy_says(
    kashflow_env: BooksEnv, policy: str, paid: bool, expected: str
) -> None:
    env = kashflow_env
    env.runtime.settings.flows.reopen_policy = policy
    _account, opp, number = env.invoiced_opportunity(f"Reopen {policy} {paid} Ltd", 100.0)
    if paid:
        env.pay(number, "50.00", CLOSE_DATE + dt.timedelta(days=2), reference="part")
    env.user.update("Opportunity", opp, {"StageName": "Negotiation/Review"})

    [outcome] = _poll()
    assert outcome["status"] == expected, outcome
    if expected == "voided":
        assert env.runtime.books.get_invoice(number) is None
        assert _credit_notes(env) == []
    else:
        [note] = _credit_notes(env)
        assert Decimal(str(note["GrossAmount"])) == Decimal("120.00")
    status = env.one(f"SELECT Invoice_Status__c FROM Opportunity WHERE Id = '{opp}'")["Invoice_Status__c"]
    assert status == expected.capitalize()
    _settled(env)


def test_without_the_credits_endpoint_the_credit_stays_with_the_customer(kashflow_env: BooksEnv) -> None:
    """KashFlow marks /internal/invoices/{id}/credits internal: where it answers 404 the credit note is still made
    (an invoice with negative amounts), unallocated; the customer owes that much less all the same."""
    env = kashflow_env
    base = env.sandboxes["kashflow"].base_url
    httpx.put(f"{base}/__admin/behaviour", json={"credit_notes": "missing"}).raise_for_status()
    env.runtime.settings.flows.reopen_policy = "credit"
    _account, opp, number = env.invoiced_opportunity("No Credits Ltd", 100.0)
    env.user.update("Opportunity", opp, {"StageName": "Negotiation/Review"})
    [outcome] = _poll()
    assert outcome["status"] == "credited", outcome
    [note] = _credit_notes(env)
    assert note["GrossAmount"] == Decimal("120.00")
    kashflow = env.runtime.books.client  # type: ignore[attr-defined]
    assert Decimal(str(kashflow.get_invoice(number)["DueAmount"])) == Decimal("120.00")  # not applied
    assert Decimal(str(kashflow.get_customer(note["CustomerCode"])["OutstandingBalance"])) == 0
    _settled(env)


def test_a_credit_note_is_applied_to_the_unpaid_invoice(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    env.runtime.settings.flows.invoice_change_policy = "credit_difference"
    _account, opp, number = env.invoiced_opportunity("Applied Ltd", 100.0)
    _set_price(env, opp, 75.0)
    [outcome] = _poll()
    assert outcome["status"] == "credited"
    kashflow = env.runtime.books.client  # type: ignore[attr-defined]
    assert Decimal(str(kashflow.get_invoice(number)["DueAmount"])) == Decimal("90.00")  # 120 - 30 credited
    [note] = _credit_notes(env)
    assert Decimal(str(kashflow.get_invoice(str(note["Number"]))["DueAmount"])) == 0  # its credit all used
    _settled(env)


def test_a_change_is_not_lost_when_the_pdf_trigger_reads_the_deal_first(kashflow_env: BooksEnv) -> None:
    """Both triggers read invoiced deals changed after a watermark; each keeps its own, so the PDF flow reading
    (and passing over) the changed deal first leaves it for the change flow."""
    env = kashflow_env
    _account, opp, number = env.invoiced_opportunity("Shared Watermark Ltd", 100.0)
    assert _poll() == []
    _set_price(env, opp, 140.0)
    [wait_for(h) for h in invoice_pdf.poll(lag_seconds=0)]  # the file is attached already: it passes over the deal
    [outcome] = _poll()
    assert outcome["status"] == "updated" and outcome["invoice_number"] == number
    assert invoice_changes.WATERMARK != invoice_pdf.WATERMARK
