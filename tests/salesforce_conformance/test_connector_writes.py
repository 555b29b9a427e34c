"""LedgerLink's connector only: ``write`` picks collections or Bulk API 2.0 by size with the same per-record
results, reports partial failures record by record, and ``changed_since`` reads incrementally."""

from __future__ import annotations

import ssl
import uuid
from typing import Any

import httpx
import pytest

from ledgerlink.sandbox.runner import Sandbox
from ledgerlink.systems.errors import ApiLimitExhausted
from ledgerlink.systems.salesforce.auth import from_spec
from ledgerlink.systems.salesforce.client import SalesforceClient, SalesforceSettings
from ledgerlink.systems.salesforce.incremental import Position
from ledgerlink.systems.salesforce.pacing import PacingPolicy
from ledgerlink.systems.salesforce.writes import UNPROCESSED

from .admin import admin
from .drivers import LedgerLinkDriver


@pytest.fixture
def client(shared_box: Sandbox) -> Any:
    driver = LedgerLinkDriver(shared_box, bulk_threshold=50)
    yield driver.client
    driver.close()


def _batch(tag: str, n: int) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = [{"Name": f"W {tag} {i}", "ExternalID__c": f"{tag}-{i}"} for i in range(n)]
    records[3] = {"ExternalID__c": f"{tag}-3", "Phone": "no name"}  # REQUIRED_FIELD_MISSING
    records[7] = {"Name": "x" * 300, "ExternalID__c": f"{tag}-7"}  # STRING_TOO_LONG
    return records


def _shape(results: list[Any]) -> list[tuple[int, bool, bool, str]]:
    return [(r.index, r.success, r.created, r.errors[0].code if r.errors else "") for r in results]


def test_collections_and_bulk_give_the_same_per_record_results(client: SalesforceClient) -> None:
    small = client.write("Account", "upsert", _batch(uuid.uuid4().hex[:8], 49), external_id_field="ExternalID__c")
    assert client.usage.by_kind.get("bulk", 0) == 0
    large = client.write("Account", "upsert", _batch(uuid.uuid4().hex[:8], 50), external_id_field="ExternalID__c")
    assert client.usage.by_kind["bulk"] >= 5

    assert _shape(small) == _shape(large)[:49]
    assert [r.index for r in large] == list(range(50))
    failed = {r.index: r.errors[0].code for r in large if not r.success}
    assert failed == {3: "REQUIRED_FIELD_MISSING", 7: "STRING_TOO_LONG"}
    assert all(r.created and r.id and r.id.startswith("001") for r in large if r.success)


def test_write_all_operations_through_bulk(client: SalesforceClient) -> None:
    tag = uuid.uuid4().hex[:8]
    inserted = client.write("Account", "insert", [{"Name": f"Op {tag} {i}"} for i in range(60)])
    assert all(r.success and r.created for r in inserted)
    ids = [str(r.id) for r in inserted]
    updates = [{"Id": rid, "Phone": "123"} for rid in ids] + [{"Id": "001000000000000AAA", "Phone": "1"}]
    updated = client.write("Account", "update", updates)
    assert [r.success for r in updated] == [True] * 60 + [False]
    assert not any(r.created for r in updated)
    deleted = client.write("Account", "delete", [{"Id": rid} for rid in ids])
    assert all(r.success for r in deleted)
    assert list(client.query(f"SELECT Id FROM Account WHERE Name LIKE 'Op {tag} %'")) == []


class _FailSecondCollectionCall(httpx.HTTPTransport):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/composite/sobjects"):
            self.calls += 1
            if self.calls == 2:
                return httpx.Response(503, json=[{"errorCode": "SERVER_UNAVAILABLE", "message": "try later"}])
        return super().handle_request(request)


def test_a_call_failing_midway_reports_the_rest_unprocessed(shared_box: Sandbox) -> None:
    spec = shared_box.describe()
    transport = _FailSecondCollectionCall(verify=ssl.create_default_context(cafile=spec["ca_file"]))
    settings = SalesforceSettings(login_url=spec["base_url"], auth=from_spec(spec), transport=transport)
    client = SalesforceClient(settings)
    try:
        results = client.write("Account", "insert", [{"Name": f"Mid {i}"} for i in range(450)])
    finally:
        client.close()
    assert [r.index for r in results] == list(range(450))
    assert all(r.success for r in results[:200])
    assert all(not r.success and r.errors[0].code == UNPROCESSED and not r.processed for r in results[200:])
    assert "SERVER_UNAVAILABLE" in results[200].errors[0].message


def test_changed_since_reads_in_pages_and_resumes(client: SalesforceClient) -> None:
    tag = uuid.uuid4().hex[:8]
    where = f"Name LIKE 'Inc {tag} %'"
    client.write("Account", "insert", [{"Name": f"Inc {tag} {i}"} for i in range(30)])
    pages = list(client.changed_since("Account", ["Name"], Position.decode(None), where=where))
    seen = [r["Name"] for page, _ in pages for r in page]
    assert sorted(seen) == sorted(f"Inc {tag} {i}" for i in range(30))
    position = pages[-1][1]

    client.update("Account", pages[0][0][0]["Id"], {"Phone": "changed"})
    again = [
        r
        for page, _ in client.changed_since("Account", ["Name"], Position.decode(position.encode()), where=where)
        for r in page
    ]
    assert [r["Id"] for r in again] == [pages[0][0][0]["Id"]]


def test_server_refusal_stops_further_calls_locally(fresh_box: Sandbox) -> None:
    driver = LedgerLinkDriver(fresh_box, pacing=PacingPolicy(reserve_fraction=0.0, slowdown_fraction=0.0))
    client = driver.client
    try:
        driver.cheap_call()
        # Spent behind the client's back (other integrations): its last reading still shows room.
        admin(fresh_box, "POST", "daily-limit", json={"limit": client.usage.used})
        with pytest.raises(ApiLimitExhausted) as caught:
            driver.cheap_call()
        assert caught.value.code == "REQUEST_LIMIT_EXCEEDED" and "allocation" in caught.value.message
        calls = client.usage.calls_made
        with pytest.raises(ApiLimitExhausted):
            driver.cheap_call()
        assert client.usage.calls_made == calls  # refused here, without asking Salesforce again
    finally:
        driver.close()
