"""KashFlow's two-step login, idle expiry, revocation and lock-out, over real HTTP."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from ledgerlink.sandbox import kashflow
from ledgerlink.sandbox._server import RunningServer


def _step1(base: str, password: str) -> httpx.Response:
    return httpx.post(f"{base}/v2/sessiontoken", json={"username": "ADMIN", "password": password})


def test_login_dance_gives_a_working_token(kf_server: RunningServer, kf_config: kashflow.KashFlowSandboxConfig) -> None:
    creds = kashflow.credentials(kf_config)
    first = _step1(kf_server.base_url, creds["password"]).json()
    positions = [p["Position"] for p in first["MemorableWordList"]]
    assert len(set(positions)) == 3
    assert all(1 <= p <= len(creds["memorable_word"]) for p in positions)
    assert all(p["Value"] == "" for p in first["MemorableWordList"])
    letters = [{"position": p, "value": creds["memorable_word"][p - 1].upper()} for p in positions]  # case-insensitive
    second = httpx.put(
        f"{kf_server.base_url}/v2/sessiontoken",
        json={"temporaryToken": first["TemporaryToken"], "memorableWordList": letters},
    )
    assert second.status_code == 200, second.text
    token = second.json()["SessionToken"]
    ok = httpx.get(f"{kf_server.base_url}/v2/customers", headers={"Authorization": f"KfToken {token}"})
    assert ok.status_code == 200


def test_bad_password_and_missing_token(kf_server: RunningServer) -> None:
    bad = _step1(kf_server.base_url, "wrong")
    assert bad.status_code == 400
    assert bad.json()["Error"] == "InvalidCredentials"
    anon = httpx.get(f"{kf_server.base_url}/v2/customers")
    assert anon.status_code == 401
    assert anon.json() == {"Error": "InvalidSessionToken", "Message": "Session token provided is invalid."}


def test_wrong_memorable_letters_burn_the_temporary_token(
    kf_server: RunningServer, kf_config: kashflow.KashFlowSandboxConfig
) -> None:
    first = _step1(kf_server.base_url, kf_config.password).json()
    wrong = [{"Position": p["Position"], "Value": "#"} for p in first["MemorableWordList"]]
    body = {"TemporaryToken": first["TemporaryToken"], "MemorableWordList": wrong}
    response = httpx.put(f"{kf_server.base_url}/v2/sessiontoken", json=body)
    assert response.status_code == 400
    assert response.json()["Error"] == "InvalidMemorableWord"
    again = httpx.put(f"{kf_server.base_url}/v2/sessiontoken", json=body)
    assert again.json()["Error"] == "InvalidTemporaryToken"


def test_account_locks_after_repeated_failures(
    kf_server: RunningServer, kf_config: kashflow.KashFlowSandboxConfig, kf_admin: httpx.Client
) -> None:
    errors = [_step1(kf_server.base_url, "nope").json()["Error"] for _ in range(kf_config.max_login_failures)]
    assert errors[-1] == "AccountLocked"
    assert set(errors[:-1]) == {"InvalidCredentials"}
    assert _step1(kf_server.base_url, kf_config.password).json()["Error"] == "AccountLocked"
    kf_admin.post("/__admin/advance-clock", json={"seconds": kf_config.lockout_minutes * 60 + 1})
    assert _step1(kf_server.base_url, kf_config.password).status_code == 200


def test_idle_expiry_and_activity_keeps_the_session(kf: httpx.Client, kf_admin: httpx.Client) -> None:
    kf_admin.post("/__admin/advance-clock", json={"seconds": 59 * 60})
    assert kf.get("/customers").status_code == 200  # use resets the idle timer
    kf_admin.post("/__admin/advance-clock", json={"seconds": 59 * 60})
    assert kf.get("/customers").status_code == 200
    kf_admin.post("/__admin/advance-clock", json={"seconds": 60 * 60 + 1})
    expired = kf.get("/customers")
    assert expired.status_code == 401
    assert expired.json()["Error"] == "InvalidSessionToken"


def test_admin_expiry_and_revocation(
    kf: httpx.Client,
    kf_admin: httpx.Client,
    kf_server: RunningServer,
    kf_config: kashflow.KashFlowSandboxConfig,
    kf_login: Callable[[str, dict[str, str]], str],
) -> None:
    kf_admin.post("/__admin/expire-sessions")
    assert kf.get("/customers").status_code == 401
    token = kf_login(kf_server.base_url, kashflow.credentials(kf_config))
    headers = {"Authorization": f"KfToken {token}"}
    assert httpx.get(f"{kf_server.base_url}/v2/vatrates", headers=headers).status_code == 200
    assert httpx.delete(f"{kf_server.base_url}/v2/sessiontoken/{token}").status_code == 204
    assert httpx.get(f"{kf_server.base_url}/v2/vatrates", headers=headers).status_code == 401
