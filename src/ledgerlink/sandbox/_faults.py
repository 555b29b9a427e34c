"""Fault injection shared by every sandbox: latency, server errors and dropped connections.

Faults are set at start-up (``FaultConfig``) or at run time through the admin endpoint
``GET|PUT /__admin/faults`` (JSON body with the same fields). The admin endpoint itself never fails.
A "drop" answers with a response head that promises more body than is ever sent, then closes:
clients see the connection cut mid-response (httpx raises ``RemoteProtocolError``), as with a real
proxy reset. ``drop_after_rate`` drops *after* the request was processed: the nasty case that
only idempotent writes survive.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ADMIN_PATH = "/__admin/faults"
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class FaultConfig:
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0  # share of requests answered 500/503 before any processing
    drop_rate: float = 0.0  # share of requests whose connection is cut before processing
    drop_after_rate: float = 0.0  # share whose connection is cut after processing
    seed: int | None = None
    # Only requests whose path starts with one of these are subject to faults (empty = all).
    paths: tuple[str, ...] = ()
    # Only requests with one of these methods (empty = all), e.g. ("POST",) to hit creates only.
    methods: tuple[str, ...] = ()
    # Deterministic faults for tests: the next N matching requests fail (500) / are dropped after processing.
    fail_next: int = 0
    drop_after_next: int = 0
    # The next N matching writes (POST, PUT, PATCH, DELETE) are dropped after processing: a run under random
    # faults can promise that at least one write really was cut, whatever the dice say.
    drop_after_next_writes: int = 0

    def update(self, data: dict[str, Any]) -> None:
        known = {f.name for f in fields(self)}
        for key, value in data.items():
            if key not in known:
                raise ValueError(f"unknown fault setting {key!r}")
            setattr(self, key, tuple(value) if key in ("paths", "methods") else value)


class FaultInjector:
    """ASGI middleware applying a ``FaultConfig`` to every request but the admin endpoint."""

    def __init__(self, app: ASGIApp, config: FaultConfig | None = None) -> None:
        self.app = app
        self.config = config or FaultConfig()
        self._rng = random.Random(self.config.seed)
        self._lock = threading.Lock()
        self.injected: dict[str, int] = {"errors": 0, "drops": 0, "drops_after": 0}

    def _roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path == ADMIN_PATH:
            await self._admin(scope, receive, send)
            return
        cfg = self.config
        if (cfg.paths and not any(path.startswith(p) for p in cfg.paths)) or (
            cfg.methods and scope["method"] not in cfg.methods
        ):
            await self.app(scope, receive, send)
            return
        if cfg.fail_next > 0:
            cfg.fail_next -= 1
            self.injected["errors"] += 1
            await _server_error(send, 500)
            return
        if cfg.latency_ms or cfg.latency_jitter_ms:
            delay = cfg.latency_ms + (self._rng.random() * cfg.latency_jitter_ms if cfg.latency_jitter_ms else 0)
            await asyncio.sleep(delay / 1000.0)
        if self._roll(cfg.drop_rate):
            self.injected["drops"] += 1
            await _drop(send)
            return
        if self._roll(cfg.error_rate):
            self.injected["errors"] += 1
            await _server_error(send)
            return
        if cfg.drop_after_next > 0:
            cfg.drop_after_next -= 1
            cut_after = True
        elif cfg.drop_after_next_writes > 0 and scope["method"] in _WRITES:
            cfg.drop_after_next_writes -= 1
            cut_after = True
        else:
            cut_after = self._roll(cfg.drop_after_rate)
        if cut_after:
            self.injected["drops_after"] += 1

            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)
            await _drop(send)
            return
        await self.app(scope, receive, send)

    async def _admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 200
        if scope["method"] == "PUT":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            try:
                self.config.update(json.loads(body or b"{}"))
                self._rng = random.Random(self.config.seed)
            except (ValueError, TypeError) as exc:
                await _json(send, 400, {"error": str(exc)})
                return
        payload = asdict(self.config) | {"injected": dict(self.injected)}
        await _json(send, status, payload)


async def _json(send: Send, status: int, payload: Any) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _server_error(send: Send, status: int = 503) -> None:
    await _json(send, status, [{"message": "Injected fault: service unavailable", "errorCode": "SERVER_UNAVAILABLE"}])


class _DroppedConnection(Exception):
    """Raised inside the server so uvicorn closes the socket mid-response."""


async def _drop(send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1024")]})
    await send({"type": "http.response.body", "body": b"{", "more_body": True})
    raise _DroppedConnection("injected dropped connection")
