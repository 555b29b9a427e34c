"""A system registered by another package's entry point is found everywhere systems are listed: the CLI, the
console's connection form and the conformance kit. (The README's "Adding an accounting system".)"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledgerlink.systems.registry import load_systems
from tests.web.console_helpers import serve_console, signed_in

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A directory on sys.path holding the distribution metadata of a package that registers ``fakebooks``."""
    site = tmp_path_factory.mktemp("site")
    info = site / "fakebooks_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakebooks-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[ledgerlink.systems]\nfakebooks = tests.plugins.fakebooks:SPEC\n")
    sys.path.insert(0, str(site))
    load_systems(refresh=True)
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        load_systems(refresh=True)


def _env(site: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}


def test_the_registry_finds_it(plugin_path: Path) -> None:
    systems = load_systems()
    assert systems["fakebooks"].role == "accounting"
    assert {"salesforce", "kashflow", "kashoo"} <= set(systems)


def test_connection_add_offers_it(plugin_path: Path) -> None:
    ledgerlink = Path(sys.executable).with_name("ledgerlink")
    shown = subprocess.run(
        [str(ledgerlink), "connection", "add", "--help"],
        env={**_env(plugin_path), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "fakebooks" in shown.stdout


def test_the_console_form_offers_it(plugin_path: Path, tmp_path: Path) -> None:
    with serve_console(tmp_path / "console") as served:
        client, _csrf = signed_in(served.url)
        with client:
            page = client.get("/connections")
    assert page.status_code == 200
    assert "<option>fakebooks</option>" in page.text
    assert 'name="secret_api_key"' in page.text  # its own credential fields


def test_the_conformance_kit_runs_it(plugin_path: Path) -> None:
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "tests/contract/test_contract.py"],
        cwd=ROOT,
        env=_env(plugin_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert "[fakebooks]" in collected.stdout
    # It has no sandbox to run against: the kit says so instead of passing it unseen.
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "tests/contract/test_contract.py", "-k", "fakebooks"],
        cwd=ROOT,
        env=_env(plugin_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode != 0
    assert "fakebooks is registered but has no sandbox" in ran.stdout
