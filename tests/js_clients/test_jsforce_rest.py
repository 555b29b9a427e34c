"""jsforce 3's REST API calls against the sandbox, checked in jsforce's results and in the org's own records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .conftest import JsSandbox


def _minute_floor(iso: str) -> str:
    """``iso`` with its seconds dropped, in Salesforce's wire format (what Get Updated/Deleted compare with)."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC).replace(second=0, microsecond=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def test_crud_collections_queries_and_metadata(make_js_sandbox: Any) -> None:
    sandbox: JsSandbox = make_js_sandbox(query_page_size=100)
    out = sandbox.run("jsforce_rest.mjs")
    assert out["ok"], out
    r = out["result"]

    # One record: create, read back, update, upsert on the external id (existing, then new).
    solo_id = r["created"]["id"]
    assert r["created"] == {"id": solo_id, "success": True, "errors": []}
    assert r["retrieved"]["attributes"]["type"] == "Account"
    assert (r["retrieved"]["Name"], r["retrieved"]["BillingCity"]) == ("Solo", "Leeds")
    assert r["upsertExisting"] == {"id": solo_id, "success": True, "errors": [], "created": False}
    assert r["upsertNew"]["created"] is True
    # Upserts of many records go through sObject Collections too: SOLO-2 exists, SOLO-3 is new.
    assert r["upsertedMany"] == [[True, False], [True, True]]

    # 250 records in two collection calls; reads, updates and deletes of several at once.
    assert r["createdMany"] == {"count": 250, "allSucceeded": True}
    assert [name for _, name, _ in r["retrievedMany"]] == [f"Bulky {i:03d}" for i in range(5)]
    assert [employees for _, _, employees in r["retrievedMany"]] == list(range(5))
    assert r["updatedMany"] == [True, True, True]
    assert all(ok for _, ok in r["destroyedMany"])

    # The org holds exactly what jsforce reported.
    bulky = sandbox.records("Account")
    names = sorted(a["Name"] for a in bulky if a["Name"].startswith("Bulky"))
    assert len(names) == 245 and names[0] == "Bulky 003" and names[-1] == "Bulky 247"
    renamed = sorted(a["Name"] for a in bulky if a["Name"].startswith("Renamed"))
    assert renamed == ["Renamed 0", "Renamed 1", "Renamed 2"]
    solo = sandbox.records("Account", ExternalID__c="SOLO-1")
    assert solo == []  # deleted at the end of the script, after the reads below
    two = sandbox.records("Account", ExternalID__c="SOLO-2")
    assert [a["Name"] for a in two] == ["Solo Two Again"]

    # query + queryMore by nextRecordsUrl, in pages of the org's size (100 here), then autoFetch of all pages.
    pages = r["pages"]
    assert pages["first"] == [245, False, 100, "Bulky 003"]
    assert pages["second"] == [245, False, 100, "Bulky 103"]
    assert "/query/01g" in pages["locator"]
    assert r["autoFetched"] == {"count": 245, "distinct": 245, "last": "Bulky 247"}
    assert r["count"] == 245
    assert r["find"] == [
        ["Solo", "0113 496 0000", "https://solo.example", "SOLO-1"],
        ["Solo Three", None, None, "SOLO-3"],
        ["Solo Two Again", None, None, "SOLO-2"],
    ]
    assert r["queryAll"] == 2  # the two deleted Bulky records, seen only with scanAll (queryAll)

    # composite with @{ref.id} references, then a relationship query over what it made.
    assert r["composite"] == [["acct", 201], ["person", 201], ["check", 200]]
    assert r["compositeLink"] is True
    assert r["contactsWithAccount"] == [["Child", "Parent Co"]]

    # Files: a base64 JSON body and a multipart body (Insert or Update Blob Data) store the same kind of blob.
    assert r["files"] == {"bytes": ["%PDF-1.4 first", "%PDF-1.4 second"], "titles": ["Invoice 1", "Invoice 2"]}

    # SOSL: name-field wildcard search over two objects, an email search, phrases with OR, and a too-short term.
    assert r["search"] == [
        ["Account", "Solo", "0113 496 0000"],
        ["Account", "Solo Three", None],
        ["Account", "Solo Two Again", None],
    ]
    assert r["searchEmail"] == [["Sam", "Searchable"]]
    assert r["searchPhrase"] == ["Parent Co", "Solo Three"]
    assert r["searchBad"]["error"]["errorCode"] == "MALFORMED_SEARCH"

    assert r["describe"] == {"name": "Account", "keyPrefix": "001", "externalId": True}
    assert r["describeGlobal"] is True
    used = sandbox.org.usage.used()
    assert r["limits"]["max"] == 15000 and 0 < 15000 - r["limits"]["remaining"] <= used
    assert r["limitInfo"]["apiUsage"]["limit"] == 15000 and r["limitInfo"]["apiUsage"]["used"] > 0

    # Get Updated / Get Deleted: exactly the org's changes between the minute-truncated start and end.
    rep = r["replication"]
    start, end = _minute_floor(rep["start"]), _minute_floor(rep["end"])
    assert rep["updatedCovered"] == end == rep["deletedCovered"]
    account = sandbox.org.schema.get("Account")
    assert account is not None
    live = sandbox.org.records.load_all(account)
    expected = sorted(a["Id"] for a in live if start <= a["SystemModstamp"] < end)
    updated_before_delete = set(rep["updatedIds"]) - {solo_id}
    assert sorted(updated_before_delete) == [i for i in expected if i != solo_id]
    destroyed = {rid for rid, _ in r["destroyedMany"]}
    assert set(rep["deletedIds"]) <= destroyed

    assert r["recent"][0] == ["Contact", "Sam Searchable"]

    # Errors arrive as jsforce errors carrying Salesforce's errorCode.
    assert r["missingName"]["error"]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert r["missingRecord"]["error"]["errorCode"] == "NOT_FOUND"
    assert r["badField"]["error"]["errorCode"] == "INVALID_FIELD"
    assert r["badSoql"]["error"]["errorCode"] == "MALFORMED_QUERY"
    first, second = r["deleteTwice"]
    assert first["success"] is True
    assert second["success"] is False and second["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"

    # Every write carried Sforce-Call-Options: client=js-rest, and the change events say so.
    origins = {e.change_origin for e in sandbox.org.events.events_after(None, 10_000)}
    assert origins and all(o.endswith(";client=js-rest") for o in origins), origins
