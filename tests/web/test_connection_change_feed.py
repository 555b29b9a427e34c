"""The connections page and API show what the service did with the connector's change feed (honoured, ignored or
rejected, the mode it led to, and why): learnt by the connection's Test, or noted by a worker sharing the ledger.
Over real HTTP: the console on one port, the Kashoo sandbox on another, its feed switched by /__admin/behaviour."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerlink.connections.build import build_accounting
from ledgerlink.model import Customer
from ledgerlink.sandbox.runner import Sandbox
from tests.sandboxes import sandbox_running
from tests.web.console_helpers import VIEWER, Served, serve_console, signed_in

NAME = "kashoo-main"


@pytest.fixture
def kashoo(tmp_path: Path) -> Iterator[Sandbox]:
    with sandbox_running("kashoo", tmp_path / "sandbox") as sandbox:
        yield sandbox


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with serve_console(tmp_path / "console") as console:
        yield console


def _behave(sandbox: Sandbox, change_feed: str) -> None:
    answer = httpx.put(f"{sandbox.base_url}/__admin/behaviour", json={"change_feed": change_feed})
    answer.raise_for_status()


def _feed(client: httpx.Client) -> dict[str, Any]:
    answer = client.get(f"/api/connections/{NAME}")
    assert answer.status_code == 200, answer.text
    feed: dict[str, Any] = answer.json()["change_feed"]
    return feed


def _feed_cell(page: str) -> str:
    found = re.search(r'<td class="change-feed">(.*?)</td>', page, re.S)
    assert found, "no change-feed cell on the connections page"
    return re.sub(r"\s+", " ", found.group(1))


def test_the_test_button_finds_a_rejected_feed_and_the_page_says_so(served: Served, kashoo: Sandbox) -> None:
    spec = kashoo.describe()
    client, csrf = signed_in(served.url)
    headers = {"X-CSRF-Token": csrf}
    with client:
        body = {"name": NAME, "system": "kashoo", "base_url": spec["base_url"], "secrets": spec["credentials"]}
        assert client.post("/api/connections", json=body, headers=headers).status_code == 201
        assert client.get(f"/api/connections/{NAME}").json()["change_feed"] is None
        assert "not read yet" in _feed_cell(client.get("/connections").text)

        _behave(kashoo, "rejected")
        assert client.post(f"/api/connections/{NAME}/test", headers=headers).json()["ok"] is True
        feed = _feed(client)
        assert (feed["parameter"], feed["state"], feed["mode"]) == ("modifiedSince", "rejected", "listing")
        assert "rejected modifiedSince" in feed["reason"]
        cell = _feed_cell(client.get("/connections").text)
        assert "full listings" in cell and "rejected" in cell and "rejected modifiedSince" in cell

        _behave(kashoo, "honoured")
        assert client.post(f"/api/connections/{NAME}/test", headers=headers).json()["ok"] is True
        feed = _feed(client)
        assert (feed["state"], feed["mode"]) == ("honoured", "feed")
        assert "honoured" in _feed_cell(client.get("/connections").text)

    viewer, _ = signed_in(served.url, VIEWER)
    with viewer:
        served.console.connections.record_change_feed(
            NAME, {"parameter": "modifiedSince", "state": "rejected", "mode": "listing", "reason": "server said: x"}
        )
        feed = _feed(viewer)
        assert feed["state"] == "rejected" and "server said" not in feed["reason"]  # viewers don't see the reply


def test_a_worker_sharing_the_ledger_notes_an_ignored_feed_for_the_console(served: Served, kashoo: Sandbox) -> None:
    spec = kashoo.describe()
    client, csrf = signed_in(served.url)
    with client:
        body = {"name": NAME, "system": "kashoo", "base_url": spec["base_url"], "secrets": spec["credentials"]}
        assert client.post("/api/connections", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
        _behave(kashoo, "ignored")
        books = build_accounting(spec, ledger_url=served.console.ledger.url)  # as the engine builds a worker's
        try:
            books.create_customer(Customer(code="FEED-1", name="Feed One Ltd"))
            later = str(10**13)  # epoch ms far ahead: every contact is older, and Kashoo (here) sends them anyway
            changed, _ = books.customers_changed_since(later)
            assert changed == []  # the fallback filtered them out
        finally:
            books.close()
        feed = _feed(client)
        assert (feed["state"], feed["mode"]) == ("ignored", "listing")
        assert "ignored modifiedSince" in feed["reason"]
        assert "full listings" in _feed_cell(client.get("/connections").text)
