"""Fixtures: each sandbox served over real HTTP on 127.0.0.1, with a fresh SQLite file per test."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerlink.sandbox import kashflow, kashoo
from ledgerlink.sandbox._server import RunningServer, serve_in_thread


@pytest.fixture
def serve() -> Iterator[Callable[[Any], RunningServer]]:
    running: list[RunningServer] = []

    def start(app: Any) -> RunningServer:
        server = serve_in_thread(app, name="accounting-test")
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()


def kashflow_login(base: str, creds: dict[str, str]) -> str:
    """The two-step dance; returns the session token."""
    step1 = httpx.post(f"{base}/v2/sessiontoken", json={"UserName": creds["username"], "Password": creds["password"]})
    step1.raise_for_status()
    word = creds["memorable_word"]
    letters = [{"Position": p["Position"], "Value": word[p["Position"] - 1]} for p in step1.json()["MemorableWordList"]]
    step2 = httpx.put(
        f"{base}/v2/sessiontoken",
        json={"TemporaryToken": step1.json()["TemporaryToken"], "MemorableWordList": letters},
    )
    step2.raise_for_status()
    return str(step2.json()["SessionToken"])


@pytest.fixture
def kf_login() -> Callable[[str, dict[str, str]], str]:
    return kashflow_login


@pytest.fixture
def kf_config(tmp_path: Path) -> kashflow.KashFlowSandboxConfig:
    return kashflow.KashFlowSandboxConfig(data_path=tmp_path / "kashflow.sqlite3")


@pytest.fixture
def kf_server(serve: Callable[[Any], RunningServer], kf_config: kashflow.KashFlowSandboxConfig) -> RunningServer:
    return serve(kashflow.create_app(kf_config))


@pytest.fixture
def kf(kf_server: RunningServer, kf_config: kashflow.KashFlowSandboxConfig) -> Iterator[httpx.Client]:
    """A logged-in client whose base URL is the sandbox's ``/v2``."""
    token = kashflow_login(kf_server.base_url, kashflow.credentials(kf_config))
    with httpx.Client(
        base_url=f"{kf_server.base_url}/v2", headers={"Authorization": f"KfToken {token}"}, timeout=10
    ) as client:
        yield client


@pytest.fixture
def kf_admin(kf_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=kf_server.base_url, timeout=10) as client:
        yield client


def kashoo_token(base: str, creds: dict[str, str]) -> dict[str, Any]:
    response = httpx.post(f"{base}/api/authTokens", data={"email": creds["email"], "password": creds["password"]})
    response.raise_for_status()
    token: dict[str, Any] = response.json()
    return token


def kashoo_header(token: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": "TOKEN json:" + json.dumps(token)}


@pytest.fixture
def ko_config(tmp_path: Path) -> kashoo.KashooSandboxConfig:
    # Tests that are not about rate limiting run without one; the limiter has its own tests.
    return kashoo.KashooSandboxConfig(data_path=tmp_path / "kashoo.sqlite3", rate_limit=None)


@pytest.fixture
def ko_server(serve: Callable[[Any], RunningServer], ko_config: kashoo.KashooSandboxConfig) -> RunningServer:
    return serve(kashoo.create_app(ko_config))


@pytest.fixture
def ko(ko_server: RunningServer, ko_config: kashoo.KashooSandboxConfig) -> Iterator[httpx.Client]:
    """A client with a valid token whose base URL is ``/api/businesses/{id}``."""
    token = kashoo_token(ko_server.base_url, kashoo.credentials(ko_config))
    headers = kashoo_header(token)
    business = httpx.get(f"{ko_server.base_url}/api/users/me/businesses", headers=headers).json()[0]["id"]
    with httpx.Client(base_url=f"{ko_server.base_url}/api/businesses/{business}", headers=headers, timeout=10) as c:
        yield c


@pytest.fixture
def ko_admin(ko_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ko_server.base_url, timeout=10) as client:
        yield client


@pytest.fixture
def ko_auth() -> Callable[[str, dict[str, str]], dict[str, str]]:
    """Log in to a Kashoo sandbox at ``base`` and return the Authorization header."""
    return lambda base, creds: kashoo_header(kashoo_token(base, creds))
