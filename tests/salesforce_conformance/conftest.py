"""The Salesforce conformance suite: every test runs twice, through simple-salesforce 1.12 (a real client, to
check the sandbox) and through LedgerLink's own connector (to check it against the same behaviours).

Sandboxes are served over TLS (simple-salesforce only builds https:// URLs); ``shared`` holds one org for tests
that only add records under their own names, ``fresh`` gives a new org to tests that expire tokens or cap limits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ledgerlink.sandbox.runner import Sandbox, start_sandbox

from .drivers import DRIVERS, Driver, make_driver


def _stop(box: Sandbox) -> None:
    box.server.server.force_exit = True  # don't wait for keep-alive connections to close
    box.stop()


@pytest.fixture(scope="session")
def shared_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    box = start_sandbox("salesforce", tmp_path_factory.mktemp("sf-conformance"), tls=True)
    yield box
    _stop(box)


@pytest.fixture
def fresh_box(tmp_path: Path) -> Iterator[Sandbox]:
    box = start_sandbox("salesforce", tmp_path, tls=True)
    yield box
    _stop(box)


@pytest.fixture(params=DRIVERS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_driver(kind: str) -> Iterator[Callable[[Sandbox], Driver]]:
    opened: list[Driver] = []

    def make(box: Sandbox) -> Driver:
        driver = make_driver(kind, box)
        opened.append(driver)
        return driver

    yield make
    for driver in opened:
        driver.close()


@pytest.fixture
def driver(open_driver: Callable[[Sandbox], Driver], shared_box: Sandbox) -> Driver:
    return open_driver(shared_box)


@pytest.fixture
def fresh(open_driver: Callable[[Sandbox], Driver], fresh_box: Sandbox) -> Driver:
    return open_driver(fresh_box)
