"""Fixtures: LedgerLink's Salesforce metadata, and Salesforce sandboxes built from it, served over TLS on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ledgerlink.sandbox.runner import Sandbox, start_sandbox
from ledgerlink.systems.salesforce import SalesforceClient
from ledgerlink.systems.salesforce.org_check import locate_metadata


@pytest.fixture(scope="session")
def metadata_root() -> Path:
    return locate_metadata()


@pytest.fixture
def start_org(tmp_path: Path) -> Iterator[Callable[..., Sandbox]]:
    """Start a Salesforce sandbox with config overrides (``not_deployed``, ``metadata_dir``, …)."""
    started: list[Sandbox] = []

    def start(*, tls: bool = True, **overrides: Any) -> Sandbox:
        box = start_sandbox("salesforce", tmp_path / f"org{len(started)}", tls=tls, **overrides)
        started.append(box)
        return box

    yield start
    for box in started:
        box.stop()


def connections_file(box: Sandbox, directory: Path) -> Path:
    """The connection as `ledgerlink sandbox run` prints it, in a file for ``--connections``."""
    path = directory / f"connections-{box.server.port}.json"
    path.write_text(json.dumps([box.describe()]))
    return path


def describe(box: Sandbox, sobject: str) -> dict[str, Any]:
    client = SalesforceClient.from_spec(box.describe())
    try:
        body: dict[str, Any] = client.request("GET", f"sobjects/{sobject}/describe").json()
        return body
    finally:
        client.close()
