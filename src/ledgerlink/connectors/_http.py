"""Shared HTTP plumbing: one httpx.Client per connection, with transport errors turned into TransientError."""

from __future__ import annotations

import email.utils
import json
import ssl
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from ledgerlink.connectors.errors import TransientError

TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def tls_verify(verify: bool | str | ssl.SSLContext) -> bool | ssl.SSLContext:
    """A CA file path (how connection specs name a private CA, e.g. the sandbox's) as an SSL context."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return verify


def make_client(
    base_url: str,
    *,
    verify: bool | str = True,
    transport: httpx.BaseTransport | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Client:
    return httpx.Client(
        base_url=base_url,
        verify=tls_verify(verify),
        transport=transport,
        timeout=TIMEOUT,
        headers=headers or {},
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=20),
    )


def send(client: httpx.Client, system: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """Send one request; network failures become TransientError naming the system and request."""
    try:
        return client.request(method, url, **kwargs)
    except (httpx.TransportError, httpx.DecodingError) as exc:
        raise TransientError(f"{method} {url} failed: {type(exc).__name__}: {exc}", system=system) from exc


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Parse ``Retry-After`` given as seconds or as an HTTP date."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time())


def with_transient_retries(
    action: Callable[[], httpx.Response], *, attempts: int = 4, base_delay: float = 0.1, max_delay: float = 5.0
) -> httpx.Response:
    """Retry an idempotent read a few times in place (writes go through the engine's durable retries instead)."""
    delay = base_delay
    for attempt in range(attempts):
        try:
            return action()
        except TransientError as exc:
            if attempt == attempts - 1:
                raise
            wait = exc.retry_after if exc.retry_after is not None else delay
            time.sleep(min(wait, max_delay))
            delay = min(delay * 2, max_delay)
    raise AssertionError("unreachable")


def decimal_json(response: httpx.Response) -> Any:
    """A JSON body with every fractional number read as Decimal, never float (amounts must stay exact)."""
    return json.loads(response.content or b"null", parse_float=Decimal)
