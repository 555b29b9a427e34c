"""sObject REST conformance, driven by simple-salesforce 1.12 over TLS."""

from __future__ import annotations

import re
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from ledgerlink.sandbox.salesforce import ids, rest_api

from .conftest import Sandbox

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")


def unique(prefix: str = "X") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_create_read_update_delete(sf: Salesforce) -> None:
    created = sf.Account.create({"Name": "Acme Ltd", "BillingCity": "Leeds", "Region__c": "North"})
    assert created["success"] is True and created["errors"] == []
    account_id = created["id"]
    assert len(account_id) == 18 and account_id.startswith("001")

    record = sf.Account.get(account_id)
    assert record["attributes"] == {"type": "Account", "url": f"/services/data/v59.0/sobjects/Account/{account_id}"}
    assert record["Name"] == "Acme Ltd" and record["BillingCity"] == "Leeds" and record["IsDeleted"] is False
    for name in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
        assert DATETIME.match(record[name]), record[name]
    assert record["CreatedById"] == record["LastModifiedById"]

    assert sf.Account.update(account_id, {"BillingCity": "York", "Phone": None}) == 204
    updated = sf.Account.get(account_id)
    assert updated["BillingCity"] == "York"
    assert updated["SystemModstamp"] > record["SystemModstamp"]

    assert sf.Account.delete(account_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as err:
        sf.Account.get(account_id)
    assert err.value.content[0]["errorCode"] == "NOT_FOUND"
    with pytest.raises(SalesforceResourceNotFound) as err:
        sf.Account.update(account_id, {"Name": "again"})
    assert err.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
    rows = sf.query_all(f"SELECT Id, IsDeleted FROM Account WHERE Id = '{account_id}'", include_deleted=True)
    assert rows["records"][0]["IsDeleted"] is True
    assert sf.query(f"SELECT Id FROM Account WHERE Id = '{account_id}'")["totalSize"] == 0


def test_fifteen_character_id_reads_the_same_record(sf: Salesforce) -> None:
    account_id = sf.Account.create({"Name": "Short Id"})["id"]
    assert sf.Account.get(account_id[:15])["Id"] == account_id


def test_upsert_by_external_id_returns_201_then_200(sf: Salesforce) -> None:
    ext = unique("ACC")
    assert sf.Account.upsert(f"ExternalID__c/{ext}", {"Name": "First"}) == 201
    assert sf.Account.upsert(f"ExternalID__c/{ext}", {"Name": "Second"}) == 200
    record = sf.Account.get_by_custom_id("ExternalID__c", ext)
    assert record["Name"] == "Second"
    raw = sf.Account.upsert(f"ExternalID__c/{ext.lower()}", {"Name": "Third"}, raw_response=True)
    assert raw.status_code == 200  # external ids match case-insensitively
    assert raw.json() == {"id": record["Id"], "success": True, "errors": [], "created": False}


def test_upsert_update_only_never_creates(sandbox: Sandbox) -> None:
    response = sandbox.rest("PATCH", f"sobjects/Account/ExternalID__c/{unique()}?updateOnly=true", json={"Name": "N"})
    assert response.status_code == 404
    assert response.json()[0]["errorCode"] == "NOT_FOUND"


def test_upsert_with_several_matches_is_300(make_sandbox: Any) -> None:
    # An external id that is not unique (LedgerLink's metadata has none on Contact: the org's own field here).
    box = make_sandbox(extra_fields={"Contact": {"ExternalID__c": {"external_id": True}}})
    sf = box.sf()
    ext = unique("CON")
    sf.Contact.create({"LastName": "One", "ExternalID__c": ext})
    sf.Contact.create({"LastName": "Two", "ExternalID__c": ext})
    with pytest.raises(SalesforceMoreThanOneRecord) as err:
        sf.Contact.upsert(f"ExternalID__c/{ext}", {"FirstName": "Ann"})
    assert err.value.status == 300
    assert len(err.value.content) == 2
    assert all(url.startswith("/services/data/v59.0/sobjects/Contact/003") for url in err.value.content)


def test_duplicate_unique_external_id_is_refused(sf: Salesforce) -> None:
    ext = unique()
    first = sf.Account.create({"Name": "A", "ExternalID__c": ext})["id"]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Account.create({"Name": "B", "ExternalID__c": ext})
    body = err.value.content[0]
    assert body["errorCode"] == "DUPLICATE_VALUE"
    assert first in body["message"]


@pytest.mark.parametrize(
    ("obj", "body", "code", "message"),
    [
        ("Account", {"BillingCity": "Leeds"}, "REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]"),
        ("Opportunity", {"Name": "x"}, "REQUIRED_FIELD_MISSING", "Required fields are missing: [StageName, CloseDate]"),
        (
            "Account",
            {"Name": "x", "Nope__c": 1},
            "INVALID_FIELD",
            "No such column 'Nope__c' on sobject of type Account",
        ),
        ("Account", {"Name": "x" * 256}, "STRING_TOO_LONG", "Name: data value too large"),
        (
            "Opportunity",
            {"Name": "x", "StageName": "Prospecting", "CloseDate": "2024-01-01", "Amount": "lots"},
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of currency",
        ),
        (
            "Opportunity",
            {"Name": "x", "StageName": "Prospecting", "CloseDate": "tomorrow"},
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of date",
        ),
        (
            "Opportunity",
            {"Name": "x", "StageName": "Closed Won", "CloseDate": "2024-01-01", "IsWon": True},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            "Unable to create/update fields: IsWon",
        ),
        (
            "Contact",
            {"LastName": "x", "AccountId": ids.make_id("001", 987654)},
            "INVALID_CROSS_REFERENCE_KEY",
            "invalid cross reference id",
        ),
        (
            "Contact",
            {"LastName": "x", "AccountId": ids.make_id("003", 1)},
            "FIELD_INTEGRITY_EXCEPTION",
            "Account ID: id value of incorrect type",
        ),
        ("Contact", {"LastName": "x", "AccountId": "not-an-id"}, "MALFORMED_ID", "Account ID: id value of incorrect"),
    ],
)
def test_validation_errors_are_list_shaped(sandbox: Sandbox, obj: str, body: dict, code: str, message: str) -> None:
    response = sandbox.rest("POST", f"sobjects/{obj}", json=body)
    assert response.status_code == 400, response.text
    errors = response.json()
    assert isinstance(errors, list) and errors[0]["errorCode"] == code
    assert message in errors[0]["message"]


def test_required_field_error_names_the_fields(sandbox: Sandbox) -> None:
    body = sandbox.rest("POST", "sobjects/Account", json={}).json()
    assert body == [
        {"message": "Required fields are missing: [Name]", "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["Name"]}
    ]


def test_unknown_object_and_method_not_allowed(sandbox: Sandbox) -> None:
    assert sandbox.rest("GET", "sobjects/Nothing__c/describe").status_code == 404
    response = sandbox.rest("PUT", "sobjects/Account")
    assert response.status_code == 405
    assert response.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"


def test_describe_lists_fields_with_their_properties(sf: Salesforce) -> None:
    describe = sf.Opportunity.describe()
    assert describe["name"] == "Opportunity" and describe["keyPrefix"] == "006"
    fields = {f["name"]: f for f in describe["fields"]}
    assert fields["IsWon"]["createable"] is False and fields["IsWon"]["updateable"] is False
    assert fields["Name"]["nillable"] is False and fields["Name"]["type"] == "string"
    assert fields["AccountId"]["referenceTo"] == ["Account"] and fields["AccountId"]["relationshipName"] == "Account"
    number = fields["Accounting_Invoice_Number__c"]
    assert number["custom"] is True and number["length"] == 40
    assert fields["Amount_Paid__c"]["type"] == "currency"
    children = {c["relationshipName"] for c in describe["childRelationships"]}
    assert {"OpportunityLineItems", "Payments__r"} <= children
    account_fields = {f["name"]: f for f in sf.Account.describe()["fields"]}
    assert account_fields["ExternalID__c"]["externalId"] is True and account_fields["ExternalID__c"]["unique"] is True


def test_global_describe_and_versions(sandbox: Sandbox, sf: Salesforce) -> None:
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert {
        "Account",
        "Contact",
        "Opportunity",
        "OpportunityLineItem",
        "Product2",
        "Pricebook2",
        "PricebookEntry",
        "Order",
        "OrderItem",
        "Case",
        "ContentVersion",
        "Payment__c",
    } <= names
    versions = sandbox.http.get(sandbox.url("/services/data/"))
    assert versions.status_code == 200
    assert "Sforce-Limit-Info" not in versions.headers
    served = versions.json()
    # The newest version a real org serves today, and the older ones clients pin (simple-salesforce 59.0); 21.0-30.0
    # are retired ("API End-of-Life Policy").
    assert served[-1] == {"label": "Sandbox v68.0", "url": "/services/data/v68.0", "version": "68.0"}
    assert served[0]["version"] == "31.0"
    assert {"label": "Sandbox v59.0", "url": "/services/data/v59.0", "version": "59.0"} in served


def test_opportunity_derived_fields(sf: Salesforce) -> None:
    opp = sf.Opportunity.create({"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2024-03-01"})["id"]
    assert (sf.Opportunity.get(opp)["IsWon"], sf.Opportunity.get(opp)["IsClosed"]) == (False, False)
    sf.Opportunity.update(opp, {"StageName": "Closed Won"})
    record = sf.Opportunity.get(opp)
    assert (record["IsWon"], record["IsClosed"]) == (True, True)
    sf.Opportunity.update(opp, {"StageName": "Closed Lost"})
    record = sf.Opportunity.get(opp)
    assert (record["IsWon"], record["IsClosed"]) == (False, True)


def test_line_items_roll_up_into_the_opportunity_amount(sf: Salesforce, sandbox: Sandbox) -> None:
    product = sf.Product2.create({"Name": "Widget", "ProductCode": "W-1", "IsActive": True})["id"]
    entry = sf.PricebookEntry.create(
        {"Pricebook2Id": sandbox.org.standard_pricebook_id, "Product2Id": product, "UnitPrice": 12.5, "IsActive": True}
    )["id"]
    opp = sf.Opportunity.create({"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2024-03-01", "Amount": 1})
    line = sf.OpportunityLineItem.create({"OpportunityId": opp["id"], "PricebookEntryId": entry, "Quantity": 4})["id"]
    sf.OpportunityLineItem.create(
        {"OpportunityId": opp["id"], "PricebookEntryId": entry, "Quantity": 1, "UnitPrice": 10}
    )
    item = sf.OpportunityLineItem.get(line)
    assert item["Product2Id"] == product and item["UnitPrice"] == 12.5 and item["TotalPrice"] == 50.0
    record = sf.Opportunity.get(opp["id"])
    assert record["Amount"] == 60.0 and record["Pricebook2Id"] == sandbox.org.standard_pricebook_id
    sf.OpportunityLineItem.delete(line)
    assert sf.Opportunity.get(opp["id"])["Amount"] == 10.0
    remaining = sf.query(f"SELECT Id FROM OpportunityLineItem WHERE OpportunityId = '{opp['id']}'")["records"]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.OpportunityLineItem.update(remaining[0]["Id"], {"TotalPrice": 3})
    assert err.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_custom_pricebook_needs_a_standard_price(sf: Salesforce) -> None:
    product = sf.Product2.create({"Name": "Gadget", "IsActive": True})["id"]
    book = sf.Pricebook2.create({"Name": "Trade", "IsActive": True})["id"]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.PricebookEntry.create({"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 5, "IsActive": True})
    assert err.value.content[0]["errorCode"] == "STANDARD_PRICE_NOT_DEFINED"


def test_payment_custom_object_with_lookup_and_auto_name(sf: Salesforce) -> None:
    opp = sf.Opportunity.create({"Name": "Paid deal", "StageName": "Closed Won", "CloseDate": "2024-03-01"})["id"]
    ext = unique("PAY")
    assert (
        sf.Payment__c.upsert(
            f"External_Id__c/{ext}",
            {"Opportunity__c": opp, "Amount__c": 99.5, "Payment_Date__c": "2024-03-02", "Method__c": "Card"},
        )
        == 201
    )
    payment = sf.Payment__c.get_by_custom_id("External_Id__c", ext)
    assert payment["Id"].startswith("a0P") and payment["Name"].startswith("PAY-")
    rows = sf.query(f"SELECT Name, (SELECT Amount__c FROM Payments__r) FROM Opportunity WHERE Id = '{opp}'")
    assert rows["records"][0]["Payments__r"]["records"][0]["Amount__c"] == 99.5
    parent = sf.query(f"SELECT Opportunity__r.Name FROM Payment__c WHERE External_Id__c = '{ext}'")["records"][0]
    assert parent["Opportunity__r"]["Name"] == "Paid deal"


def test_updated_and_deleted_resources(sf: Salesforce, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    keep = sf.Account.create({"Name": "Keep"})["id"]
    gone = sf.Account.create({"Name": "Gone"})["id"]
    sf.Account.delete(gone)
    start, end = "2000-01-01T00:00:00+00:00", "2100-01-01T00:00:00+00:00"
    window = {"start": start, "end": end}
    # The API drops the seconds of start and end and covers no further than the current minute, so changes made in
    # this minute are not reported yet (sObject Get Updated / Get Deleted).
    updated = sandbox.rest("GET", "sobjects/Account/updated/", params=window).json()
    covered = updated["latestDateCovered"]
    assert covered.endswith(":00.000+0000")
    assert (keep in updated["ids"]) == (sf.Account.get(keep)["SystemModstamp"] < covered)
    # Two minutes later they are.
    later = time.time() + 120
    monkeypatch.setattr(rest_api, "time", SimpleNamespace(time=lambda: later))
    updated = sandbox.rest("GET", "sobjects/Account/updated/", params=window).json()
    assert keep in updated["ids"] and gone not in updated["ids"]
    deleted = sandbox.rest("GET", "sobjects/Account/deleted/", params=window).json()
    assert gone in [d["id"] for d in deleted["deletedRecords"]]
    # A window inside one minute covers nothing, whatever its seconds say.
    narrow = {"start": "2000-01-01T10:00:05+00:00", "end": "2000-01-01T10:00:55+00:00"}
    assert sandbox.rest("GET", "sobjects/Account/updated/", params=narrow).json()["ids"] == []
