"""Create, read, update, delete and upsert behave the same through both clients."""

from __future__ import annotations

import uuid

import pytest

from .drivers import Driver


def _tag() -> str:
    return uuid.uuid4().hex[:10]


def test_create_read_update_delete(driver: Driver) -> None:
    name = f"CRUD {_tag()}"
    record_id = driver.create("Account", {"Name": name, "BillingCity": "Leeds"})
    assert record_id.startswith("001") and len(record_id) == 18

    record = driver.get("Account", record_id)
    assert record["Name"] == name and record["BillingCity"] == "Leeds"
    assert record["attributes"]["type"] == "Account"

    driver.update("Account", record_id, {"BillingCity": "York", "Phone": "0113 496 0000"})
    record = driver.get("Account", record_id)
    assert (record["BillingCity"], record["Phone"]) == ("York", "0113 496 0000")

    driver.delete("Account", record_id)
    with pytest.raises(driver.not_found):
        driver.get("Account", record_id)


def test_validation_errors_are_refused(driver: Driver) -> None:
    with pytest.raises(Exception) as caught:
        driver.create("Account", {"BillingCity": "Leeds"})  # Name is required
    assert "REQUIRED_FIELD_MISSING" in str(caught.value)


def test_upsert_creates_then_updates(driver: Driver) -> None:
    code = f"EXT-{_tag()}"
    first_id, created = driver.upsert("Account", "ExternalID__c", code, {"Name": "Upserted"})
    assert created is True
    second_id, created = driver.upsert("Account", "ExternalID__c", code, {"Name": "Upserted again"})
    assert created is False
    assert second_id == first_id
    assert driver.get("Account", first_id)["Name"] == "Upserted again"
