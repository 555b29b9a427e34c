"""The next page of a pass read while the current one is settled (``flows/sync/read_ahead``): used only from the
position it was read after, and never at the cost of a change made after the read."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from ledgerlink.flows import customer_sync
from ledgerlink.flows.deps import current_deps
from ledgerlink.flows.sync import read_ahead
from tests.sync.conftest import SyncEnv


def test_a_page_read_ahead_is_taken_only_from_its_own_position() -> None:
    read_ahead.start("run-1", "mark", "p2", lambda: ["row"])
    assert read_ahead.take("run-1", "mark", "p1") is None  # the watermark is elsewhere: the step reads itself
    assert read_ahead.take("run-1", "mark", "p2") == ["row"]
    assert read_ahead.take("run-1", "mark", "p2") is None  # taken once


def test_a_failed_read_ahead_leaves_the_read_to_the_step() -> None:
    def fails() -> list[Any]:
        raise ConnectionError("dropped")

    read_ahead.start("run-2", "mark", "p2", fails)
    assert read_ahead.take("run-2", "mark", "p2") is None


def test_an_account_edited_after_its_page_was_read_ahead_reaches_the_books(
    env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = [env.make_account(f"Ahead {n} Ltd", code=f"AHEAD{n}") for n in range(5)]
    deps = current_deps()
    small = dataclasses.replace(deps, settings=dataclasses.replace(deps.settings, sync_page_size=2))
    monkeypatch.setattr(customer_sync, "current_deps", lambda *_: small)  # pages of two: several read ahead
    edited: list[str] = []
    start = read_ahead.start

    def start_then_edit(run_id: str, watermark: str, position: str, read: Callable[[], Any]) -> None:
        def read_then_edit() -> Any:
            rows = read()
            if watermark == customer_sync.WATERMARK and rows and not edited:
                # A person renames an Account of the page just read ahead, before the step that settles it.
                env.user.update("Account", rows[0]["Id"], {"Name": "Edited Meanwhile Ltd"})
                edited.append(rows[0]["Id"])
            return rows

        start(run_id, watermark, position, read_then_edit)

    monkeypatch.setattr(read_ahead, "start", start_then_edit)
    outcome = env.sync_customers()
    assert outcome["status"] == "synced"
    assert edited, "no page was read ahead"
    assert all(env.books_id(account) for account in accounts)
    books_id = env.books_id(edited[0])
    assert books_id is not None
    assert env.books_customer(books_id).name == "Edited Meanwhile Ltd"  # created as read, then updated
    assert env.account(edited[0])["Name"] == "Edited Meanwhile Ltd"
