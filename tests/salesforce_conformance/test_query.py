"""SOQL over more than one 2,000-record page: both clients follow nextRecordsUrl to the end."""

from __future__ import annotations

import uuid

from .drivers import Driver, LedgerLinkDriver

COUNT = 2_150


def test_query_all_pages_through_more_than_2000_records(driver: Driver) -> None:
    tag = uuid.uuid4().hex[:8]
    ids = driver.insert_many("Account", [{"Name": f"Page {tag} {i:05d}"} for i in range(COUNT)])
    assert len(set(ids)) == COUNT
    calls_before = driver.client.usage.by_kind.get("query", 0) if isinstance(driver, LedgerLinkDriver) else 0

    records = driver.query_all(f"SELECT Id, Name FROM Account WHERE Name LIKE 'Page {tag} %' ORDER BY Name")

    assert len(records) == COUNT
    assert [r["Name"] for r in records] == [f"Page {tag} {i:05d}" for i in range(COUNT)]
    assert {r["Id"] for r in records} == set(ids)
    if isinstance(driver, LedgerLinkDriver):
        assert driver.client.usage.by_kind["query"] - calls_before == 2  # two pages, two calls
