"""LedgerLink's connector only: the three OAuth flows (each renewed after expiry), credentials from the
environment, and no secret in any repr or error message."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ledgerlink.sandbox.runner import Sandbox, start_sandbox
from ledgerlink.systems.errors import AuthenticationError, TransientError
from ledgerlink.systems.salesforce.auth import ClientCredentials, JwtBearer, RefreshToken, from_spec
from ledgerlink.systems.salesforce.client import SalesforceClient

from .admin import admin
from .drivers import http_session


@pytest.fixture(scope="module")
def rsa_pem() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture
def jwt_box(tmp_path: Path, rsa_pem: tuple[str, str]) -> Iterator[Sandbox]:
    box = start_sandbox("salesforce", tmp_path, tls=True, jwt_certificate_pem=rsa_pem[1])
    yield box
    box.server.server.force_exit = True
    box.stop()


def _spec(box: Sandbox, credentials: dict[str, str] | None) -> dict[str, object]:
    spec = box.describe()
    if credentials is None:
        spec.pop("credentials")
    else:
        spec["credentials"] = credentials
    return spec


def _survives_expiry(client: SalesforceClient, box: Sandbox) -> None:
    record_id = client.create("Account", {"Name": "Auth flow"})
    admin(box, "POST", "expire-tokens")
    assert client.get("Account", record_id)["Name"] == "Auth flow"


def test_jwt_bearer_flow_signs_in_and_renews(jwt_box: Sandbox, rsa_pem: tuple[str, str]) -> None:
    creds = jwt_box.credentials
    spec = _spec(jwt_box, {"client_id": creds["client_id"], "username": creds["username"], "private_key": rsa_pem[0]})
    client = SalesforceClient.from_spec(spec)
    try:
        assert isinstance(client.settings.auth, JwtBearer)
        _survives_expiry(client, jwt_box)
    finally:
        client.close()


def test_jwt_assertion_claims(rsa_pem: tuple[str, str]) -> None:
    flow = JwtBearer("consumer-key", "user@example.com", rsa_pem[0])
    now = time.time()
    token = flow.assertion("https://login.salesforce.com", now=now)
    claims = jwt.decode(token, rsa_pem[1], algorithms=["RS256"], audience="https://login.salesforce.com")
    assert claims["iss"] == "consumer-key" and claims["sub"] == "user@example.com"
    assert 0 < claims["exp"] - now <= 180
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


def test_bad_private_key_is_reported_without_key_material() -> None:
    flow = JwtBearer("consumer-key", "user@example.com", "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END")
    with pytest.raises(AuthenticationError) as caught:
        flow.assertion("https://login.salesforce.com")
    assert "bm90IGEga2V5" not in str(caught.value)


def test_refresh_token_flow_signs_in_and_renews(tmp_path: Path) -> None:
    box = start_sandbox("salesforce", tmp_path, tls=True)
    try:
        creds = box.credentials
        with http_session(box) as http:
            form = {
                "grant_type": "password",
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
                "username": creds["username"],
                "password": creds["password"],
            }
            refresh = http.post(box.base_url + "/services/oauth2/token", data=form).json()["refresh_token"]
        client = SalesforceClient.from_spec(_spec(box, {"client_id": creds["client_id"], "refresh_token": refresh}))
        try:
            assert isinstance(client.settings.auth, RefreshToken)
            _survives_expiry(client, box)
            assert refresh not in repr(client.settings)
        finally:
            client.close()
    finally:
        box.server.server.force_exit = True
        box.stop()


def test_credentials_from_environment(shared_box: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = shared_box.credentials
    monkeypatch.setenv("SF_ID", creds["client_id"])
    monkeypatch.setenv("SF_SECRET", creds["client_secret"])
    flow = from_spec(_spec(shared_box, {"client_id": "env:SF_ID", "client_secret": "env:SF_SECRET"}))
    assert flow == ClientCredentials(creds["client_id"], creds["client_secret"])

    monkeypatch.setenv("LEDGERLINK_SALESFORCE_CLIENT_ID", creds["client_id"])
    monkeypatch.setenv("LEDGERLINK_SALESFORCE_CLIENT_SECRET", creds["client_secret"])
    client = SalesforceClient.from_spec(_spec(shared_box, None))
    try:
        assert client.create("Account", {"Name": "From the environment"}).startswith("001")
    finally:
        client.close()


def test_missing_environment_variable_is_named_not_guessed() -> None:
    with pytest.raises(ValueError, match="NOT_SET_ANYWHERE"):
        from_spec({"credentials": {"client_id": "x", "client_secret": "env:NOT_SET_ANYWHERE"}}, environ={})
    with pytest.raises(ValueError, match="client_secret"):
        from_spec({"credentials": {"client_id": "x"}}, environ={})


def test_secrets_stay_out_of_reprs_and_errors(shared_box: Sandbox) -> None:
    secret = "s3cr3t-value-that-must-not-leak"
    spec = _spec(shared_box, {"client_id": shared_box.credentials["client_id"], "client_secret": secret})
    client = SalesforceClient.from_spec(spec)
    try:
        assert secret not in repr(client.settings) and secret not in repr(client.settings.auth)
        with pytest.raises(AuthenticationError) as caught:
            client.create("Account", {"Name": "never"})
        assert secret not in str(caught.value) and "invalid_client" in str(caught.value)
    finally:
        client.close()
    assert "BEGIN" not in repr(JwtBearer("id", "user", "-----BEGIN PRIVATE KEY-----"))
    assert "tok-123" not in repr(RefreshToken("id", "tok-123", "sec-456"))


def test_token_endpoint_outage_is_transient() -> None:
    def outage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="maintenance")

    flow = ClientCredentials("id", "secret")
    http = httpx.Client(base_url="https://login.example", transport=httpx.MockTransport(outage))
    with http, pytest.raises(TransientError):
        flow.fetch_token(http)
