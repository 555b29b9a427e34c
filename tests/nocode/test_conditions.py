"""Conditions on any field (custom and related ones too), AND and OR, and message templates."""

from __future__ import annotations

from ledgerlink.flows.defined.conditions import describe, get_path, holds, render
from ledgerlink.flows.defined.model import from_data

RECORD = {
    "Id": "801000000000001AAA",
    "Approved__c": True,
    "TotalAmount": 1250.0,
    "Status": "Activated",
    "Account": {"Name": "Fjord AS", "BillingCountry": "Norway"},
    "Region__c": None,
}


def _when(cond: dict) -> object:
    return from_data(
        {
            "name": "t1",
            "trigger": {"object": "Order", "event": "updated"},
            "when": cond,
            "steps": [{"action": "create_invoice"}],
        }
    ).when


def test_and_or_and_custom_fields() -> None:
    approved_and_big = _when(
        {"all": [{"field": "Approved__c", "value": True}, {"field": "TotalAmount", "op": "gt", "value": 1000}]}
    )
    assert holds(approved_and_big, RECORD)  # type: ignore[arg-type]
    assert not holds(approved_and_big, {**RECORD, "TotalAmount": 999})  # type: ignore[arg-type]
    either = _when(
        {
            "any": [
                {"field": "Account.BillingCountry", "op": "in", "value": ["Norway", "Sweden"]},
                {"field": "Region__c", "op": "eq", "value": "EU"},
            ]
        }
    )
    assert holds(either, RECORD)  # type: ignore[arg-type]
    assert not holds(either, {**RECORD, "Account": {"BillingCountry": "United Kingdom"}})  # type: ignore[arg-type]
    assert describe(either) == "Account.BillingCountry in ['Norway', 'Sweden'] OR Region__c = 'EU'"  # type: ignore[arg-type]


def test_values_compare_as_people_mean_them() -> None:
    assert holds(_when({"field": "Approved__c", "value": "true"}), {"Approved__c": True})  # type: ignore[arg-type]
    assert holds(_when({"field": "status", "value": "activated"}), RECORD)  # type: ignore[arg-type]
    assert holds(_when({"field": "Region__c", "op": "is_empty"}), RECORD)  # type: ignore[arg-type]
    assert not holds(_when({"field": "TotalAmount", "op": "lt", "value": "abc"}), RECORD)  # type: ignore[arg-type]
    assert get_path(RECORD, "account.billingcountry") == "Norway"


def test_templates_insert_fields_only() -> None:
    text = render(
        "{{ Account.Name }} owes {{TotalAmount}} ({{ invoice_number }}) {{ __import__ }}",
        RECORD,
        {"invoice_number": "INV-7"},
    )
    assert text == "Fjord AS owes 1250.0 (INV-7) {{ __import__ }}"
    assert len(render("{{ Account.Name }}" * 5000, RECORD)) == 4000
