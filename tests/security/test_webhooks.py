"""Inbound webhooks: only a fresh, correctly signed, small enough request gets in, and only once."""

from __future__ import annotations

import time

import httpx

from ledgerlink.web.services.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.web.console_helpers import Served


def _setup(served: Served, name: str) -> str:
    _view, secret = served.console.connections.add(
        name, "kashflow", "http://127.0.0.1:9/v2", {"username": "u", "password": "p4ssword!", "memorable_word": "word"}
    )
    return secret


def _post(served: Served, name: str, body: bytes, ts: int, signature: str) -> httpx.Response:
    headers = {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: signature, "Content-Type": "application/json"}
    return httpx.post(f"{served.url}/webhooks/{name}", content=body, headers=headers)


def test_a_signed_fresh_webhook_is_accepted_once(served: Served) -> None:
    secret = _setup(served, "hooks-ok")
    body, ts = b'{"type": "invoice.paid", "id": "INV-1"}', int(time.time())
    first = _post(served, "hooks-ok", body, ts, sign(secret, ts, body))
    assert first.status_code == 202 and first.json()["accepted"] is True
    again = _post(served, "hooks-ok", body, ts, sign(secret, ts, body))
    assert again.status_code == 409  # the same signed request, replayed inside the window


def test_bad_signature_old_timestamp_and_oversize_are_refused(served: Served) -> None:
    secret = _setup(served, "hooks-bad")
    body, now = b'{"type": "x"}', int(time.time())
    assert _post(served, "hooks-bad", body, now, sign("wrong-secret", now, body)).status_code == 401
    assert _post(served, "hooks-bad", body, now, sign(secret, now, body + b" ")).status_code == 401
    assert _post(served, "hooks-bad", body, now, "").status_code == 401
    old = now - 3600
    assert _post(served, "hooks-bad", body, old, sign(secret, old, body)).status_code == 401
    future = now + 3600
    assert _post(served, "hooks-bad", body, future, sign(secret, future, body)).status_code == 401
    big = b'{"pad": "' + b"a" * (served.console.settings.webhook_max_bytes + 10) + b'"}'
    assert _post(served, "hooks-bad", big, now, sign(secret, now, big)).status_code == 413


def test_an_oversize_body_without_a_length_is_cut_off(served: Served) -> None:
    secret = _setup(served, "hooks-chunked")
    limit = served.console.settings.webhook_max_bytes

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(limit // 1024 + 10):
            yield b"a" * 1024

    now = int(time.time())
    response = httpx.post(
        f"{served.url}/webhooks/hooks-chunked",
        content=chunks(),
        headers={TIMESTAMP_HEADER: str(now), SIGNATURE_HEADER: sign(secret, now, b"")},
    )
    assert response.status_code == 413


def test_an_unknown_connection_looks_like_a_bad_signature(served: Served) -> None:
    body, now = b"{}", int(time.time())
    response = _post(served, "no-such-connection", body, now, sign("guess", now, body))
    assert response.status_code == 401 and response.json()["detail"] == "missing or invalid signature"
