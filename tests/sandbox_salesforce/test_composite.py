"""sObject Collections and composite with references."""

from __future__ import annotations

import uuid

from .conftest import Sandbox


def acc(name: str, **fields: object) -> dict:
    return {"attributes": {"type": "Account"}, "Name": name, **fields}


def test_collection_create_reports_per_record_results_in_order(sandbox: Sandbox) -> None:
    response = sandbox.rest(
        "POST", "composite/sobjects", json={"allOrNone": False, "records": [acc("C1"), acc(""), acc("C3")]}
    )
    assert response.status_code == 200
    results = response.json()
    assert results[0]["success"] and results[2]["success"]
    assert results[1] == {
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [Name]",
                "fields": ["Name"],
            }
        ],
    }


def test_collection_all_or_none_rolls_everything_back(fresh_sandbox: Sandbox) -> None:
    box = fresh_sandbox
    records = [acc("R1", Region__c="rollback"), acc("R2", Nope__c=1), acc("R3", Region__c="rollback")]
    results = box.rest("POST", "composite/sobjects", json={"allOrNone": True, "records": records}).json()
    assert [r["success"] for r in results] == [False, False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "INVALID_FIELD"
    count = box.rest("GET", "query", params={"q": "SELECT COUNT() FROM Account WHERE Region__c = 'rollback'"})
    assert count.json()["totalSize"] == 0
    assert box.org.events.latest_replay_id() is None  # rolled-back writes leave no change events


def test_collection_limits_and_one_api_call(fresh_sandbox: Sandbox) -> None:
    box = fresh_sandbox
    too_many = box.rest("POST", "composite/sobjects", json={"records": [acc(f"n{i}") for i in range(201)]})
    assert too_many.status_code == 400 and too_many.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    before = box.org.usage.used()
    box.rest("POST", "composite/sobjects", json={"records": [acc(f"n{i}") for i in range(200)]})
    assert box.org.usage.used() == before + 1


def test_collection_update_upsert_read_and_delete(sandbox: Sandbox) -> None:
    ext_a, ext_b = uuid.uuid4().hex, uuid.uuid4().hex
    upsert = sandbox.rest(
        "PATCH",
        "composite/sobjects/Account/ExternalID__c",
        json={"allOrNone": False, "records": [acc("U1", ExternalID__c=ext_a)]},
    ).json()
    assert upsert[0]["success"] and upsert[0]["created"] is True
    upsert = sandbox.rest(
        "PATCH",
        "composite/sobjects/Account/ExternalID__c",
        json={"records": [acc("U1b", ExternalID__c=ext_a), acc("U2", ExternalID__c=ext_b)]},
    ).json()
    assert [r["created"] for r in upsert] == [False, True]
    ids = [r["id"] for r in upsert]
    updated = sandbox.rest(
        "PATCH",
        "composite/sobjects",
        json={
            "records": [
                {"attributes": {"type": "Account"}, "id": ids[0], "BillingCity": "Hull"},
                {"attributes": {"type": "Account"}, "id": ids[1], "BillingCity": "Bath"},
            ]
        },
    ).json()
    assert all(r["success"] for r in updated)
    read = sandbox.rest(
        "GET", "composite/sobjects/Account", params={"ids": ",".join(ids), "fields": "Name,BillingCity"}
    ).json()
    assert [(r["Name"], r["BillingCity"]) for r in read] == [("U1b", "Hull"), ("U2", "Bath")]
    deleted = sandbox.rest("DELETE", "composite/sobjects", params={"ids": ",".join(ids)}).json()
    assert [r["success"] for r in deleted] == [True, True] and [r["id"] for r in deleted] == ids


def test_composite_with_references(sandbox: Sandbox) -> None:
    body = {
        "allOrNone": True,
        "compositeRequest": [
            {
                "method": "POST",
                "url": "/services/data/v59.0/sobjects/Account",
                "referenceId": "newAccount",
                "body": {"Name": "Composite Co"},
            },
            {
                "method": "POST",
                "url": "/services/data/v59.0/sobjects/Contact",
                "referenceId": "newContact",
                "body": {"LastName": "Ref", "AccountId": "@{newAccount.id}"},
            },
            {
                "method": "GET",
                "referenceId": "lookup",
                "url": "/services/data/v59.0/query?q=SELECT+Id,Name+FROM+Account+WHERE+Id='@{newAccount.id}'",
            },
            {
                "method": "PATCH",
                "referenceId": "rename",
                "url": "/services/data/v59.0/sobjects/Account/@{lookup.records[0].Id}",
                "body": {"Name": "Renamed"},
            },
        ],
    }
    before = sandbox.org.usage.used()
    response = sandbox.rest("POST", "composite", json=body)
    assert response.status_code == 200
    parts = response.json()["compositeResponse"]
    assert [p["httpStatusCode"] for p in parts] == [201, 201, 200, 204]
    assert [p["referenceId"] for p in parts] == ["newAccount", "newContact", "lookup", "rename"]
    account_id = parts[0]["body"]["id"]
    assert parts[0]["httpHeaders"]["Location"].endswith(f"/sobjects/Account/{account_id}")
    contact = sandbox.rest("GET", f"sobjects/Contact/{parts[1]['body']['id']}").json()
    assert contact["AccountId"] == account_id
    assert sandbox.rest("GET", f"sobjects/Account/{account_id}").json()["Name"] == "Renamed"
    assert sandbox.org.usage.used() == before + 3  # the composite call and the two GETs above


def test_composite_all_or_none_halts_and_rolls_back(sandbox: Sandbox) -> None:
    marker = uuid.uuid4().hex[:12]
    body = {
        "allOrNone": True,
        "compositeRequest": [
            {
                "method": "POST",
                "url": "/services/data/v59.0/sobjects/Account",
                "referenceId": "ok",
                "body": {"Name": "Kept?", "Region__c": marker},
            },
            {
                "method": "POST",
                "url": "/services/data/v59.0/sobjects/Contact",
                "referenceId": "bad",
                "body": {"FirstName": "No last name", "AccountId": "@{ok.id}"},
            },
            {"method": "GET", "url": "/services/data/v59.0/limits", "referenceId": "after"},
        ],
    }
    parts = sandbox.rest("POST", "composite", json=body).json()["compositeResponse"]
    assert [p["httpStatusCode"] for p in parts] == [400, 400, 400]
    assert parts[1]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert parts[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert parts[2]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    count = sandbox.rest("GET", "query", params={"q": f"SELECT COUNT() FROM Account WHERE Region__c = '{marker}'"})
    assert count.json()["totalSize"] == 0


def test_composite_without_all_or_none_keeps_successes(sandbox: Sandbox) -> None:
    body = {
        "compositeRequest": [
            {
                "method": "POST",
                "url": "/services/data/v59.0/sobjects/Account",
                "referenceId": "a",
                "body": {"Name": "K"},
            },
            {"method": "GET", "url": "/services/data/v59.0/sobjects/Account/001000000000000AAA", "referenceId": "b"},
        ]
    }
    parts = sandbox.rest("POST", "composite", json=body).json()["compositeResponse"]
    assert [p["httpStatusCode"] for p in parts] == [201, 404]
    too_many = {
        "compositeRequest": [
            {"method": "GET", "url": "/services/data/v59.0/limits", "referenceId": f"r{i}"} for i in range(26)
        ]
    }
    response = sandbox.rest("POST", "composite", json=too_many)
    assert response.status_code == 400
