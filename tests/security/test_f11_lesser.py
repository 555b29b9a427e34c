"""Finding 11, the lesser issues: user management and password strength, names ending in a newline, /metrics
series from made-up methods, secret masking, Secure cookies over https, and the session idle timeout. (Webhook,
viewer-visibility, huge-id, terminal-escape, key-file and file-mode items are in the modules of findings 2, 3, 7
and 10.)"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ledgerlink.cli import app as cli_app
from ledgerlink.connections.store import NAME_RE
from ledgerlink.logs import MASK, redact, register_secret
from ledgerlink.mapping.paths import _SEGMENT
from ledgerlink.store import Ledger, database_url
from ledgerlink.web.services.users import UserError, Users, check_password
from tests.web.console_helpers import ADMIN, Served, api_token, csrf_of


def _signin(url: str, who: tuple[str, str]) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=30) as client:
        page = client.get("/signin")
        return client.post("/signin", data={"username": who[0], "password": who[1], "csrf_token": csrf_of(page.text)})


def test_admins_disable_repassword_and_revoke_over_the_api(served: Served) -> None:
    who = ("mallory", "a long first passphrase")
    pk = served.console.users.add(*who, role="viewer")
    _id, mallory_token = served.console.users.create_token(pk, "mallory's")
    admin = {"Authorization": f"Bearer {api_token(served.url)}"}
    mine = {"Authorization": f"Bearer {mallory_token}"}
    assert httpx.get(f"{served.url}/api/me", headers=mine).status_code == 200
    assert httpx.get(f"{served.url}/api/users", headers=mine).status_code == 403  # viewers don't list users

    revoked = httpx.post(f"{served.url}/api/users/mallory/revoke-tokens", headers=admin)
    assert revoked.status_code == 200 and "revoked 1" in revoked.json()["detail"]
    assert httpx.get(f"{served.url}/api/me", headers=mine).status_code == 401

    weak = httpx.put(f"{served.url}/api/users/mallory/password", json={"password": "short"}, headers=admin)
    assert weak.status_code == 400
    new = ("mallory", "a brand new passphrase")
    assert httpx.put(f"{served.url}/api/users/mallory/password", json={"password": new[1]}, headers=admin).is_success
    assert _signin(served.url, who).status_code == 401 and _signin(served.url, new).status_code == 303

    assert httpx.post(f"{served.url}/api/users/mallory/disable", headers=admin).status_code == 200
    assert _signin(served.url, new).status_code == 401
    assert httpx.post(f"{served.url}/api/users/mallory/disable", headers=mine).status_code == 401
    assert httpx.post(f"{served.url}/api/users/{ADMIN[0]}/disable", headers=admin).status_code == 409


def test_user_management_from_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDGERLINK_DATABASE_URL", raising=False)
    users = Users(Ledger(database_url(tmp_path)))
    users.add("carol", "her first long passphrase", "viewer")
    users.create_token(users.all()[0].pk, "t")
    runner = CliRunner()
    monkeypatch.setenv("LEDGERLINK_PASSWORD", "her second long passphrase")
    assert runner.invoke(cli_app, ["user", "passwd", "carol", "--data-dir", str(tmp_path)]).exit_code == 0
    assert users.verify("carol", "her second long passphrase") is not None
    out = runner.invoke(cli_app, ["user", "revoke-tokens", "carol", "--data-dir", str(tmp_path)])
    assert out.exit_code == 0 and "revoked 1" in out.output
    assert runner.invoke(cli_app, ["user", "disable", "carol", "--data-dir", str(tmp_path)]).exit_code == 0
    assert users.verify("carol", "her second long passphrase") is None
    monkeypatch.setenv("LEDGERLINK_PASSWORD", "12345678")
    weak = runner.invoke(cli_app, ["user", "add", "dave", "--data-dir", str(tmp_path)])
    assert weak.exit_code != 0 and "12 characters" in weak.output


@pytest.mark.parametrize("password", ["short1!", "aaaaaaaaaaaaaaaa", "password1234", "my name is erin!"])
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(UserError):
        check_password(password, "erin")


def test_names_ending_in_a_newline_are_refused(served: Served) -> None:
    assert NAME_RE.match("crm\n") is None
    assert _SEGMENT.match("Name\n") is None
    headers = {"Authorization": f"Bearer {api_token(served.url)}"}
    creds = {"username": "u", "password": "p4ssword!", "memorable_word": "word"}
    response = httpx.post(
        f"{served.url}/api/connections",
        json={"name": "crm\n", "system": "kashflow", "base_url": "http://127.0.0.1:9/v2", "secrets": creds},
        headers=headers,
    )
    assert response.status_code in (400, 422)


def test_made_up_methods_add_no_metrics_series(served: Served) -> None:
    for i in range(5):
        assert httpx.request(f"MADEUP{i}", f"{served.url}/healthz").status_code == 405
    metrics = httpx.get(f"{served.url}/metrics", headers={"Authorization": f"Bearer {api_token(served.url)}"}).text
    assert "MADEUP" not in metrics


def test_masking_matches_whole_secrets_only() -> None:
    register_secret("abc")  # too short to mask without garbling: ignored
    register_secret("Sup3rSecretValue")
    assert redact("abcdef and abc") == "abcdef and abc"
    assert redact("token=Sup3rSecretValue;") == f"token={MASK};"
    assert redact("xSup3rSecretValuex") == "xSup3rSecretValuex"  # inside a longer word: not this secret


def test_cookies_are_secure_over_https(served: Served) -> None:
    # Behind a TLS proxy on this host (uvicorn trusts its forwarded headers): Secure without any setting.
    proxied = httpx.get(f"{served.url}/signin", headers={"X-Forwarded-Proto": "https"}).headers["set-cookie"]
    assert "secure" in proxied.lower()
    plain = httpx.get(f"{served.url}/signin").headers["set-cookie"]
    assert "secure" not in plain.lower()  # plain local http still works


def test_an_idle_session_expires(served: Served) -> None:
    import dataclasses

    response = _signin_keep(served.url)
    cookie = response
    settings = served.console.settings
    served.console.settings = dataclasses.replace(settings, session_idle_minutes=0.0)
    time.sleep(1.1)  # signed more than the idle timeout (0 s) ago
    try:
        assert httpx.get(f"{served.url}/api/me", cookies=cookie).status_code == 401
    finally:
        served.console.settings = settings
    assert httpx.get(f"{served.url}/api/me", cookies=cookie).status_code == 200


def _signin_keep(url: str) -> dict[str, str]:
    with httpx.Client(base_url=url, timeout=30) as client:
        page = client.get("/signin")
        done = client.post(
            "/signin", data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": csrf_of(page.text)}
        )
        assert done.status_code == 303
        found = re.search(r"ll_session=([^;]+)", done.headers["set-cookie"])
        assert found
        return {"ll_session": found.group(1)}
