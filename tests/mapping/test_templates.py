"""Every shipped template loads, compiles and passes the schema check; the standard flows produce valid entities."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from ledgerlink.mapping import list_mappings, load_mapping
from ledgerlink.model import Customer, Invoice

TEMPLATES = [info.name for info in list_mappings() if info.origin == "template"]


def test_templates_are_found() -> None:
    assert "salesforce/opportunity_to_canonical" in TEMPLATES
    assert "salesforce/account_to_canonical" in TEMPLATES
    assert "kashflow/invoice_from_canonical" in TEMPLATES
    assert "kashflow/customer_from_canonical" in TEMPLATES


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_loads_clean(name: str) -> None:
    mapping = load_mapping(name)
    assert mapping.rules
    system, _, rest = name.partition("/")
    assert system in (mapping.source.system, mapping.target.system)
    assert rest.endswith(mapping.direction) or mapping.direction == "direct"


def test_opportunity_to_invoice(opportunity: dict[str, Any]) -> None:
    mapping = load_mapping("salesforce/opportunity_to_canonical")
    assert mapping.matches(opportunity)
    assert mapping.filter_kind == "compiled"
    result = mapping.apply(opportunity)
    invoice = Invoice.model_validate(result.values)
    assert invoice.customer_code == "ACME01"
    assert invoice.reference == opportunity["Id"]
    assert str(invoice.issue_date) == "2024-03-01"
    assert str(invoice.due_date) == "2024-03-31"
    assert [line.description for line in invoice.lines] == ["Annual licence", "Support"]
    assert invoice.lines[0].tax_rate == Decimal("20")
    assert invoice.lines_net == Decimal("1250.50")
    assert result.provenance["customer_code"].startswith("from [Account.ExternalID__c, AccountId]")
    assert "lines[].quantity" in result.provenance


def test_opportunity_filter(opportunity: dict[str, Any]) -> None:
    mapping = load_mapping("salesforce/opportunity_to_canonical")
    assert not mapping.matches({**opportunity, "StageName": "Prospecting"})
    assert not mapping.matches({**opportunity, "Amount": 0})
    assert not mapping.matches({**opportunity, "Amount": None})


def test_customer_code_falls_back_to_account_id(opportunity: dict[str, Any]) -> None:
    opportunity["Account"]["ExternalID__c"] = "  "
    values = load_mapping("salesforce/opportunity_to_canonical").apply(opportunity).values
    assert values["customer_code"] == opportunity["AccountId"]


def test_account_to_customer(account: dict[str, Any]) -> None:
    customer = Customer.model_validate(load_mapping("salesforce/account_to_canonical").apply(account).values)
    assert customer.code == "ACME01"
    assert customer.billing_address is not None
    assert customer.billing_address.lines == ["Unit 4", "12 High Street"]
    assert customer.billing_address.country == "GB"
    assert customer.shipping_address is None
    assert customer.contacts[0].last_name == "Lovelace"
    assert customer.modified_at is not None and customer.modified_at.tzinfo is not None


def test_customer_code_falls_back_to_id(account: dict[str, Any]) -> None:
    account["ExternalID__c"] = None
    assert load_mapping("salesforce/account_to_canonical").apply(account).values["code"] == account["Id"]


def test_invoice_to_kashflow(opportunity: dict[str, Any]) -> None:
    invoice = Invoice.model_validate(load_mapping("salesforce/opportunity_to_canonical").apply(opportunity).values)
    for dumped in (invoice.model_dump(), invoice.model_dump(mode="json")):
        payload = load_mapping("kashflow/invoice_from_canonical").apply(dumped).values
        assert payload["CustomerCode"] == "ACME01"
        assert payload["IssuedDate"] == "2024-03-01 00:00:00"
        assert payload["DueDate"] == "2024-03-31 00:00:00"
        assert payload["CustomerReference"] == opportunity["Id"]
        first = payload["LineItems"][0]
        assert first["NominalCode"] == 4000
        assert first["VATLevel"] == 20
        assert first["Rate"] == 500.25
        json.dumps(payload)  # the connector posts it as is
        assert first["ProductCode"] == "LIC-1"


def test_customer_to_kashflow(account: dict[str, Any]) -> None:
    customer = Customer.model_validate(load_mapping("salesforce/account_to_canonical").apply(account).values)
    payload = load_mapping("kashflow/customer_from_canonical").apply(customer.model_dump()).values
    assert payload["Code"] == "ACME01"
    assert payload["Email"] == "ada@acme.example"  # from the first contact
    assert payload["Addresses"] == [
        {
            "Line1": "Unit 4",
            "Line2": "12 High Street",
            "Line3": "London",
            "PostCode": "SW1A 1AA",
            "CountryCode": "GB",
            "CountryName": "United Kingdom",
        }
    ]
    # KashFlow's documented casing (docs/vendors/kashflow.md): Firstname, not FirstName.
    assert payload["Contacts"] == [{"Firstname": "Ada", "LastName": "Lovelace", "Email": "ada@acme.example"}]
    assert "DeliveryAddresses" not in payload
