"""HTTP plumbing every system's client shares: one httpx.Client per connection whose transport passes every request
(sign-ins included) through the connection's pacer and counts it, network failures as ``TransientError``, and the
one wait a client does itself: a 429's ``Retry-After``. Every other retry is the engine's (durable steps)."""

from __future__ import annotations

import email.utils
import json
import ssl
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from ledgerlink.systems.errors import TransientError
from ledgerlink.systems.ratelimit import NoPacing, Pacer

TIMEOUT = httpx.Timeout(30.0, connect=10.0)
LIMITS = httpx.Limits(max_connections=20, max_keepalive_connections=20)
DEFAULT_429_WAIT = 1.0  # a 429 without Retry-After: wait this long before the one repeat in place


def tls_verify(verify: bool | str | ssl.SSLContext) -> bool | ssl.SSLContext:
    """A CA file path (how connection specs name a private CA, e.g. the sandbox's) as an SSL context."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return verify


class PacedTransport(httpx.BaseTransport):
    """Each request waits for a slot of the pacer (the API's rate limit, shared by every worker) and is counted."""

    def __init__(self, inner: httpx.BaseTransport, pacer: Pacer) -> None:
        self.inner = inner
        self.pacer = pacer
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.pacer.slot():
            response = self.inner.handle_request(request)
        self.calls += 1
        return response

    def close(self) -> None:
        self.inner.close()


def make_client(
    base_url: str = "",
    *,
    verify: bool | str = True,
    transport: httpx.BaseTransport | None = None,
    headers: dict[str, str] | None = None,
    pacer: Pacer | None = None,
    auth: httpx.Auth | None = None,
) -> httpx.Client:
    """``transport`` replaces the network (an ``httpx.MockTransport`` or an ASGI app in tests); the pacer and the
    call count sit on top of it either way. ``client.transport_calls()`` reads the count."""
    inner = transport or httpx.HTTPTransport(verify=tls_verify(verify), limits=LIMITS)
    return httpx.Client(
        base_url=base_url,
        transport=PacedTransport(inner, pacer or NoPacing()),
        timeout=TIMEOUT,
        headers=headers or {},
        auth=auth,
    )


def calls_made(client: httpx.Client) -> int:
    """Requests ``client`` has sent (sign-ins and repeats included): what the API counts against its limits."""
    transport = client._transport  # httpx keeps no public handle on the transport it was given
    return transport.calls if isinstance(transport, PacedTransport) else 0


def send(client: httpx.Client, system: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """Send one request; network failures become TransientError naming the system and request."""
    try:
        return client.request(method, url, **kwargs)
    except (httpx.TransportError, httpx.DecodingError) as exc:
        raise TransientError(f"{method} {url} failed: {type(exc).__name__}: {exc}", system=system) from exc


def send_waiting_out_429(
    client: httpx.Client,
    system: str,
    method: str,
    url: str,
    *,
    max_wait: float,
    attempts: int = 5,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs: Any,
) -> httpx.Response:
    """``send``, repeated in place while the server answers 429 with a wait of at most ``max_wait`` seconds: it
    refused the request unprocessed, so repeating is always safe, and waiting here is cheaper than failing the
    step. A longer wait, or the last attempt, returns the 429 for the caller to raise (the engine retries later)."""
    for attempt in range(attempts):
        response = send(client, system, method, url, **kwargs)
        if response.status_code != 429 or attempt == attempts - 1:
            return response
        wait = retry_after_seconds(response)
        wait = DEFAULT_429_WAIT if wait is None else wait
        if wait > max_wait:
            return response
        sleep(wait)
    raise AssertionError("unreachable")


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Parse ``Retry-After`` given as seconds or as an HTTP date."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, parsed.timestamp() - time.time())


def decimal_json(response: httpx.Response) -> Any:
    """A JSON body with every fractional number read as Decimal, never float (amounts must stay exact)."""
    return json.loads(response.content or b"null", parse_float=Decimal)
