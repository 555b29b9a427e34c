"""The Salesforce sandbox takes its custom objects and fields from LedgerLink's metadata, over real HTTP."""

from __future__ import annotations

import importlib
import pkgutil
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import ledgerlink.flows as flows
from ledgerlink.sandbox.runner import Sandbox, start_sandboxes
from ledgerlink.sandbox.salesforce import metadata
from ledgerlink.sandbox.salesforce.schema import OBJECTS
from ledgerlink.systems.errors import PermanentError
from ledgerlink.systems.salesforce import SalesforceClient
from ledgerlink.systems.salesforce.org_check import DESCRIBE_TYPES, load_requirements

from .conftest import describe

StartOrg = Callable[..., Sandbox]


def test_describe_serves_every_field_and_object_of_the_metadata(start_org: StartOrg, metadata_root: Path) -> None:
    box = start_org()
    components = load_requirements(metadata_root).components
    described: dict[str, dict[str, dict[str, object]]] = {}
    for obj in {c.object for c in components}:
        described[obj] = {str(f["name"]): f for f in describe(box, obj)["fields"]}
    for c in components:
        if c.field is None:
            continue
        fdef = described[c.object][c.field]
        assert fdef["type"] in DESCRIBE_TYPES[c.kind], c.name
        assert fdef["custom"] is True and fdef["externalId"] is c.external_id, c.name
        if c.reference_to:
            assert fdef["referenceTo"] == [c.reference_to] and fdef["relationshipName"] == c.field[:-1] + "r"


def test_details_come_from_the_xml(start_org: StartOrg) -> None:
    box = start_org()
    opportunity = describe(box, "Opportunity")
    paid = next(f for f in opportunity["fields"] if f["name"] == "Amount_Paid__c")
    assert (paid["label"], paid["type"], paid["precision"], paid["scale"]) == ("Amount Paid", "currency", 18, 2)
    children = {r["relationshipName"]: r["childSObject"] for r in opportunity["childRelationships"]}
    assert children["Payments__r"] == "Payment__c" and children["Invoices__r"] == "Invoice__c"
    payment = describe(box, "Payment__c")
    assert (payment["label"], payment["keyPrefix"], payment["custom"]) == ("Payment", "a0P", True)
    name = next(f for f in payment["fields"] if f["name"] == "Name")
    assert name["autoNumber"] is True and name["label"] == "Payment Number" and not name["createable"]
    line = describe(box, "Invoice_Line__c")
    master = next(f for f in line["fields"] if f["name"] == "Invoice__c")
    assert master["nillable"] is False and master["updateable"] is False  # master-detail, not reparentable
    invoice = describe(box, "Invoice__c")
    assert {r["relationshipName"]: r["cascadeDelete"] for r in invoice["childRelationships"]}["Lines__r"] is True


def test_records_follow_the_metadata(start_org: StartOrg) -> None:
    """The auto-number format, the unique external id and the master-detail cascade, as a deployed org has them."""
    box = start_org()
    client = SalesforceClient.from_spec(box.describe())
    try:
        payment_id, created = client.upsert("Payment__c", "External_Id__c", "PAY-EXT-1", {"Amount__c": 12.5})
        assert created
        assert next(client.query(f"SELECT Name FROM Payment__c WHERE Id = '{payment_id}'"))["Name"] == "PAY-000001"
        invoice = client.create("Invoice__c", {"Name": "INV-1", "External_Id__c": "kashflow:1", "Total__c": 120})
        client.create("Invoice_Line__c", {"Invoice__c": invoice, "Quantity__c": 2, "Unit_Price__c": 50})
        lines = next(
            client.query(f"SELECT (SELECT Name, Quantity__c FROM Lines__r) FROM Invoice__c WHERE Id = '{invoice}'")
        )
        assert lines["Lines__r"]["records"][0]["Name"] == "LINE-000001"
        with pytest.raises(PermanentError) as err:
            client.create("Invoice_Line__c", {"Quantity__c": 1})
        assert err.value.code == "REQUIRED_FIELD_MISSING"
        client.delete("Invoice__c", invoice)
        assert list(client.query("SELECT Id FROM Invoice_Line__c")) == []
    finally:
        client.close()


def test_not_deployed_leaves_a_field_or_an_object_out(start_org: StartOrg) -> None:
    box = start_org(not_deployed=("Opportunity.Paid_Date__c", "Invoice_Line__c"))
    names = {f["name"] for f in describe(box, "Opportunity")["fields"]}
    assert "Paid_Date__c" not in names and "Amount_Paid__c" in names
    client = SalesforceClient.from_spec(box.describe())
    try:
        with pytest.raises(PermanentError) as err:
            list(client.query("SELECT Paid_Date__c FROM Opportunity"))
        assert err.value.code == "INVALID_FIELD"
        sobjects = {o["name"] for o in client.request("GET", "sobjects/").json()["sobjects"]}
        assert "Invoice_Line__c" not in sobjects and "Invoice__c" in sobjects
    finally:
        client.close()


def test_not_deployed_refuses_a_name_the_metadata_does_not_have(start_org: StartOrg) -> None:
    with pytest.raises(ValueError, match=r"Opportunity\.Nope__c"):
        start_org(not_deployed=("Opportunity.Nope__c",))
    with pytest.raises(ValueError, match="Account"):
        start_org(not_deployed=("Account",))  # a standard object is not the metadata's to leave out
    with pytest.raises(ValueError, match=r"Invoice_Line__c\.Invoice__c refers to Invoice__c"):
        start_org(not_deployed=("Invoice__c",))  # no org has details without their master


def test_a_metadata_dir_of_ones_own_is_what_the_sandbox_serves(
    start_org: StartOrg, metadata_root: Path, tmp_path: Path
) -> None:
    """No hard-coded copy: a field added to (or removed from) the XML is what describe shows."""
    copy = tmp_path / "salesforce"
    shutil.copytree(metadata_root, copy)
    fields = copy / "force-app/main/default/objects/Opportunity/fields"
    region = (copy / "force-app/main/default/objects/Account/fields/Region__c.field-meta.xml").read_text()
    (fields / "Sales_Region__c.field-meta.xml").write_text(
        region.replace("Region__c", "Sales_Region__c").replace("<length>255</length>", "<length>30</length>")
    )
    (fields / "Paid_Date__c.field-meta.xml").unlink()
    box = start_org(metadata_dir=copy)
    opportunity = {f["name"]: f for f in describe(box, "Opportunity")["fields"]}
    assert opportunity["Sales_Region__c"]["length"] == 30 and "Paid_Date__c" not in opportunity


def test_the_sandbox_keeps_no_custom_field_of_its_own() -> None:
    """Standard objects only: every custom field comes from the metadata."""
    for name, spec in OBJECTS.items():
        assert not name.endswith("__c")
        assert not [f.name for f in spec["fields"] if f.name.endswith("__c")], name


def test_metadata_is_found_in_the_package_first_then_the_checkout(
    metadata_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wheel carries the folder inside the package (setup.py copies it there); a checkout has it at the top."""
    assert metadata.locate() == metadata.REPOSITORY_DIR == metadata_root
    packaged = tmp_path / "salesforce_metadata"
    shutil.copytree(metadata_root, packaged)
    monkeypatch.setattr(metadata, "PACKAGED_DIR", packaged)
    assert metadata.locate() == packaged
    monkeypatch.setattr(metadata, "REPOSITORY_DIR", tmp_path / "nowhere")
    monkeypatch.setattr(metadata, "PACKAGED_DIR", tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match=r"sfdx-project\.json"):
        metadata.locate()


def test_a_broken_file_is_named(metadata_root: Path, tmp_path: Path) -> None:
    copy = tmp_path / "salesforce"
    shutil.copytree(metadata_root, copy)
    broken = copy / "force-app/main/default/objects/Opportunity/fields/Paid_Date__c.field-meta.xml"
    broken.write_text(broken.read_text().replace("<type>Date</type>", "<type>Geolocation</type>"))
    with pytest.raises(metadata.MetadataError, match=re.escape(str(broken))):
        metadata.load(copy)


def _flow_queries() -> dict[str, str]:
    """Every SOQL constant in the flows that names a custom field, plus the sync flows' field lists."""
    from ledgerlink.flows import customer_sync, product_sync

    queries: dict[str, str] = {}
    for info in pkgutil.walk_packages(flows.__path__, "ledgerlink.flows."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, str) and re.match(r"\s*SELECT\b", value) and "__c" in value:
                queries[f"{info.name}.{name}"] = value.replace("{id}", "006000000000000AAA")
    account = [f for f in customer_sync.ACCOUNT_FIELDS if not f.startswith("(")]
    queries["customer_sync.ACCOUNT_FIELDS"] = f"SELECT {', '.join(account)} FROM {customer_sync.ACCOUNT}"
    product = [f for f in product_sync.PRODUCT_FIELDS if not f.startswith("(")]
    queries["product_sync.PRODUCT_FIELDS"] = f"SELECT {', '.join(product)} FROM {product_sync.PRODUCT2}"
    return queries


def test_the_flows_queries_run_on_an_org_with_the_metadata_and_fail_without_it(start_org: StartOrg) -> None:
    queries = _flow_queries()
    assert {"ledgerlink.flows.order_to_invoice.ORDER_SELECT", "ledgerlink.flows.invoicing.ACCOUNT_SOQL"} <= set(queries)
    full = SalesforceClient.from_spec(start_org().describe())
    lacking = SalesforceClient.from_spec(start_org(not_deployed=("Account.ExternalID__c",)).describe())
    try:
        for name, soql in queries.items():
            assert isinstance(list(full.query(soql)), list), name
        with pytest.raises(PermanentError) as err:
            list(lacking.query(queries["ledgerlink.flows.order_to_invoice.ORDER_SELECT"]))
        assert err.value.code == "INVALID_FIELD" and "ExternalID__c" in str(err.value)
    finally:
        full.close()
        lacking.close()


def test_sandbox_sets_pass_not_deployed_to_salesforce_only(tmp_path: Path) -> None:
    """What `ledgerlink sandbox run --not-deployed` uses."""
    running = start_sandboxes(
        ["salesforce", "kashflow"], tmp_path, overrides={"salesforce": {"not_deployed": ("Order.Invoice_Status__c",)}}
    )
    try:
        names = {f["name"] for f in describe(running["salesforce"], "Order")["fields"]}
        assert "Invoice_Status__c" not in names and "Accounting_Invoice_Number__c" in names
    finally:
        running.stop()
