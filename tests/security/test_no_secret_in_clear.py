"""Each secret is searched for, in clear, in the database files, the logs, the API responses and the pages."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import httpx

from ledgerlink.logs import JsonFormatter
from tests.web.console_helpers import ADMIN, Served, signed_in

SECRETS = {
    "client_id": "cid-3MVG9-CLEAR-ID-7781",
    "client_secret": "sf-Secret-Zebra-Quartz-4411",
}
ROTATED = {"client_id": "cid-rotated-1177-XYZ", "client_secret": "sf-Rotated-Walrus-Mango-9902"}
KF = {"username": "kf-user-omega", "password": "kf-Pass-Heron-5530", "memorable_word": "Marmalade42"}


def test_no_secret_anywhere_in_clear(served: Served) -> None:
    log_buffer = io.StringIO()
    handler = logging.StreamHandler(log_buffer)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    seen: list[str] = []
    try:
        client, csrf = signed_in(served.url, ADMIN)
        with client:
            client.headers["X-CSRF-Token"] = csrf
            # Connections to ports nothing listens on: testing them fails, and the failure must not echo a secret.
            created = client.post(
                "/api/connections",
                json={"name": "sf-main", "system": "salesforce", "base_url": "http://127.0.0.1:9", "secrets": SECRETS},
            )
            assert created.status_code == 201
            webhook_secret = created.json()["webhook_secret"]  # the one response allowed to carry it, once
            page = client.post(
                "/connections",
                data={
                    "csrf_token": csrf,
                    "name": "kf-main",
                    "system": "kashflow",
                    "base_url": "http://127.0.0.1:9/v2",
                    **{f"secret_{k}": v for k, v in KF.items()},
                },
            )
            assert page.status_code == 200
            seen.append(page.text.replace(page.text[page.text.find("<pre>") : page.text.find("</pre>")], ""))
            for url in ("/api/connections", "/api/connections/sf-main", "/connections", "/", "/metrics"):
                seen.append(client.get(url).text)
            seen.append(client.post("/api/connections/sf-main/test").text)
            seen.append(client.post("/api/connections/kf-main/test").text)
            seen.append(client.post("/connections/kf-main/test", data={"csrf_token": csrf}).text)
            seen.append(client.put("/api/connections/sf-main/credentials", json={"secrets": ROTATED}).text)
            seen.append(client.put("/api/connections/sf-main/credentials", json={"secrets": {"client_id": "x"}}).text)
            seen.append(
                client.post(
                    "/api/connections",
                    json={"name": "Bad Name", "system": "salesforce", "base_url": "http://x", "secrets": SECRETS},
                ).text
            )
            seen.append(
                client.post(
                    "/api/connections",
                    json={"name": "sf-main", "system": "salesforce", "base_url": "http://x", "secrets": SECRETS},
                ).text
            )
            seen.append(client.get("/api/connections").text)
            seen.append(client.get("/connections").text)
        # the console really did open them (so "not found" is not for want of trying)
        assert served.console.connections.spec("sf-main")["credentials"] == ROTATED
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)

    everything = [*SECRETS.values(), *ROTATED.values(), *KF.values(), webhook_secret]
    logs = log_buffer.getvalue()
    database = _database_bytes(served.data_dir)
    assert database, "no database file found to search"
    for secret in everything:
        assert secret.encode() not in database, f"{secret[:4]}… is in the database in clear"
        assert secret not in logs, f"{secret[:4]}… is in a log line"
        for text in seen:
            assert secret not in text, f"{secret[:4]}… is in a response"


def _database_bytes(data_dir: Path) -> bytes:
    # The main file, its write-ahead log and anything else SQLite keeps beside it.
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("ledgerlink.db*")))


def test_failure_messages_are_redacted_even_when_a_service_echoes_a_secret() -> None:
    from ledgerlink.connections.probe import probe

    result = probe(
        {"system": "salesforce", "base_url": "http://127.0.0.1:9/" + SECRETS["client_secret"], "credentials": SECRETS}
    )
    assert not result.ok and SECRETS["client_secret"] not in result.message


def test_the_key_file_is_private(served: Served) -> None:
    key = served.data_dir / "master.key"
    assert key.exists() and key.stat().st_mode & 0o077 == 0
    assert httpx.get(served.url + "/healthz").status_code == 200
