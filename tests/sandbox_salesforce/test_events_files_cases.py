"""The change-event log, files (ContentVersion) and cases."""

from __future__ import annotations

import base64
import json
import threading

from simple_salesforce import Salesforce

from .conftest import Sandbox


def test_change_events_record_origin_fields_and_order(fresh_sandbox: Sandbox) -> None:
    box = fresh_sandbox
    log = box.org.events
    assert log.latest_replay_id() is None
    created = box.rest("POST", "sobjects/Account", client="ledgerlink", json={"Name": "Evented", "Phone": "1"})
    account_id = created.json()["id"]
    box.rest("PATCH", f"sobjects/Account/{account_id}", json={"BillingCity": "Leeds", "Phone": None})
    box.rest("DELETE", f"sobjects/Account/{account_id}", client="someone-else")
    box.http.post(box.url(f"/__admin/undelete/{account_id}"), headers={"Sforce-Call-Options": "client=admin"})

    events = log.events_after(None, 100)
    assert [e.change_type for e in events] == ["CREATE", "UPDATE", "DELETE", "UNDELETE"]
    assert [e.replay_id for e in events] == sorted(e.replay_id for e in events)
    create, update, delete, undelete = events
    assert create.change_origin == "com/salesforce/api/rest/59.0;client=ledgerlink"
    assert create.client_id == "ledgerlink" and update.client_id == "" and delete.client_id == "someone-else"
    assert create.entity_name == "Account" and create.record_ids == [account_id]
    assert create.fields["Name"] == "Evented" and create.commit_user == box.config.user_id
    assert set(update.changed_fields) >= {"BillingCity", "Phone", "LastModifiedDate"}
    assert update.nulled_fields == ["Phone"] and update.fields["BillingCity"] == "Leeds"
    assert undelete.client_id == "admin"
    assert len({e.transaction_key for e in events}) == 4
    header = create.header()
    assert header["changeOrigin"].endswith("client=ledgerlink") and header["sequenceNumber"] == 1
    assert log.events_after(create.replay_id, 2) == [update, delete]
    assert log.earliest_replay_id() == create.replay_id and log.latest_replay_id() == undelete.replay_id
    assert box.rest("GET", f"sobjects/Account/{account_id}").status_code == 200


def test_one_call_is_one_transaction_with_sequence_numbers(fresh_sandbox: Sandbox) -> None:
    box = fresh_sandbox
    records = [{"attributes": {"type": "Account"}, "Name": f"T{i}"} for i in range(3)]
    box.rest("POST", "composite/sobjects", json={"records": records}, client="bulk-loader")
    events = box.org.events.events_after(None, 10)
    assert len({e.transaction_key for e in events}) == 1
    assert [e.sequence_number for e in events] == [1, 2, 3]


def test_waiting_for_events_and_pruning(fresh_sandbox: Sandbox) -> None:
    box = fresh_sandbox
    log = box.org.events
    assert log.wait_for_events(None, timeout=0.05) is False
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(log.wait_for_events(None, timeout=5)))
    waiter.start()
    box.rest("POST", "sobjects/Account", json={"Name": "Wake up"})
    waiter.join(5)
    assert woke == [True]
    latest = log.latest_replay_id()
    assert latest is not None
    assert log.prune(now_ms=10**15) == 1  # far future: everything is past retention
    assert log.latest_replay_id() is None and log.events_after(None, 10) == []


def test_content_version_with_first_publish_location(sf: Salesforce, sandbox: Sandbox) -> None:
    case_id = sf.Case.create({"Subject": "Invoice query", "Origin": "Email"})["id"]
    case = sf.Case.get(case_id)
    assert case["Status"] == "New" and case["IsClosed"] is False and case["CaseNumber"]
    payload = b"%PDF-1.4 invoice bytes \x00\x01"
    version_id = sf.ContentVersion.create(
        {
            "Title": "INV-1001",
            "PathOnClient": "INV-1001.pdf",
            "VersionData": base64.b64encode(payload).decode(),
            "FirstPublishLocationId": case_id,
        }
    )["id"]
    version = sf.ContentVersion.get(version_id)
    assert version["ContentDocumentId"].startswith("069") and version["FileExtension"] == "pdf"
    assert version["ContentSize"] == len(payload)
    assert version["VersionData"] == f"/services/data/v59.0/sobjects/ContentVersion/{version_id}/VersionData"
    blob = sandbox.rest("GET", f"sobjects/ContentVersion/{version_id}/VersionData")
    assert blob.status_code == 200 and blob.content == payload
    links = sf.query(f"SELECT ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId = '{case_id}'")
    assert links["records"][0]["ContentDocumentId"] == version["ContentDocumentId"]
    by_location = sf.query(f"SELECT Id, Title FROM ContentVersion WHERE FirstPublishLocationId = '{case_id}'")
    assert by_location["records"][0]["Title"] == "INV-1001"

    sf.Case.update(case_id, {"Status": "Closed"})
    closed = sf.Case.get(case_id)
    assert closed["IsClosed"] is True and closed["ClosedDate"]
    sf.Case.delete(case_id)
    assert sf.query(f"SELECT COUNT() FROM Case WHERE Id = '{case_id}'")["totalSize"] == 0


def test_content_version_from_a_multipart_body(sf: Salesforce, sandbox: Sandbox) -> None:
    """Insert or Update Blob Data: a JSON part with the fields, then the file's bytes in a part named after the blob
    field, as in Salesforce's ContentVersion example (``entity_content`` + ``VersionData``)."""
    payload = b"%PDF-1.4 multipart \x00\xff"
    fields = {"Title": "INV-2002", "PathOnClient": "INV-2002.pdf"}
    files = {
        "entity_content": (None, json.dumps(fields), "application/json"),
        "VersionData": ("INV-2002.pdf", payload, "application/pdf"),
    }
    created = sandbox.rest("POST", "sobjects/ContentVersion/", files=files)
    assert created.status_code == 201, created.text
    version_id = created.json()["id"]
    assert sf.ContentVersion.get(version_id)["ContentSize"] == len(payload)
    assert sandbox.rest("GET", f"sobjects/ContentVersion/{version_id}/VersionData").content == payload
    no_json = sandbox.rest(
        "POST", "sobjects/ContentVersion/", files={"VersionData": ("x.pdf", payload, "application/pdf")}
    )
    assert no_json.status_code == 400 and no_json.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
