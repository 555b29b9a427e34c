"""jsforce 3 logs in to the sandbox with each OAuth 2.0 flow it supports and finds out who it is."""

from __future__ import annotations

from typing import Any

from .conftest import JsSandbox, key_pair


def test_every_oauth_flow_reaches_the_same_user(make_js_sandbox: Any) -> None:
    private, public = key_pair()
    sandbox: JsSandbox = make_js_sandbox(jwt_certificate_pem=public)
    out = sandbox.run("jsforce_auth.mjs", privateKey=private)
    assert out["ok"], out
    result = out["result"]
    config = sandbox.box.config
    base = sandbox.box.base_url
    identity_url = f"{base}/id/{config.org_id}/{config.user_id}"

    assert result["password"]["instanceUrl"] == base
    for flow in ("password", "clientCredentials", "jwt", "bare"):
        session = result[flow]
        # jsforce parses the token response's "id" (or, for a bare token, the Identity URL it looked up).
        assert session["userInfo"] == {"id": config.user_id, "organizationId": config.org_id, "url": identity_url}
        assert session["identity"] == {
            "id": identity_url,
            "user_id": config.user_id,
            "organization_id": config.org_id,
            "username": config.username,
            "display_name": "Sandbox Admin",
            "rest": f"{base}/services/data/v{{version}}/",
        }, flow
        assert session["accountCount"] == 0

    refresh = result["refresh"]
    assert result["expired"] >= 1
    assert refresh == {"hadRefreshToken": True, "refreshed": 1, "users": 1, "newToken": True}

    assert result["revoked"]["ok"] is False
    assert result["revoked"]["error"]["errorCode"] == "INVALID_SESSION_ID"
    assert result["wrongPassword"]["error"]["name"] == "invalid_grant"
    assert result["unknownClient"]["error"]["name"] == "invalid_client_id"


def test_identity_and_userinfo_refuse_a_bad_token(js_sandbox: JsSandbox) -> None:
    """Both answer 403 ``Bad_OAuth_Token`` (not the REST API's 401) and cost no API call."""
    import requests

    box = js_sandbox.box
    assert box.server.tls is not None
    session = requests.Session()
    session.verify = str(box.server.tls.ca_file)
    session.trust_env = False
    config = box.config
    for path in (f"/id/{config.org_id}/{config.user_id}", "/services/oauth2/userinfo"):
        response = session.get(box.base_url + path, headers={"Authorization": "Bearer nonsense"})
        assert (response.status_code, response.text) == (403, "Bad_OAuth_Token")
    token = session.post(
        box.base_url + "/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": config.client_id, "client_secret": config.client_secret},
    ).json()["access_token"]
    used = js_sandbox.org.usage.used()
    info = session.get(box.base_url + "/services/oauth2/userinfo", params={"oauth_token": token}).json()
    assert (info["preferred_username"], info["organization_id"], info["user_id"]) == (
        config.username,
        config.org_id,
        config.user_id,
    )
    assert info["sub"] == f"{box.base_url}/id/{config.org_id}/{config.user_id}"
    other_user = session.get(
        box.base_url + f"/id/{config.org_id}/005000000000000AAA", headers={"Authorization": f"Bearer {token}"}
    )
    assert other_user.status_code == 404
    versioned = session.get(
        box.base_url + f"/id/{config.org_id[:15]}/{config.user_id}",
        params={"version": "latest"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert versioned["urls"]["rest"] == f"{box.base_url}/services/data/v{config.api_version}/"
    assert js_sandbox.org.usage.used() == used
    session.close()
