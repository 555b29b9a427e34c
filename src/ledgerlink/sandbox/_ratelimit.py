"""Server-side rate limiting shared by the accounting sandboxes: an exact sliding-window log, as ASGI middleware.

What "``RateLimit(requests=N, per_seconds=P)``" means, precisely:

    For each client key, at most N requests are *admitted* in any half-open window ``[t, t + P)`` of
    server arrival time (``time.monotonic()`` when the request reaches this middleware).

So request ``k + N`` is admitted iff it arrives at least ``P`` seconds after admitted request ``k``
(an arrival at exactly ``t_k + P`` is admitted). Refused requests (429) do not consume budget, and
neither do requests to ``/__admin/*``. The window is exact: no bucket granularity, no burst allowance
beyond N, no rounding. A request that reaches the server counts even if an injected fault then fails it,
as behind a real gateway, which is why this middleware sits *outside* the fault injector: injected latency
must not bunch arrivals up after the limiter has stamped them.

A client-side limiter that never draws a 429, whatever the network latency: do not send request
``k + N`` until ``P`` seconds after the *response* to request ``k`` arrived (the server stamped ``k``
before it answered, and stamps ``k + N`` after it was sent). Starting the window at the send time of
``k`` instead is only safe with a margin for latency jitter.

A 429 carries ``Retry-After`` (whole seconds, rounded up, at least 1), ``X-RateLimit-Reset`` (exact
seconds until a slot frees, three decimals) and a sandbox-specific JSON body. Every limited response
also carries ``X-RateLimit-Limit`` and ``X-RateLimit-Remaining``.

``GET /__admin/ratelimit`` reads the limit and counters; ``PUT`` with ``{"requests": N, "per_seconds": P}``
changes it (``{"requests": null}`` turns limiting off), ``{"reset": true}`` clears windows and counters.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ADMIN_PATH = "/__admin/ratelimit"


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` admitted requests per client in any rolling window of ``per_seconds``."""

    requests: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.per_seconds <= 0:
            raise ValueError("a rate limit needs requests >= 1 and per_seconds > 0")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after: float  # seconds until a slot frees; 0 when allowed


class SlidingWindowLog:
    """The exact algorithm, clock injectable for tests: one deque of admitted arrival times per key."""

    def __init__(self, limit: RateLimit | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._log: dict[str, deque[float]] = {}
        self.allowed = 0
        self.limited = 0
        self.by_key: dict[str, dict[str, int]] = {}

    def acquire(self, key: str) -> Decision:
        with self._lock:
            stats = self.by_key.setdefault(key, {"allowed": 0, "limited": 0})
            limit = self.limit
            if limit is None:
                self.allowed += 1
                stats["allowed"] += 1
                return Decision(True, -1, 0.0)
            now = self._clock()
            window = self._log.setdefault(key, deque())
            # An arrival exactly per_seconds after an admitted one no longer shares its window.
            while window and now - window[0] >= limit.per_seconds:
                window.popleft()
            if len(window) < limit.requests:
                window.append(now)
                self.allowed += 1
                stats["allowed"] += 1
                return Decision(True, limit.requests - len(window), 0.0)
            # More than N may be logged if the limit was lowered; the N-th newest is the one that must age out.
            blocking = window[len(window) - limit.requests]
            self.limited += 1
            stats["limited"] += 1
            return Decision(False, 0, blocking + limit.per_seconds - now)

    def set_limit(self, limit: RateLimit | None) -> None:
        with self._lock:
            self.limit = limit

    def reset(self) -> None:
        with self._lock:
            self._log.clear()
            self.by_key.clear()
            self.allowed = self.limited = 0

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "enabled": self.limit is not None,
                "requests": self.limit.requests if self.limit else None,
                "per_seconds": self.limit.per_seconds if self.limit else None,
                "allowed": self.allowed,
                "limited": self.limited,
                "by_key": {k: dict(v) for k, v in self.by_key.items()},
                "semantics": "at most `requests` admitted requests per key in any half-open window of `per_seconds`"
                " of server arrival time; 429s do not count",
            }


KeyFunc = Callable[[Scope], str]
ErrorBody = Callable[[RateLimit, float], Any]


def client_address_key(scope: Scope) -> str:
    client = scope.get("client")
    return f"ip:{client[0]}" if client else "ip:unknown"


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _default_error(limit: RateLimit, retry_after: float) -> Any:
    return {"error": "rate_limited", "message": f"more than {limit.requests} requests in {limit.per_seconds} s"}


class RateLimiter:
    """ASGI middleware applying a :class:`SlidingWindowLog`; requests under ``/__admin`` are never limited."""

    def __init__(
        self,
        app: ASGIApp,
        limit: RateLimit | None,
        key_func: KeyFunc = client_address_key,
        error_body: ErrorBody = _default_error,
    ) -> None:
        self.app = app
        self.window = SlidingWindowLog(limit)
        self.key_func = key_func
        self.error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path == ADMIN_PATH:
            await self._admin(scope, receive, send)
            return
        if path.startswith("/__admin"):
            await self.app(scope, receive, send)
            return
        decision = self.window.acquire(self.key_func(scope))
        limit = self.window.limit
        if limit is None:
            await self.app(scope, receive, send)
            return
        extra = [
            (b"x-ratelimit-limit", str(limit.requests).encode()),
            (b"x-ratelimit-remaining", str(decision.remaining).encode()),
        ]
        if not decision.allowed:
            retry = max(1, math.ceil(decision.retry_after))
            extra += [
                (b"retry-after", str(retry).encode()),
                (b"x-ratelimit-reset", f"{decision.retry_after:.3f}".encode()),
            ]
            await _json(send, 429, self.error_body(limit, decision.retry_after), extra)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "PUT":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            try:
                data = json.loads(body or b"{}")
                if data.get("reset"):
                    self.window.reset()
                if "requests" in data:
                    if data["requests"] is None:
                        self.window.set_limit(None)
                    else:
                        current = self.window.limit
                        per = data.get("per_seconds", current.per_seconds if current else 1.0)
                        self.window.set_limit(RateLimit(int(data["requests"]), float(per)))
            except (ValueError, TypeError, AttributeError) as exc:
                await _json(send, 400, {"error": str(exc)}, [])
                return
        await _json(send, 200, self.window.snapshot(), [])


async def _json(send: Send, status: int, payload: Any, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
