"""Published definitions run in the engine against the sandboxes: the seed's three custom-logic examples, and a
rolled-back version taking effect without a restart."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from ledgerlink.flows.defined.store import Definitions
from ledgerlink.flows.defined.templates_catalogue import template_text
from tests.nocode.world import World, running_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with running_world(tmp_path) as w:
        yield w


def _publish(world: World, *names: str) -> None:
    store = Definitions(world.ledger)
    for name in names:
        saved = store.save(template_text(name))
        store.publish(saved.name, saved.version)


def test_the_three_custom_logic_examples(world: World) -> None:
    _publish(world, "approved_orders_invoice")
    home = world.account("Harbourview Trading", "United Kingdom")
    abroad = world.account("Fjord Shipping", "Norway")
    entry = world.product("CONS-DAY", 500.0)
    approved = world.order(home, [(entry, 2, 500.0, None)], approved=True)
    unapproved = world.order(home, [(entry, 1, 500.0, None)], approved=False)
    outcomes = {o["record"]: o for o in world.poll()}
    assert outcomes[approved]["status"] == "done", outcomes[approved]
    assert outcomes[unapproved]["status"] == "skipped"
    invoice = world.invoice("Order", approved)
    assert invoice is not None and invoice["net"] == Decimal("1000")
    assert world.invoice("Order", unapproved) is None
    written = next(iter(world.user.query(f"SELECT Accounting_Invoice_Number__c FROM Order WHERE Id = '{approved}'")))
    assert written["Accounting_Invoice_Number__c"] == invoice["number"]
    assert world.poll() == []  # the write-back is not a change the flow reacts to: no loop, nothing twice

    Definitions(world.ledger).unpublish("approved_orders_invoice")
    _publish(world, "international_handling_fee")
    fee_order = world.order(abroad, [(entry, 2, 500.0, None)], approved=False)
    home_order = world.order(home, [(entry, 1, 500.0, None)], approved=False)
    world.poll()
    fee = world.invoice("Order", fee_order)
    assert fee is not None and fee["lines"][-1] == ("International handling fee (5%)", Decimal("50.00"))
    assert world.invoice("Order", home_order)["lines"] == [("Product CONS-DAY", Decimal("500"))]  # type: ignore[index]

    Definitions(world.ledger).unpublish("international_handling_fee")
    _publish(world, "split_by_project")
    split = world.order(
        home, [(entry, 1, 500.0, "Apollo"), (entry, 2, 500.0, "Gemini"), (entry, 1, 500.0, "Apollo")], approved=False
    )
    world.poll()
    apollo, gemini = world.invoice("Order", f"{split}-Apollo"), world.invoice("Order", f"{split}-Gemini")
    assert apollo is not None and apollo["net"] == Decimal("1000")
    assert gemini is not None and gemini["net"] == Decimal("1000")
    assert apollo["number"] != gemini["number"]


def _opportunity(world: World, account: str) -> str:
    return str(
        world.user.create(
            "Opportunity",
            {"Name": "Fjord renewal", "AccountId": account, "StageName": "Prospecting", "CloseDate": "2026-11-30"},
        )
    )


def test_a_case_opens_when_overdue_and_closes_when_paid(world: World) -> None:
    _publish(world, "payment_resolves_case")
    deal = _opportunity(world, world.account("Fjord Shipping", "Norway"))
    world.user.update("Opportunity", deal, {"Invoice_Status__c": "Overdue"})
    (outcome,) = world.poll()
    assert outcome["status"] == "done", outcome
    case_id = outcome["results"]["case_id"]
    case = world.user.get("Case", case_id)
    assert (case["Status"], case["Subject"]) == ("New", "Invoice overdue: Fjord renewal")
    world.user.update("Opportunity", deal, {"Description": "chased"})  # a change to another field: no run
    assert world.poll() == []
    world.user.update("Opportunity", deal, {"Invoice_Status__c": "Paid"})
    (outcome,) = world.poll()
    assert outcome["status"] == "done", outcome
    assert world.user.get("Case", case_id)["Status"] == "Closed"
    assert len(list(world.user.query("SELECT Id FROM Case"))) == 1


def test_wait_then_call_a_webhook_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.nocode.receivers import webhook_receiver

    monkeypatch.setenv("LEDGERLINK_OUTBOUND_ALLOW", "127.0.0.0/8")
    with webhook_receiver() as receiver:
        store = Definitions(world.ledger)
        saved = store.save(
            "name: won_webhook\n"
            "trigger: {object: Opportunity, event: field_changed, field: StageName}\n"
            "when: {field: StageName, value: Closed Won}\n"
            "steps:\n"
            "  - {action: wait, seconds: 1}\n"
            f"  - action: webhook\n    url: '{receiver.url}'\n"
            "    body: {deal: '{{ Name }}', stage: '{{ StageName }}'}\n"
        )
        store.publish(saved.name, saved.version)
        deal = _opportunity(world, world.account("Harbourview Trading", "United Kingdom"))
        world.user.update("Opportunity", deal, {"StageName": "Closed Won"})
        (outcome,) = world.poll()
        assert outcome["status"] == "done", outcome
        assert world.poll() == []
    (got,) = receiver.received
    assert got["json"] == {"deal": "Fjord renewal", "stage": "Closed Won", "flow": "won_webhook", "record": deal}


def test_a_created_trigger_ignores_records_made_before_publication(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledgerlink.engine.flows import registered_flows
    from tests.nocode.receivers import webhook_receiver

    monkeypatch.setenv("LEDGERLINK_OUTBOUND_ALLOW", "127.0.0.0/8")
    older = world.account("Older Customer", "United Kingdom")
    with webhook_receiver() as receiver:
        store = Definitions(world.ledger)
        saved = store.save(
            "name: new_accounts\n"
            "trigger: {object: Account, event: created}\n"
            f"steps:\n  - action: webhook\n    url: '{receiver.url}'\n    body: {{name: '{{{{ Name }}}}'}}\n"
        )
        store.publish(saved.name, saved.version)
        world.user.update("Account", older, {"Phone": "0113 496 0000"})  # changed after publication, made before
        newer = world.account("Newer Customer", "Norway")
        outcomes = world.poll()
        assert [o["record"] for o in outcomes] == [newer]
        world.user.update("Account", newer, {"Phone": "0113 496 0001"})
        assert world.poll() == []
    assert [r["json"]["name"] for r in receiver.received] == ["Newer Customer"]
    assert "defined.new_accounts" in registered_flows()


def test_a_schedule_trigger_runs_at_most_every_period(world: World) -> None:
    store = Definitions(world.ledger)
    saved = store.save(
        "name: hourly_orders\n"
        "trigger: {object: Order, event: schedule, every_minutes: 60}\n"
        "when: {field: Status, value: Activated}\n"
        "steps:\n  - {action: map_invoice, mapping: order_to_canonical}\n  - {action: create_invoice}\n"
    )
    store.publish(saved.name, saved.version)
    account = world.account("Harbourview Trading", "United Kingdom")
    entry = world.product("CONS-DAY", 500.0)
    first = world.order(account, [(entry, 1, 500.0, None)], approved=False)
    assert [o["record"] for o in world.poll()] == [first]
    second = world.order(account, [(entry, 1, 500.0, None)], approved=False)
    assert world.poll() == []  # within the hour: the change waits for the next period
    assert world.invoice("Order", first) is not None and world.invoice("Order", second) is None


def test_each_published_definitions_trigger_records_its_checks_for_the_stalled_alerts(world: World) -> None:
    """A user-defined flow is watched by its own watermark: a poll that finds nothing new still counts as a check
    (its watermark may never have moved), and one that stops checking reads as stalled."""
    import datetime as dt

    from sqlalchemy import update

    from ledgerlink.alerts import check_and_send
    from ledgerlink.engine.flows import watched_triggers
    from ledgerlink.flows.defined_flows import watermark
    from ledgerlink.store.console_tables import AlertRule
    from ledgerlink.store.tables import TriggerCheck, utcnow

    store = Definitions(world.ledger)
    saved = store.save(
        "name: quiet_orders\n"
        "trigger: {object: Order, event: created}\n"
        "steps:\n  - {action: map_invoice, mapping: order_to_canonical}\n  - {action: create_invoice}\n"
    )
    store.publish(saved.name, saved.version)
    assert world.poll() == []  # nothing new: the watermark has no row, but the trigger checked
    mark = watermark("quiet_orders")
    triggers = watched_triggers(world.runtime.settings.flows)
    assert triggers["defined.quiet_orders"].marks == (mark,) and world.ledger.get_watermark(mark) is None
    with world.ledger.session() as s:
        s.add(
            AlertRule(
                name="stalled", kind="stalled_trigger", threshold=0, window_minutes=60, cooldown_minutes=0, enabled=1
            )
        )
    assert check_and_send(world.ledger, triggers=triggers) == []
    with world.ledger.session() as s:  # then its polls stop succeeding for two hours
        s.execute(update(TriggerCheck).values(checked_at=utcnow() - dt.timedelta(hours=2)))
    [fired] = check_and_send(world.ledger, triggers=triggers)
    assert f"defined.quiet_orders ({mark}) has not checked successfully for 120 min" in fired.message


def test_create_record_with_a_key_field_is_an_upsert(world: World) -> None:
    from ledgerlink.engine import runtime as engine
    from ledgerlink.flows import defined_flows
    from ledgerlink.store.tables import CrossReference

    store = Definitions(world.ledger)
    saved = store.save(
        "name: billing_accounts\n"
        "trigger: {object: Opportunity, event: field_changed, field: StageName}\n"
        "when: {field: StageName, value: Closed Won}\n"
        "steps:\n"
        "  - action: create_record\n    object: Account\n    key_field: ExternalID__c\n"
        "    set: {Name: '{{ Name }} (billing)'}\n"
    )
    store.publish(saved.name, saved.version)
    deal = _opportunity(world, world.account("Harbourview Trading", "United Kingdom"))
    world.user.update("Opportunity", deal, {"StageName": "Closed Won"})
    (outcome,) = world.poll()
    assert outcome["status"] == "done", outcome
    with world.ledger.session() as s:  # as if a crash had come between the create and its link
        links = s.query(CrossReference).filter(
            (CrossReference.object_a == "flow_key") | (CrossReference.object_b == "flow_key")
        )
        assert links.delete() == 1
    again = engine.wait_for(defined_flows.replay("billing_accounts", deal))
    assert again["status"] == "done", again
    made = list(world.user.query("SELECT Id FROM Account WHERE Name = 'Fjord renewal (billing)'"))
    assert len(made) == 1


def test_the_definitions_probe_wakes_only_with_a_published_definition(world: World) -> None:
    """No published definition: the trigger has nothing to read, and its probe says so; published, it runs; taken
    back, the engine's registry drops the flow at the probe's next look."""
    from ledgerlink.engine.flows import registered_flows
    from ledgerlink.flows.defined_flows import TRIGGER, any_published, flow_name

    assert registered_flows()[TRIGGER].probe is any_published
    assert not any_published(0.0)
    _publish(world, "approved_orders_invoice")
    assert any_published(0.0) and flow_name("approved_orders_invoice") in registered_flows()
    Definitions(world.ledger).unpublish("approved_orders_invoice")
    assert not any_published(0.0) and flow_name("approved_orders_invoice") not in registered_flows()
