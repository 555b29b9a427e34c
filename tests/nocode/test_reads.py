"""What a definition reads of its trigger record: the invoice source's own query plus the fields it names."""

from __future__ import annotations

from ledgerlink.flows.defined.model import from_data
from ledgerlink.flows.defined.reads import query_for, referenced_fields
from ledgerlink.flows.defined.templates_catalogue import template


def test_an_invoice_source_query_gains_the_named_fields_once() -> None:
    soql = query_for(template("split_by_project"))
    assert soql.startswith("SELECT Id, OrderNumber")  # Status is read already: not added twice
    assert soql.count(" Status,") == 1 and "Product2.Family, Project__c FROM OrderItems)" in soql
    soql = query_for(template("approved_orders_invoice"))
    assert soql.startswith("SELECT Approved__c, Id, OrderNumber") and soql.endswith("FROM Order")


def test_another_object_reads_only_what_is_named() -> None:
    definition = from_data(
        {
            "name": "t1",
            "trigger": {"object": "Account", "event": "updated"},
            "when": {"any": [{"field": "Region__c", "value": "EU"}, {"field": "Owner.Email", "op": "not_empty"}]},
            "steps": [
                {"action": "notify", "channel": "email", "to": "a@b.c", "message": "{{ Name }} {{ invoice_number }}"}
            ],
        }
    )
    assert referenced_fields(definition) == ({"Region__c", "Owner.Email", "Name"}, set())
    assert query_for(definition) == "SELECT Id, Name, Owner.Email, Region__c, SystemModstamp FROM Account"
