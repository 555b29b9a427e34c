"""Bulk API 2.0: upsert (created, updated, failed per row; empty = unchanged, #N/A = null) and query (paged
with Sforce-Locator), through simple-salesforce's ``bulk2`` and through the connector's ``bulk.py``."""

from __future__ import annotations

import uuid

from .admin import admin
from .drivers import Driver

ROWS = 2_500


def _events(driver: Driver) -> list[dict[str, object]]:
    return list(admin(driver.box, "GET", "events", params={"limit": 100_000}))


def test_bulk_upsert_reports_each_row_and_applies_csv_meanings(driver: Driver) -> None:
    tag = uuid.uuid4().hex[:8]
    first = [{"Name": f"Bulk {tag} {i}", "ExternalID__c": f"{tag}-{i}", "Phone": "555"} for i in range(ROWS)]
    outcome = driver.bulk_upsert("Account", "ExternalID__c", first)
    assert outcome == {f"{tag}-{i}": "created" for i in range(ROWS)}

    second = [
        {"Name": "", "ExternalID__c": f"{tag}-0", "Phone": "#N/A"},  # name unchanged, phone cleared
        {"Name": f"Renamed {tag}", "ExternalID__c": f"{tag}-1", "Phone": ""},  # phone unchanged
        {"Name": f"New {tag}", "ExternalID__c": f"{tag}-new", "Phone": ""},
        {"Name": "#N/A", "ExternalID__c": f"{tag}-2", "Phone": ""},  # Name can't be null
    ]
    outcome = driver.bulk_upsert("Account", "ExternalID__c", second)
    assert outcome == {
        f"{tag}-0": "updated",
        f"{tag}-1": "updated",
        f"{tag}-new": "created",
        f"{tag}-2": "REQUIRED_FIELD_MISSING",
    }

    rows = driver.query_all(
        f"SELECT ExternalID__c, Name, Phone FROM Account WHERE ExternalID__c IN ('{tag}-0', '{tag}-1', '{tag}-2')"
    )
    by_code = {r["ExternalID__c"]: (r["Name"], r["Phone"]) for r in rows}
    assert by_code == {
        f"{tag}-0": (f"Bulk {tag} 0", None),
        f"{tag}-1": (f"Renamed {tag}", "555"),
        f"{tag}-2": (f"Bulk {tag} 2", "555"),
    }


def test_bulk_writes_raise_the_same_change_events_as_rest(driver: Driver) -> None:
    tag = uuid.uuid4().hex[:8]
    before = len(_events(driver))
    driver.bulk_upsert("Account", "ExternalID__c", [{"Name": f"Evt {tag}", "ExternalID__c": f"{tag}-e"}])
    events = _events(driver)[before:]
    mine = [e for e in events if e["fields"].get("ExternalID__c") == f"{tag}-e"]  # type: ignore[union-attr]
    assert len(mine) == 1
    event = mine[0]
    assert event["change_type"] == "CREATE" and event["entity_name"] == "Account"
    # An untagged writer's origin has no ";client=" part at all (Apex Reference, ChangeEventHeader.changeorigin).
    origin = str(event["change_origin"])
    assert origin.endswith(f";client={driver.client_tag}") if driver.client_tag else ";client=" not in origin


def test_bulk_query_pages_with_locators(driver: Driver) -> None:
    tag = uuid.uuid4().hex[:8]
    driver.insert_many("Account", [{"Name": f"BQ {tag} {i:04d}", "Phone": str(i)} for i in range(2_300)])
    driver.insert_many("Account", [{"Name": f"BQ {tag} nophone"}])

    rows = driver.bulk_query(
        f"SELECT Id, Name, Phone, CreatedDate FROM Account WHERE Name LIKE 'BQ {tag} %' ORDER BY Name",
        page_size=1_000,
    )

    assert len(rows) == 2_301
    assert list(rows[0]) == ["Id", "Name", "Phone", "CreatedDate"]
    assert [r["Name"] for r in rows[:2]] == [f"BQ {tag} 0000", f"BQ {tag} 0001"]
    assert rows[-1]["Phone"] == ""  # null is an empty cell
    assert rows[0]["CreatedDate"].endswith("Z")
