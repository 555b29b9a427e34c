"""The walking skeleton end to end: Salesforce sandbox → LedgerLink on DBOS → KashFlow sandbox, over HTTP."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from sqlalchemy import delete

from ledgerlink.demo.seed import seed
from ledgerlink.store.tables import CrossReference
from tests.flows.conftest import FlowEnv


def _won_ids(env: FlowEnv) -> set[str]:
    return {r["Id"] for r in env.user.query("SELECT Id FROM Opportunity WHERE IsWon = true AND Amount > 0")}


def test_every_won_opportunity_becomes_exactly_one_invoice_and_rerun_creates_nothing(flow_env: FlowEnv) -> None:
    summary = seed(flow_env.user, accounts=6, opportunities=20, seed=3)
    won = _won_ids(flow_env)
    assert len(won) == summary.won > 0

    outcomes = flow_env.poll_and_run()
    assert Counter(o["status"] for o in outcomes) == {"invoiced": len(won)}

    invoices = flow_env.kashflow_invoices()
    references = Counter(inv["CustomerReference"] for inv in invoices)
    assert set(references) == won
    assert all(n == 1 for n in references.values())

    written = {
        r["Id"]: r["Accounting_Invoice_Number__c"]
        for r in flow_env.user.query(
            "SELECT Id, Accounting_Invoice_Number__c, Invoice_Status__c FROM Opportunity WHERE IsWon = true"
        )
    }
    by_reference = {inv["CustomerReference"]: str(inv["Number"]) for inv in invoices}
    assert written == by_reference

    # Invoice totals equal the opportunity amounts (net), line by line.
    amounts = {
        r["Id"]: Decimal(str(r["Amount"]))
        for r in flow_env.user.query("SELECT Id, Amount FROM Opportunity WHERE IsWon = true")
    }
    for inv in invoices:
        full = flow_env.runtime.books.client.get_invoice(str(inv["Number"]))  # type: ignore[attr-defined]
        assert full is not None
        assert Decimal(str(full["NetAmount"])) == amounts[inv["CustomerReference"]]

    # A second pass, as after a restart: every run finds its work done and writes nothing.
    rerun = [flow_env.run_one(opp_id) for opp_id in sorted(won)]
    assert Counter(o["status"] for o in rerun) == {"already_invoiced": len(won)}
    assert len(flow_env.kashflow_invoices()) == len(won)
    assert flow_env.poll_and_run() == []  # the watermark moved past everything: nothing new to read


def test_amount_zero_or_open_stage_makes_no_invoice(flow_env: FlowEnv) -> None:
    account = flow_env.make_account("Zero Ltd", "CUST-ZERO")
    _product, entry = flow_env.make_product("ZP-1", 10.0)
    zero = flow_env.make_opportunity(stage="Closed Won", account_id=account, lines=[])
    open_deal = flow_env.make_opportunity(stage="Negotiation/Review", account_id=account, lines=[(entry, 2, 10.0)])
    lost = flow_env.make_opportunity(stage="Closed Lost", account_id=account, lines=[(entry, 1, 10.0)])

    outcomes = [flow_env.run_one(opp) for opp in (zero, open_deal, lost)]
    assert [o["status"] for o in outcomes] == ["skipped", "skipped", "skipped"]
    assert flow_env.kashflow_invoices() == []
    assert flow_env.poll_and_run() == [{"opportunity": zero, "status": "skipped"}]


def test_kashflow_500_on_invoice_creation_is_retried_and_yields_one_invoice(flow_env: FlowEnv) -> None:
    account = flow_env.make_account("Retry Ltd", "CUST-RETRY")
    _product, entry = flow_env.make_product("RP-1", 99.5)
    opp = flow_env.make_opportunity(stage="Closed Won", account_id=account, lines=[(entry, 3, 99.5)])

    flow_env.set_faults("kashflow", paths=["/v2/invoices"], methods=["POST"], fail_next=2)
    outcome = flow_env.run_one(opp)
    assert outcome["status"] == "invoiced"
    invoices = flow_env.kashflow_invoices()
    assert [inv["CustomerReference"] for inv in invoices] == [opp]


def test_invoice_created_but_response_lost_is_not_created_twice(flow_env: FlowEnv) -> None:
    account = flow_env.make_account("Lost Reply Ltd", "CUST-LOST")
    _product, entry = flow_env.make_product("LP-1", 12.0)
    opp = flow_env.make_opportunity(stage="Closed Won", account_id=account, lines=[(entry, 1, 12.0)])

    # KashFlow creates the invoice, then the connection drops before the reply arrives.
    flow_env.set_faults("kashflow", paths=["/v2/invoices"], methods=["POST"], drop_after_next=1)
    outcome = flow_env.run_one(opp)
    assert outcome["status"] == "already_invoiced"  # found by its reference on the retry
    assert [inv["CustomerReference"] for inv in flow_env.kashflow_invoices()] == [opp]


def test_a_first_invoice_is_made_without_a_look_and_one_made_before_a_crash_is_found(flow_env: FlowEnv) -> None:
    flow_env.runtime.settings.flows.invoice_pdf = False  # its chained runs call KashFlow too
    account = flow_env.make_account("Intent Ltd", "CUST-INTENT")
    _product, entry = flow_env.make_product("IP-1", 30.0)
    first = flow_env.make_opportunity(stage="Closed Won", account_id=account, lines=[(entry, 1, 30.0)])
    assert flow_env.run_one(first)["status"] == "invoiced"  # makes the customer and the product too

    # Customer and product known, nothing tried before for this deal: one call to KashFlow, the create.
    books = flow_env.runtime.books
    second = flow_env.make_opportunity(stage="Closed Won", account_id=account, lines=[(entry, 2, 30.0)])
    calls = books.api_calls()
    assert flow_env.run_one(second)["status"] == "invoiced"
    assert books.api_calls() - calls == 1

    # A run that made the invoice, then died before its ledger link and its write-back: its intent is in the
    # ledger, so the next run looks in KashFlow first and finds the invoice instead of making a second.
    with flow_env.ledger.session() as s:
        s.execute(
            delete(CrossReference).where(CrossReference.id_a == second, CrossReference.object_b == books.invoice_object)
        )
    flow_env.user.update("Opportunity", second, {"Accounting_Invoice_Number__c": None})
    assert flow_env.ledger.lookup("salesforce", "Opportunity", second, "kashflow", books.invoice_object) is None
    outcome = flow_env.run_one(second)
    assert outcome["status"] == "already_invoiced"
    references = Counter(inv["CustomerReference"] for inv in flow_env.kashflow_invoices())
    assert references == {first: 1, second: 1}
    linked = flow_env.ledger.lookup("salesforce", "Opportunity", second, "kashflow", books.invoice_object)
    assert linked == outcome["invoice_number"]


def test_malformed_opportunities_become_failed_records_naming_the_field(flow_env: FlowEnv) -> None:
    # This project keeps its catalogue in the books by hand: an unknown product must not be invented there.
    flow_env.runtime.settings.flows.create_missing_products = False
    kashflow = flow_env.runtime.books.client  # type: ignore[attr-defined]
    kashflow.create_product({"Code": "GP-1", "Name": "Known product", "Price": 50, "NominalCode": 4000})
    account = flow_env.make_account("Good Ltd", "CUST-GOOD")
    _known, known_entry = flow_env.make_product("GP-1", 50.0)
    _unknown, unknown_entry = flow_env.make_product("NOT-IN-BOOKS", 20.0)
    good = flow_env.make_opportunity(stage="Closed Won", account_id=account, lines=[(known_entry, 1, 50.0)])
    orphan = flow_env.make_opportunity(stage="Closed Won", account_id=None, lines=[(known_entry, 1, 50.0)])
    unknown_product = flow_env.make_opportunity(
        stage="Closed Won", account_id=account, lines=[(known_entry, 1, 50.0), (unknown_entry, 2, 20.0)]
    )

    outcomes = {o["opportunity"]: o for o in flow_env.poll_and_run()}
    assert outcomes[good]["status"] == "invoiced"
    assert outcomes[orphan]["status"] == "failed"
    assert outcomes[unknown_product]["status"] == "failed"
    assert "AccountId" in outcomes[orphan]["error"]

    failed = {f.source_id: f for f in flow_env.ledger.failed_records(flow="opportunity_to_invoice")}
    assert set(failed) == {orphan, unknown_product}
    orphan_error = failed[orphan].errors[-1]
    assert orphan_error["field"] == "AccountId"
    assert orphan in orphan_error["error"]
    product_error = failed[unknown_product].errors[-1]
    assert product_error["field"] == "LineItems[2].ProductCode"
    assert unknown_product in product_error["error"] and "NOT-IN-BOOKS" in product_error["error"]
    assert failed[unknown_product].input["Id"] == unknown_product  # the input is kept for inspection and replay
    assert [inv["CustomerReference"] for inv in flow_env.kashflow_invoices()] == [good]

    # Once the product exists in the books, a replay of the failed record goes through and closes it.
    kashflow.create_product({"Code": "NOT-IN-BOOKS", "Name": "Now known", "Price": 20, "NominalCode": 4000})
    assert flow_env.run_one(unknown_product)["status"] == "invoiced"
    assert [f.source_id for f in flow_env.ledger.failed_records(flow="opportunity_to_invoice")] == [orphan]


def test_a_5xx_storm_exhausts_retries_into_a_failed_record_with_every_attempt(flow_env: FlowEnv) -> None:
    account = flow_env.make_account("Storm Ltd", "CUST-STORM")
    _product, entry = flow_env.make_product("SP-1", 10.0)
    opp = flow_env.make_opportunity(stage="Closed Won", account_id=account, lines=[(entry, 1, 10.0)])

    flow_env.set_faults("kashflow", paths=["/v2/invoices"], methods=["POST"], fail_next=100)
    outcome = flow_env.run_one(opp)
    assert outcome["status"] == "failed"
    assert "gave up after 6 attempts" in outcome["error"]
    (failed,) = flow_env.ledger.failed_records(flow="opportunity_to_invoice")
    assert failed.source_id == opp
    assert len(failed.errors) == 7  # six attempts, then the verdict
    assert all("POST invoices" in e["error"] for e in failed.errors[:6])
    assert flow_env.kashflow_invoices() == []  # nothing half-made

    flow_env.set_faults("kashflow", fail_next=0)
    assert flow_env.run_one(opp)["status"] == "invoiced"  # replay once the storm is over
    assert flow_env.ledger.failed_records(flow="opportunity_to_invoice") == []


def test_log_lines_from_a_run_carry_its_flow_run_and_record_ids(flow_env: FlowEnv) -> None:
    import io
    import json
    import logging

    from ledgerlink.logs import configure_json_logging

    stream = io.StringIO()
    handler = configure_json_logging(logging.WARNING, stream)
    try:
        account = flow_env.make_account("Logged Ltd", "CUST-LOG")
        _product, entry = flow_env.make_product("LG-1", 10.0)
        opp = flow_env.make_opportunity(stage="Closed Won", account_id=account, lines=[(entry, 1, 10.0)])
        # Five failures: more than the connector repeats in place (4), so the step itself retries, and logs it.
        flow_env.set_faults("kashflow", paths=["/v2/invoices"], methods=["POST"], fail_next=5)
        assert flow_env.run_one(opp)["status"] == "invoiced"
    finally:
        logging.getLogger().removeHandler(handler)
    retries = [json.loads(line) for line in stream.getvalue().splitlines() if "retrying in" in line]
    assert retries, stream.getvalue()
    assert retries[0]["flow"] == "opportunity_to_invoice"
    assert retries[0]["record_id"] == opp
    assert retries[0]["run_id"].startswith(f"opportunity_to_invoice:{opp}:")
