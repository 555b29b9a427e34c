"""Reads follow the mappings in use: what a mapping reads (``mapping.reads``), and the SOQL built from it against
an org's describe (``systems.salesforce.reads``), over HTTP against the Salesforce sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledgerlink.flows import opportunity_to_invoice as o2i
from ledgerlink.mapping import load_mapping
from ledgerlink.mapping.loader import load_mapping_text
from ledgerlink.mapping.reads import expression_names, mapping_reads
from ledgerlink.sandbox.runner import Sandbox, start_sandbox
from ledgerlink.systems.registry import load_systems
from ledgerlink.systems.salesforce import SalesforceClient
from ledgerlink.systems.salesforce.reads import needs, select_soql

load_systems()


def test_the_opportunity_template_reads_country_family_and_currency() -> None:
    reads = mapping_reads(load_mapping("salesforce/opportunity_to_canonical"))
    assert {"Account.BillingCountry", "CurrencyIsoCode", "CloseDate", "StageName", "Amount"} <= reads.fields
    lines = reads.children["OpportunityLineItems"]
    assert {"Product2.Family", "Product2.ProductCode", "Quantity", "UnitPrice"} <= lines.fields
    assert "Account.BillingCountry" not in lines.fields  # $root.… reads from the record, not the line


def test_expressions_and_filters_contribute_their_field_names() -> None:
    mapping = load_mapping_text(
        """
source: {system: salesforce, object: Opportunity}
target: {system: canonical, object: Invoice}
direction: to_canonical
filter: "StageName = 'Closed Won' and Amount > 0"
fields:
  reference: {expr: "$uppercase(Name) & '-' & Account.Name", required: true}
"""
    )
    reads = mapping_reads(mapping)
    assert {"StageName", "Amount", "Name", "Account.Name"} <= reads.fields
    assert "Closed" not in reads.fields and "uppercase" not in reads.fields
    assert expression_names("'and' in Tags") == ["Tags"]


@pytest.fixture
def org(tmp_path: Path) -> Iterator[tuple[Sandbox, SalesforceClient]]:
    box = start_sandbox("salesforce", tmp_path / "org", multi_currency=False)
    client = SalesforceClient.from_spec(box.describe())
    try:
        yield box, client
    finally:
        client.close()
        box.stop()


def test_soql_keeps_what_the_org_has_and_always_what_the_flow_needs(org: tuple[Sandbox, SalesforceClient]) -> None:
    _box, client = org
    reads = mapping_reads(load_mapping("salesforce/opportunity_to_canonical"))
    soql = select_soql(
        client,
        "Opportunity",
        reads,
        needs("Id", "AccountId", o2i.INVOICE_NUMBER_FIELD, OpportunityLineItems=("Product2Id",)),
    )
    assert "Account.BillingCountry" in soql and "Product2.Family" in soql and o2i.INVOICE_NUMBER_FIELD in soql
    assert "CurrencyIsoCode" not in soql  # a single-currency org has no such field: left out, not an error
    assert "(SELECT " in soql and "FROM OpportunityLineItems)" in soql
    assert list(client.query(soql + " LIMIT 1")) == []  # the org accepts it


def test_a_multi_currency_org_reads_currency_iso_code(tmp_path: Path) -> None:
    box = start_sandbox("salesforce", tmp_path / "mc", multi_currency=True)
    client = SalesforceClient.from_spec(box.describe())
    try:
        soql = select_soql(client, "Opportunity", mapping_reads(load_mapping("salesforce/opportunity_to_canonical")))
        assert "CurrencyIsoCode" in soql
        assert list(client.query(soql + " LIMIT 1")) == []
    finally:
        client.close()
        box.stop()
