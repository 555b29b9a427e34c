"""order_to_invoice end to end: an activated Salesforce Order → one KashFlow invoice, over HTTP, through the steps
it shares with opportunity_to_invoice."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledgerlink.bootstrap import engine_settings, open_runtime
from ledgerlink.connections.build import build_crm
from ledgerlink.engine import runtime as engine
from ledgerlink.engine.flows import get_flow
from ledgerlink.flows import opportunity_to_invoice as o2i
from ledgerlink.flows import order_to_invoice as ord2i
from ledgerlink.sandbox.runner import SandboxSet, start_sandbox
from tests.flows.conftest import FlowEnv


def make_order(env: FlowEnv, account_id: str | None, lines: list[tuple[str, float, float]], *, activate: bool) -> str:
    """lines: (pricebook entry id, quantity, unit price). Items go in while Draft, as Salesforce requires."""
    standard = next(iter(env.user.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")))["Id"]
    fields: dict[str, Any] = {"EffectiveDate": "2026-03-02", "Status": "Draft", "Pricebook2Id": standard}
    if account_id:
        fields["AccountId"] = account_id
    order_id = env.user.create("Order", fields)
    for entry, quantity, price in lines:
        env.user.create(
            "OrderItem", {"OrderId": order_id, "PricebookEntryId": entry, "Quantity": quantity, "UnitPrice": price}
        )
    if activate:
        env.user.update("Order", order_id, {"Status": "Activated"})
    return order_id


def poll_orders(env: FlowEnv) -> list[ord2i.Outcome]:
    return [engine.wait_for(handle) for handle in ord2i.poll(lag_seconds=0)]


def run_order(env: FlowEnv, order_id: str) -> ord2i.Outcome:
    return engine.wait_for(ord2i.replay(order_id))


def test_an_activated_order_becomes_exactly_one_invoice_and_rerun_creates_nothing(flow_env: FlowEnv) -> None:
    flow_env.runtime.settings.flows.order_to_invoice = True
    account = flow_env.make_account("Order Ltd", "CUST-ORD")
    _widget, widget = flow_env.make_product("OW-1", 19.99)
    _gadget, gadget = flow_env.make_product("OG-1", 250.10)
    order = make_order(flow_env, account, [(widget, 3, 19.99), (gadget, 2, 250.10)], activate=True)
    draft = make_order(flow_env, account, [(widget, 1, 19.99)], activate=False)

    (outcome,) = poll_orders(flow_env)  # the Draft is not picked up
    assert outcome["order"] == order
    assert outcome["status"] == "invoiced"
    assert outcome["customer"] == "CUST-ORD"

    (invoice,) = flow_env.kashflow_invoices()
    assert invoice["CustomerReference"] == order
    number = str(invoice["Number"])
    assert number == outcome["invoice_number"]
    full = flow_env.runtime.books.client.get_invoice(number)  # type: ignore[attr-defined]
    assert full is not None
    lines = [(ln["ProductCode"], Decimal(ln["Quantity"]), Decimal(ln["Rate"])) for ln in full["LineItems"]]
    assert lines == [("OW-1", Decimal(3), Decimal("19.99")), ("OG-1", Decimal(2), Decimal("250.10"))]
    (written,) = flow_env.user.query(
        f"SELECT TotalAmount, Accounting_Invoice_Number__c, Invoice_Status__c FROM Order WHERE Id = '{order}'"
    )
    assert Decimal(str(full["NetAmount"])) == Decimal(str(written["TotalAmount"])) == Decimal("560.17")
    assert written["Accounting_Invoice_Number__c"] == number
    assert written["Invoice_Status__c"]

    # The ledger and the audit name this flow and the Order, not the Opportunity flow.
    books = flow_env.runtime.books
    assert flow_env.ledger.lookup("salesforce", "Order", order, books.name, books.invoice_object) == number
    trail = flow_env.ledger.audit_trail(source_id=order)
    assert {entry.flow for entry in trail} == {ord2i.FLOW}
    assert {(entry.object, entry.action) for entry in trail} >= {
        ("Customer", "created"),
        ("Invoice", "created"),
        ("Order", "updated"),
    }

    # A replay, as after a restart, finds its work done; the next poll has nothing new; nothing is duplicated.
    rerun = run_order(flow_env, order)
    assert rerun["status"] == "already_invoiced" and rerun["invoice_number"] == number
    assert poll_orders(flow_env) == []
    assert run_order(flow_env, draft) == {"order": draft, "status": "skipped"}
    assert len(flow_env.kashflow_invoices()) == 1
    assert o2i.poll_won(lag_seconds=0) == []  # the Opportunity flow sees none of it


def test_a_draft_order_makes_no_invoice(flow_env: FlowEnv) -> None:
    account = flow_env.make_account("Draft Ltd", "CUST-DRAFT")
    _product, entry = flow_env.make_product("DP-1", 10.0)
    draft = make_order(flow_env, account, [(entry, 2, 10.0)], activate=False)

    assert poll_orders(flow_env) == []
    assert run_order(flow_env, draft) == {"order": draft, "status": "skipped"}
    assert flow_env.kashflow_invoices() == []
    assert flow_env.ledger.failed_records(flow=ord2i.FLOW) == []


@pytest.fixture
def optional_account_env(tmp_path: Path) -> Iterator[FlowEnv]:
    """An org whose Order.AccountId may be empty (the standard schema requires it), to reach the flow's own check."""
    account_id = {
        "type": "reference",
        "length": 18,
        "reference_to": ["Account"],
        "relationship_name": "Account",
        "child_relationship": "Orders",
    }
    sandboxes = SandboxSet()
    sandboxes.sandboxes["salesforce"] = start_sandbox(
        "salesforce", tmp_path / "sandboxes", extra_fields={"Order": {"AccountId": account_id}}
    )
    sandboxes.sandboxes["kashflow"] = start_sandbox("kashflow", tmp_path / "sandboxes")
    sf_spec = sandboxes["salesforce"].describe()
    runtime = open_runtime(engine_settings(tmp_path), sf_spec, sandboxes["kashflow"].describe())
    user = build_crm(sf_spec, client_tag="test-user")
    try:
        yield FlowEnv(sandboxes=sandboxes, runtime=runtime, user=user)
    finally:
        user.close()
        engine.stop()
        sandboxes.stop()


def test_an_order_without_an_account_is_a_failed_record_naming_account_id(optional_account_env: FlowEnv) -> None:
    env = optional_account_env
    _product, entry = env.make_product("NA-1", 10.0)
    orphan = make_order(env, None, [(entry, 1, 10.0)], activate=True)
    gone_account = env.make_account("Gone Ltd")
    gone = make_order(env, gone_account, [(entry, 1, 10.0)], activate=True)
    env.user.delete("Account", gone_account)  # the Account is no longer there to make a customer from

    outcomes = {o["order"]: o for o in poll_orders(env)}
    assert {o["status"] for o in outcomes.values()} == {"failed"}
    assert set(outcomes) == {orphan, gone}
    failed = {f.source_id: f for f in env.ledger.failed_records(flow=ord2i.FLOW)}
    assert set(failed) == {orphan, gone}
    for order_id, record in failed.items():
        assert record.source_object == "Order"
        assert record.errors[-1]["field"] == "AccountId"
        assert f"Order {order_id}" in record.errors[-1]["error"]
    assert failed[orphan].input["Id"] == orphan  # kept for inspection and replay
    assert env.kashflow_invoices() == []

    # The console's retry goes through the registry: the same failure, once more, and still no invoice.
    retried = engine.wait_for(get_flow(ord2i.FLOW).replay(orphan))
    assert retried["status"] == "failed" and retried["field"] == "AccountId"
    assert env.ledger.failed_records(flow=o2i.FLOW) == []
