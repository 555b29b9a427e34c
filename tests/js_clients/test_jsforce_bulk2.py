"""jsforce 3's Bulk API 2.0 client against the sandbox: ingest jobs of every operation and paged query jobs."""

from __future__ import annotations

from typing import Any

from .conftest import JsSandbox

# Query results here fit one page. jsforce 3.10 can't read a second page (it pipes every page into one stream and
# fails with ERR_STREAM_WRITE_AFTER_END: jsforce/jsforce#1546, #1693, open against real Salesforce too), so paging by
# Sforce-Locator is left to simple-salesforce in tests/salesforce_conformance/test_bulk.py.


def test_ingest_and_query_jobs(make_js_sandbox: Any) -> None:
    sandbox: JsSandbox = make_js_sandbox()
    out = sandbox.run("jsforce_bulk2.mjs")
    assert out["ok"], out
    r = out["result"]

    assert r["insert"] == {
        "ok": 300,
        "failed": [["B2-bad-1", "REQUIRED_FIELD_MISSING"], ["B2-bad-2", "REQUIRED_FIELD_MISSING"]],
        "created": True,
        "unprocessed": 0,
    }
    assert r["upsert"] == [
        ["B2-0", "false"],
        ["B2-1", "false"],
        ["B2-2", "false"],
        ["B2-new-0", "true"],
        ["B2-new-1", "true"],
    ]
    assert r["update"] == {"ok": 11, "failed": 0}
    assert r["delete"] == [5, 5]

    # The org: 300 inserted + 2 upserted - 10 deleted, renamed and updated as the jobs said.
    accounts = {a["ExternalID__c"]: a for a in sandbox.records("Account")}
    assert len(accounts) == 292
    assert [accounts[f"B2-{i}"]["Name"] for i in range(3)] == ["Upserted 0", "Upserted 1", "Upserted 2"]
    assert [accounts[f"B2-{10 + i}"]["Phone"] for i in range(10)] == [f"0200 {i}" for i in range(10)]
    assert accounts["B2-20"]["NumberOfEmployees"] is None  # #N/A cleared it
    assert accounts["B2-21"]["NumberOfEmployees"] == 21
    assert not any(f"B2-{n}" in accounts for n in [*range(30, 35), *range(40, 45)])
    # delete goes to the recycle bin, hardDelete does not.
    account = sandbox.org.schema.get("Account")
    assert account is not None
    binned = {a["ExternalID__c"] for a in sandbox.org.records.load_all(account, include_deleted=True) if a["IsDeleted"]}
    assert binned == {f"B2-{n}" for n in range(30, 35)}

    # Query results: every matching row once, with Bulk API's CSV values.
    assert r["query"]["count"] == r["query"]["distinct"] == 289  # "Bulk2 %": 300 - 3 renamed - 10 deleted + 2 new
    assert r["query"]["sample"] == {
        "Id": accounts["B2-10"]["Id"],
        "Name": "Bulk2 010",
        "ExternalID__c": "B2-10",
        "NumberOfEmployees": "10",
        "Phone": "0200 0",
    }
    assert r["query"]["cleared"] == ""  # null is an empty CSV value
    assert r["queryAll"] == {"count": 294, "deleted": 5}  # queryAll sees the recycle bin, not hard deletes
    assert r["contacts"] == [["Bulkson 0", "Bulk2 050"], ["Bulkson 1", "Bulk2 050"], ["Bulkson 2", "Bulk2 050"]]

    # The aborted job processed nothing; its rows come back from unprocessedrecords (jsforce's lower-case path).
    assert r["aborted"] == {"state": "Aborted", "unprocessed": ["Never 0", "Never 1", "Never 2", "Never 3"]}
    assert not any(a["Name"].startswith("Never") for a in sandbox.records("Account"))

    origins = {e.change_origin for e in sandbox.org.events.events_after(None, 10_000)}
    assert origins and all(o.endswith(";client=js-bulk") for o in origins), origins
