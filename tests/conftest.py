"""Fixtures shared by the whole suite: sandboxes over real HTTP on loopback, and a started LedgerLink runtime."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests must never read a developer's own ledger or mappings.
os.environ.pop("LEDGERLINK_DATABASE_URL", None) if os.environ.get("LEDGERLINK_TEST_KEEP_DB_URL") is None else None


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    del config, items


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run each test in its own directory so `.ledgerlink/` and user mappings never leak between tests."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LEDGERLINK_MAPPINGS_DIR", raising=False)
    yield


def pytest_configure(config: pytest.Config) -> None:
    """Every system's templates and schema, as the CLI, the console and the engine load them at start (some test
    modules list the templates as they are collected)."""
    del config
    from ledgerlink.systems.registry import load_systems

    load_systems()
