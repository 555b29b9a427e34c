"""Finding 2 (+ webhook items of 11): a signed webhook is accepted once, however its signature header is padded;
every refusal reads the same; odd timestamps and deep bodies are refused cleanly, not with a 500."""

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


def _post(served: Served, name: str, body: bytes, ts: str, signature: str) -> httpx.Response:
    headers = {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: signature, "Content-Type": "application/json"}
    return httpx.post(f"{served.url}/webhooks/{name}", content=body, headers=headers, timeout=10)


def test_a_padded_signature_header_does_not_replay_the_same_request(served: Served) -> None:
    secret = _setup(served, "replay-pad")
    body, ts = b'{"type": "invoice.paid", "id": "INV-9"}', int(time.time())
    good = sign(secret, ts, body)
    assert _post(served, "replay-pad", body, str(ts), good).status_code == 202
    for padded in (good + ",", good + ", v1=" + "0" * 64, "v1=" + "f" * 64 + "," + good, f"{good},{good}"):
        again = _post(served, "replay-pad", body, str(ts), padded)
        assert again.status_code == 409, (padded, again.text)


def test_every_refusal_gives_the_same_reason_known_connection_or_not(served: Served) -> None:
    secret = _setup(served, "replay-known")
    body, now = b"{}", int(time.time())
    old = now - 3600
    reasons = {
        _post(served, "replay-known", body, str(old), sign(secret, old, body)).json()["detail"],
        _post(served, "replay-known", body, "12x", sign(secret, now, body)).json()["detail"],
        _post(served, "no-such-hook", body, str(old), sign(secret, old, body)).json()["detail"],
        _post(served, "no-such-hook", body, "12x", "v1=00").json()["detail"],
    }
    assert reasons == {"missing or invalid signature"}


def test_a_non_ascii_digit_timestamp_is_refused_not_a_500(served: Served) -> None:
    secret = _setup(served, "replay-digits")
    body = b"{}"
    for ts in ("\u00b2\u00b3", "\u0661\u0662\u0663"):  # superscripts, Arabic-Indic digits: isdigit() but not ASCII
        response = httpx.post(
            f"{served.url}/webhooks/replay-digits",
            content=body,
            headers={TIMESTAMP_HEADER.encode(): ts.encode(), SIGNATURE_HEADER: sign(secret, 1, body)},
            timeout=10,
        )
        assert response.status_code == 401, response.text


def test_a_deeply_nested_signed_body_is_a_400_not_a_500(served: Served) -> None:
    secret = _setup(served, "replay-deep")
    body, ts = b"[" * 100_000 + b"]" * 100_000, int(time.time())
    response = _post(served, "replay-deep", body, str(ts), sign(secret, ts, body))
    assert response.status_code == 400 and "nested" in response.json()["detail"]
