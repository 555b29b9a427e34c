"""Fixtures: a Salesforce sandbox served over TLS on 127.0.0.1, and clients for it (simple-salesforce, requests)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce

from ledgerlink.sandbox._server import RunningServer, TLSFiles, serve_in_thread
from ledgerlink.sandbox._tls import make_tls_files
from ledgerlink.sandbox.salesforce import SalesforceOrg, SalesforceSandboxConfig, create_app


@dataclass
class Sandbox:
    server: RunningServer
    config: SalesforceSandboxConfig
    org: SalesforceOrg
    http: requests.Session

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def stop(self) -> None:
        # Close keep-alive connections first: uvicorn's graceful shutdown otherwise waits for them.
        self.http.close()
        self.server.server.force_exit = True
        self.server.stop()

    def url(self, path: str) -> str:
        return self.base_url + path

    def token(self, **extra: str) -> str:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            **extra,
        }
        response = self.http.post(self.url("/services/oauth2/token"), data=form)
        response.raise_for_status()
        return str(response.json()["access_token"])

    def sf(self, token: str | None = None) -> Salesforce:
        return Salesforce(instance_url=self.base_url, session_id=token or self.token(), session=self.http)

    def rest(
        self, method: str, path: str, token: str | None = None, client: str | None = None, **kwargs: Any
    ) -> requests.Response:
        """A raw REST call below /services/data/v59.0/."""
        headers = {"Authorization": f"Bearer {token or self.token()}"}
        if client:
            headers["Sforce-Call-Options"] = f"client={client}"
        return self.http.request(method, self.url(f"/services/data/v59.0/{path}"), headers=headers, **kwargs)


def _session(tls: TLSFiles) -> requests.Session:
    session = requests.Session()
    session.verify = str(tls.ca_file)
    # REQUESTS_CA_BUNDLE in the environment would otherwise override ``verify`` (and proxies could apply).
    session.trust_env = False
    return session


def _start(directory: Path, tls: TLSFiles, **overrides: Any) -> Sandbox:
    config = SalesforceSandboxConfig(data_path=directory / "org.sqlite3", **overrides)
    app = create_app(config)
    server = serve_in_thread(app, tls=tls, name="salesforce")
    org = app.app.state.org  # type: ignore[attr-defined]
    return Sandbox(server=server, config=config, org=org, http=_session(tls))


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("sf-tls"))


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory, tls_files: TLSFiles) -> Iterator[Sandbox]:
    """One org shared by the tests that only add records (they must not rely on counts of the whole org)."""
    box = _start(tmp_path_factory.mktemp("sf-shared"), tls_files)
    yield box
    box.stop()


@pytest.fixture
def fresh_sandbox(tmp_path: Path, tls_files: TLSFiles) -> Iterator[Sandbox]:
    """A new, empty org for tests that change limits, tokens or count records."""
    box = _start(tmp_path, tls_files)
    yield box
    box.stop()


@pytest.fixture
def make_sandbox(tmp_path: Path, tls_files: TLSFiles) -> Iterator[Any]:
    """A factory for orgs with non-default config (JWT certificate, small limits…)."""
    started: list[Sandbox] = []

    def make(**overrides: Any) -> Sandbox:
        box = _start(tmp_path / f"org{len(started)}", tls_files, **overrides)
        started.append(box)
        return box

    yield make
    for box in started:
        box.stop()


@pytest.fixture(scope="session")
def sf(sandbox: Sandbox) -> Salesforce:
    return sandbox.sf()
