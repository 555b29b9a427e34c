"""OAuth 2.0 grants, sessions, and the daily API allocation."""

from __future__ import annotations

import base64
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceRefusedRequest

from .conftest import Sandbox


def token_call(box: Sandbox, **form: str) -> Any:
    return box.http.post(box.url("/services/oauth2/token"), data=form)


def test_client_credentials_in_body_gives_the_reference_response_shape(sandbox: Sandbox) -> None:
    cfg = sandbox.config
    response = token_call(
        sandbox, grant_type="client_credentials", client_id=cfg.client_id, client_secret=cfg.client_secret
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "instance_url", "id", "token_type", "issued_at", "signature", "scope"}
    assert body["instance_url"] == sandbox.base_url and body["token_type"] == "Bearer"
    assert body["id"] == f"{sandbox.base_url}/id/{cfg.org_id}/{cfg.user_id}"
    assert body["issued_at"].isdigit()


def test_client_credentials_with_basic_auth(sandbox: Sandbox) -> None:
    cfg = sandbox.config
    basic = base64.b64encode(f"{cfg.client_id}:{cfg.client_secret}".encode()).decode()
    response = sandbox.http.post(
        sandbox.url("/services/oauth2/token"),
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200 and response.json()["access_token"]


def test_oauth_errors(sandbox: Sandbox) -> None:
    cfg = sandbox.config
    wrong = token_call(sandbox, grant_type="client_credentials", client_id=cfg.client_id, client_secret="nope")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_client"
    odd = token_call(sandbox, grant_type="authorization_code", code="x")
    assert odd.status_code == 400 and odd.json()["error"] == "unsupported_grant_type"
    bad_password = token_call(
        sandbox,
        grant_type="password",
        client_id=cfg.client_id,
        client_secret=cfg.client_secret,
        username=cfg.username,
        password="wrong",
    )
    assert bad_password.json() == {"error": "invalid_grant", "error_description": "authentication failure"}


def test_password_grant_issues_a_refresh_token_that_mints_new_access_tokens(sandbox: Sandbox) -> None:
    cfg = sandbox.config
    first = token_call(
        sandbox,
        grant_type="password",
        client_id=cfg.client_id,
        client_secret=cfg.client_secret,
        username=cfg.username,
        password=cfg.password,
    ).json()
    refreshed = token_call(
        sandbox,
        grant_type="refresh_token",
        refresh_token=first["refresh_token"],
        client_id=cfg.client_id,
        client_secret=cfg.client_secret,
    )
    assert refreshed.status_code == 200
    new_token = refreshed.json()["access_token"]
    assert new_token != first["access_token"] and "refresh_token" not in refreshed.json()
    assert sandbox.rest("GET", "limits/", token=new_token).status_code == 200
    stale = token_call(sandbox, grant_type="refresh_token", refresh_token="nope", client_id=cfg.client_id)
    assert stale.json()["error"] == "invalid_grant"


def _key_pair() -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def test_jwt_bearer_grant(make_sandbox: Any) -> None:
    private, public = _key_pair()
    box: Sandbox = make_sandbox(jwt_certificate_pem=public)
    cfg = box.config
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

    def assertion(**claims: Any) -> str:
        base = {
            "iss": cfg.client_id,
            "sub": cfg.username,
            "aud": "https://login.salesforce.com",
            "exp": int(time.time()) + 120,
        }
        return jwt.encode({**base, **claims}, private, algorithm="RS256")

    ok = token_call(box, grant_type=grant, assertion=assertion())
    assert ok.status_code == 200, ok.text
    assert box.rest("GET", "limits/", token=ok.json()["access_token"]).status_code == 200
    assert "refresh_token" not in ok.json()

    assert token_call(box, grant_type=grant, assertion=assertion(sub="someone@else")).json()["error"] == "invalid_grant"
    assert (
        token_call(box, grant_type=grant, assertion=assertion(iss="other-app")).json()["error"] == "invalid_client_id"
    )
    assert token_call(box, grant_type=grant, assertion=assertion(aud="https://evil")).json()["error"] == "invalid_grant"
    too_long = token_call(box, grant_type=grant, assertion=assertion(exp=int(time.time()) + 3600))
    assert too_long.json()["error"] == "invalid_grant"
    expired = token_call(box, grant_type=grant, assertion=assertion(exp=int(time.time()) - 60))
    assert expired.json()["error"] == "invalid_grant"
    other_private, _ = _key_pair()
    forged = jwt.encode(
        {
            "iss": cfg.client_id,
            "sub": cfg.username,
            "aud": "https://login.salesforce.com",
            "exp": int(time.time()) + 60,
        },
        other_private,
        algorithm="RS256",
    )
    assert token_call(box, grant_type=grant, assertion=forged).json()["error"] == "invalid_grant"


def test_expired_session_raises_salesforce_expired_session(fresh_sandbox: Sandbox) -> None:
    sf = fresh_sandbox.sf()
    sf.Account.create({"Name": "Before expiry"})
    fresh_sandbox.http.post(fresh_sandbox.url("/__admin/expire-tokens")).raise_for_status()
    with pytest.raises(SalesforceExpiredSession) as err:
        sf.Account.create({"Name": "After expiry"})
    assert err.value.content == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    garbage = fresh_sandbox.rest("GET", "limits/", token="00Dxx!nonsense")
    assert garbage.status_code == 401 and garbage.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_token_ttl_is_enforced(make_sandbox: Any) -> None:
    box: Sandbox = make_sandbox(token_ttl_seconds=1)
    token = box.token()
    assert box.rest("GET", "limits/", token=token).status_code == 200
    time.sleep(1.1)
    assert box.rest("GET", "limits/", token=token).status_code == 401


def test_api_usage_is_counted_and_reported(fresh_sandbox: Sandbox) -> None:
    sf = fresh_sandbox.sf()
    sf.query("SELECT Id FROM Account")
    first = sf.api_usage["api-usage"]
    assert first.total == 15000
    sf.query("SELECT Id FROM Account")
    assert sf.api_usage["api-usage"].used == first.used + 1
    limits = fresh_sandbox.rest("GET", "limits/")
    used = int(limits.headers["Sforce-Limit-Info"].split("=")[1].split("/")[0])
    assert limits.json()["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - used}


def test_request_limit_exceeded_after_the_daily_allocation(fresh_sandbox: Sandbox) -> None:
    box = fresh_sandbox
    box.http.post(box.url("/__admin/daily-limit"), json={"limit": 3}).raise_for_status()
    box.http.post(box.url("/__admin/reset-api-usage")).raise_for_status()
    sf = box.sf()
    for n in range(3):
        sf.Account.create({"Name": f"Within {n}"})
    with pytest.raises(SalesforceRefusedRequest) as err:
        sf.Account.create({"Name": "Over"})
    assert err.value.status == 403
    assert err.value.content == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    # OAuth is not counted, and an admin reset restores service.
    box.token()
    box.http.post(box.url("/__admin/reset-api-usage")).raise_for_status()
    sf.query("SELECT Id FROM Account")
    assert sf.api_usage["api-usage"].used == 1 and sf.api_usage["api-usage"].total == 3
