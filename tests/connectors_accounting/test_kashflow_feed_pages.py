"""KashFlow's change feed reads a page of changed customers in one listing call: the rows re-read at the
watermark's second and a page of new ones come in one listing page, and a full page ends at its last new row
instead of fetching one more. Real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledgerlink.connections.build import build_accounting
from ledgerlink.model import Customer
from ledgerlink.sandbox.runner import Sandbox
from ledgerlink.systems.kashflow.books import KashFlowBooks
from tests.sandboxes import sandbox_running


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with sandbox_running("kashflow", tmp_path / "sandbox") as running:
        yield running


def test_each_page_of_changes_is_one_listing_call(sandbox: Sandbox) -> None:
    books = build_accounting(sandbox.describe())
    assert isinstance(books, KashFlowBooks)
    try:
        codes = [f"FEED{n}" for n in range(6)]
        for code in codes:  # each at a second of its own
            books.create_customer(Customer(code=code, name=f"{code} Ltd"))
            httpx.post(f"{sandbox.base_url}/__admin/advance-clock", json={"seconds": 2}).raise_for_status()
        pages: list[list[str]] = []
        calls: list[int] = []
        mark, more = None, True
        while more:
            before = books.api_calls()
            page, mark, more = books.customers_changed(mark, 2, None)
            calls.append(books.api_calls() - before)
            pages.append([code for code, _customer in page])
        # The last row of a page is read again with the next (its second may hold more changes); nothing is missed.
        assert pages == [["FEED0", "FEED1"], ["FEED1", "FEED2", "FEED3"], ["FEED3", "FEED4", "FEED5"], ["FEED5"]]
        assert calls == [1, 1, 1, 1]
    finally:
        books.close()
