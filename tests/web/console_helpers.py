"""Serving the console over real HTTP on 127.0.0.1 and signing in as a browser would."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI

from ledgerlink.sandbox._server import RunningServer, serve_in_thread
from ledgerlink.store import Ledger
from ledgerlink.web import ConsoleSettings, create_app
from ledgerlink.web.console import Console

ADMIN = ("ada", "correct horse battery")
VIEWER = ("vic", "viewer password 1")


@dataclass
class Served:
    app: FastAPI
    server: RunningServer
    data_dir: Path

    @property
    def url(self) -> str:
        return self.server.base_url

    @property
    def console(self) -> Console:
        c: Console = self.app.state.console
        return c


@contextmanager
def serve_console(
    data_dir: Path, ledger: Ledger | None = None, outbound_allow: tuple[str, ...] = ("127.0.0.0/8",)
) -> Iterator[Served]:
    """``outbound_allow``: the sandboxes run on loopback, which the console may only reach when allowed."""
    data_dir.mkdir(parents=True, exist_ok=True)
    url = ledger.url if ledger else f"sqlite:///{(data_dir / 'ledgerlink.db').resolve()}"
    settings = ConsoleSettings(data_dir=data_dir, database_url=url, outbound_allow=outbound_allow)
    app = create_app(settings, ledger=ledger)
    console: Console = app.state.console
    console.users.add(*ADMIN, role="admin")
    console.users.add(*VIEWER, role="viewer")
    server = serve_in_thread(app, name="console")
    try:
        yield Served(app, server, data_dir)
    finally:
        server.stop()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def signed_in(base_url: str, who: tuple[str, str] = ADMIN) -> tuple[httpx.Client, str]:
    """A client with a session cookie, and the session's CSRF token."""
    client = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30)
    page = client.get("/signin")
    response = client.post("/signin", data={"username": who[0], "password": who[1], "csrf_token": csrf_of(page.text)})
    assert response.status_code == 303, response.text
    overview = client.get("/")
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', overview.text)
    assert found
    fresh = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30, cookies=dict(client.cookies))
    client.close()
    return fresh, found.group(1)  # unopened, so callers can use it in a ``with`` block


def api_token(base_url: str, who: tuple[str, str] = ADMIN) -> str:
    client, csrf = signed_in(base_url, who)
    with client:
        response = client.post("/api/tokens", json={"name": "tests"}, headers={"X-CSRF-Token": csrf})
        assert response.status_code == 201, response.text
        return str(response.json()["token"])
