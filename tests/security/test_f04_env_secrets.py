"""Finding 4: an admin can't make the server send its environment (the master key above all) to a URL of their
choice through an ``env:NAME`` credential, and a connection's settings can't override its checked fields."""

from __future__ import annotations

import httpx
import pytest

from ledgerlink.connections.store import ConnectionError_
from tests.web.console_helpers import Served, api_token

SF = {"client_id": "cid", "client_secret": "env:LEDGERLINK_MASTER_KEY"}


def _add(served: Served, name: str, secrets: dict[str, str], settings: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{served.url}/api/connections",
        json={
            "name": name,
            "system": "salesforce",
            "base_url": "http://127.0.0.1:9",
            "secrets": secrets,
            "settings": settings or {},
        },
        headers={"Authorization": f"Bearer {api_token(served.url)}"},
    )


@pytest.mark.parametrize("variable", ["LEDGERLINK_MASTER_KEY", "HOME", "LEDGERLINK_DATABASE_URL", "PATH"])
def test_env_references_outside_the_allow_list_are_refused(served: Served, variable: str) -> None:
    response = _add(served, f"env-{variable.lower().replace('_', '-')}", {**SF, "client_secret": f"env:{variable}"})
    assert response.status_code == 400 and "environment variable" in response.json()["detail"]
    assert variable not in response.text or "env:" not in response.text


def test_allowed_env_references_still_work(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGERLINK_SECRET_SF_CLIENT", "from-the-environment")
    assert _add(served, "env-ok", {**SF, "client_secret": "env:LEDGERLINK_SECRET_SF_CLIENT"}).status_code == 201
    monkeypatch.setenv("LEDGERLINK_ALLOWED_SECRET_ENV", "CORP_SF_*")
    assert _add(served, "env-corp", {**SF, "client_secret": "env:CORP_SF_SECRET"}).status_code == 201
    monkeypatch.setenv("LEDGERLINK_ALLOWED_SECRET_ENV", "LEDGERLINK_*")  # even allowed by prefix: never the key
    assert _add(served, "env-key", SF).status_code == 400


def test_a_stored_env_reference_is_not_resolved_when_no_longer_allowed(served: Served) -> None:
    creds = {"username": "u", "password": "p4ssword!", "memorable_word": "word"}
    served.console.connections.add("env-old", "kashflow", "http://127.0.0.1:9/v2", creds)
    # As if written before the rule (straight into the vault):
    from sqlalchemy import select

    from ledgerlink.store.console_tables import Connection

    with served.console.ledger.session() as s:
        row = s.scalar(select(Connection).where(Connection.name == "env-old"))
        assert row is not None
        row.secrets_sealed = served.console.vault.seal_secrets("env-old", {"password": "env:LEDGERLINK_MASTER_KEY"})
    with pytest.raises(ConnectionError_):
        served.console.connections.spec("env-old")


def test_settings_cannot_override_checked_fields(served: Served) -> None:
    for key in ("base_url", "system", "credentials", "name"):
        creds = {"client_id": "c", "client_secret": "s"}
        response = _add(served, f"settings-{key.replace('_', '-')}", creds, {key: "x"})
        assert response.status_code == 400 and key in response.json()["detail"]
