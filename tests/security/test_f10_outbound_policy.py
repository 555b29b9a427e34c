"""Finding 10 (+ viewer items of 11): admins can't point connection tests or alert webhooks at internal addresses
unless the operator allows them, so the console can't be used to read internal pages or probe them; viewers see
neither a failed test's reply nor alert webhook URLs."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledgerlink.outbound import OutboundPolicy, OutboundRefused
from tests.web.console_helpers import VIEWER, Served, api_token, serve_console, signed_in

INTERNAL_SECRET = "internal-page-secret-4242"


@pytest.fixture(scope="module")
def internal() -> Iterator[tuple[str, list[str]]]:
    """An internal service on loopback that answers 401 with something private, recording every hit."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            hits.append(self.path)
            body = INTERNAL_SECRET.encode() * 10
            self.send_response(401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A console with the default policy: no internal address allowed."""
    with serve_console(tmp_path_factory.mktemp("strict"), outbound_allow=()) as running:
        yield running


def test_a_connection_test_to_an_internal_address_is_refused_without_a_request(
    strict: Served, internal: tuple[str, list[str]]
) -> None:
    url, hits = internal
    token = api_token(strict.url)
    headers = {"Authorization": f"Bearer {token}"}
    creds = {"username": "u", "password": "p4ssword!", "memorable_word": "word"}
    added = httpx.post(
        f"{strict.url}/api/connections",
        json={"name": "intranet", "system": "kashflow", "base_url": url, "secrets": creds},
        headers=headers,
    )
    assert added.status_code == 201, added.text
    before = len(hits)
    result = httpx.post(f"{strict.url}/api/connections/intranet/test", headers=headers, timeout=30).json()
    assert result["ok"] is False and "internal address" in result["message"]
    assert INTERNAL_SECRET not in result["message"] and len(hits) == before


def test_an_alert_webhook_to_an_internal_address_is_not_sent(strict: Served, internal: tuple[str, list[str]]) -> None:
    url, hits = internal
    headers = {"Authorization": f"Bearer {api_token(strict.url)}"}
    ledger = strict.console.ledger
    for i in range(3):
        ledger.record_failure(flow="f", source=("salesforce", "Opportunity", f"006OUT{i}"), error="x")
    rule = {"name": "internal hook", "kind": "dead_letters", "threshold": 1, "webhook_url": url + "/hook?token=abc"}
    assert httpx.post(f"{strict.url}/api/alerts/rules", json=rule, headers=headers).status_code == 201
    before = len(hits)
    events = httpx.post(f"{strict.url}/api/alerts/check", headers=headers, timeout=30).json()
    assert events and events[0]["deliveries"]["webhook"].startswith("failed:") and len(hits) == before

    viewer, _csrf = signed_in(strict.url, VIEWER)
    with viewer:
        rules = viewer.get("/api/alerts/rules").json()
        assert rules and all("token=abc" not in str(r["webhook_url"]) for r in rules)
        conns = viewer.get("/api/connections").json()
        assert all(INTERNAL_SECRET not in str(c["last_test_message"]) for c in conns)
        assert "token=abc" not in viewer.get("/alerts").text


def test_the_operator_can_allow_an_internal_host(served: Served, internal: tuple[str, list[str]]) -> None:
    url, _hits = internal
    OutboundPolicy.parse(["127.0.0.0/8"]).check(url)  # served allows loopback (the sandboxes live there)
    with pytest.raises(OutboundRefused):
        OutboundPolicy.parse([]).check(url)
    for blocked in ("http://169.254.169.254/latest/meta-data", "http://10.1.2.3/", "http://[::1]:8080/"):
        with pytest.raises(OutboundRefused):
            OutboundPolicy.parse([]).check(blocked)


def test_the_policy_reads_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LEDGERLINK_OUTBOUND_ALLOW", "127.0.0.1, crm.internal")
    policy = OutboundPolicy.from_env()
    policy.check("http://127.0.0.1:9/")
    policy.check("https://crm.internal/api")
