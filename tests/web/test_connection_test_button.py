"""The console's "Test" button signs in and reads, for every registered system with a sandbox: over real HTTP, the
console on one port and each sandbox on its own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledgerlink.sandbox.runner import SandboxSet, sandbox_systems, start_sandboxes
from ledgerlink.systems.registry import names
from tests.web.console_helpers import Served, serve_console, signed_in


@pytest.fixture
def sandboxes(tmp_path: Path) -> Iterator[SandboxSet]:
    running = start_sandboxes(sandbox_systems(), tmp_path / "sandboxes")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with serve_console(tmp_path / "console") as console:
        yield console


def _add_form(page: str, system: str, base_url: str, credentials: dict[str, str], csrf: str) -> dict[str, str]:
    """The add form filled in as a person would: the fields the form asks for, from what the sandbox prints."""
    asked = set(re.findall(r'name="secret_([a-z_]+)"', page))
    form = {"name": f"{system}-main", "system": system, "base_url": base_url, "csrf_token": csrf}
    form.update({f"secret_{k}": v for k, v in credentials.items() if k in asked})
    return form


def test_the_test_button_works_for_every_system(served: Served, sandboxes: SandboxSet) -> None:
    assert set(names()) <= set(sandboxes.sandboxes), "every registered system here has a sandbox"
    client, csrf = signed_in(served.url)
    with client:
        for system in names():
            spec = sandboxes[system].describe()
            page = client.get("/connections").text
            added = client.post(
                "/connections", data=_add_form(page, system, spec["base_url"], spec["credentials"], csrf)
            )
            assert added.status_code == 200, added.text
            tested = client.post(f"/connections/{system}-main/test", data={"csrf_token": csrf})
            assert tested.status_code == 200
            assert f"{system}-main: working" in tested.text, re.findall(rf"{system}-main: [^<]*", tested.text)
        for system in names():
            answer = client.post(f"/api/connections/{system}-main/test", headers={"X-CSRF-Token": csrf})
            assert answer.json()["ok"] is True, answer.text


def test_a_wrong_url_is_reported_failing(served: Served, sandboxes: SandboxSet) -> None:
    """A 404 at sign-in (the URL of some other service) is a failure, not "customer not found"."""
    client, csrf = signed_in(served.url)
    with client:
        for system in names("accounting"):
            spec = sandboxes[system].describe()
            wrong = spec["base_url"].rsplit("/", 1)[0] + "/not-the-api"
            page = client.get("/connections").text
            form = _add_form(page, system, wrong, spec["credentials"], csrf)
            form["name"] = f"{system}-wrong"
            assert client.post("/connections", data=form).status_code == 200
            answer = client.post(f"/api/connections/{system}-wrong/test", headers={"X-CSRF-Token": csrf})
            assert answer.json()["ok"] is False, answer.text
