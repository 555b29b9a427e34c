"""A definition whose action would trigger itself is refused at publish, with the cycle named."""

from __future__ import annotations

from ledgerlink.flows.defined.cycles import cycle_message, find_cycle
from ledgerlink.flows.defined.model import from_data


def _definition(name: str, trigger: dict, steps: list) -> object:
    return from_data({"name": name, "trigger": trigger, "steps": steps})


def test_an_update_of_its_own_trigger_object_is_a_cycle() -> None:
    loop = _definition(
        "stamp_orders",
        {"object": "Order", "event": "updated"},
        [{"action": "update_record", "set": {"Description": "seen"}}],
    )
    cycle = find_cycle(loop, [])  # type: ignore[arg-type]
    assert cycle == ["stamp_orders", "stamp_orders"]
    message = cycle_message(loop, cycle)  # type: ignore[arg-type]
    assert "steps[0]" in message and "Order updated" in message and "stamp_orders → stamp_orders" in message


def test_a_field_trigger_is_safe_from_writes_to_other_fields() -> None:
    safe = _definition(
        "number_back",
        {"object": "Order", "event": "field_changed", "field": "Approved__c"},
        [{"action": "update_record", "set": {"Accounting_Invoice_Number__c": "x"}}],
    )
    assert find_cycle(safe, []) is None  # type: ignore[arg-type]
    unsafe = _definition(
        "flip",
        {"object": "Order", "event": "field_changed", "field": "Approved__c"},
        [
            {
                "if": {"field": "Status", "value": "Draft"},
                "then": [{"action": "update_record", "set": {"approved__c": "false"}}],
            }
        ],
    )
    assert find_cycle(unsafe, []) == ["flip", "flip"]  # type: ignore[arg-type]


def test_a_cycle_through_another_published_definition_is_named() -> None:
    cases = _definition(
        "case_on_won",
        {"object": "Opportunity", "event": "field_changed", "field": "StageName"},
        [{"action": "open_case", "subject": "won"}],
    )
    back = _definition(
        "won_on_case",
        {"object": "Case", "event": "created"},
        [
            {
                "action": "update_record",
                "object": "Opportunity",
                "record": "Opportunity__c",
                "set": {"StageName": "Closed Won"},
            }
        ],
    )
    assert find_cycle(cases, [back]) == ["case_on_won", "won_on_case", "case_on_won"]  # type: ignore[arg-type, list-item]
    assert find_cycle(cases, []) is None  # type: ignore[arg-type]
