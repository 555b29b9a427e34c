"""Cheap refusals before any work: an ASGI middleware in front of every route.

- A body larger than ``max_body_bytes`` is refused with 413: at once when ``Content-Length`` says so, else as soon
  as the stream passes the cap (a chunked body is never buffered whole).
- A protected route is refused to an anonymous caller *before* its body is read or parsed: FastAPI reads and
  parses a JSON or form body before running any dependency, so the sign-in dependency alone came too late.
- Only known HTTP methods reach the app (a made-up method used to add a ``/metrics`` series).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from anyio import to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
PUBLIC_PATHS = frozenset({"/signin", "/healthz"})
SIGNED_PREFIXES = ("/webhooks/",)  # authenticated by signature inside the route, with its own smaller cap

Authenticator = Callable[[Request], Awaitable[Any]]


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


def is_api(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api/", "/metrics", "/webhooks/")) or "application/json" in request.headers.get(
        "accept", ""
    )


def not_signed_in(request: Request) -> Response:
    if is_api(request):
        return JSONResponse({"detail": "sign in or send an API token"}, 401, headers={"WWW-Authenticate": "Bearer"})
    target = "/signin?next=" + (request.url.path if request.method == "GET" else "/")
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


class Guard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: Callable[[], int], principal: Authenticator) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.principal = principal  # returns the caller's principal or None; must not read the body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if scope["method"] not in KNOWN_METHODS:
            await JSONResponse({"detail": "method not allowed"}, 405)(scope, receive, send)
            return
        limit = self.max_body_bytes()
        declared = request.headers.get("content-length")
        if declared is not None and (not (declared.isascii() and declared.isdigit()) or int(declared) > limit):
            await JSONResponse({"detail": f"request body larger than {limit} bytes"}, 413)(scope, receive, send)
            return
        path = scope["path"]
        if path not in PUBLIC_PATHS and not path.startswith(SIGNED_PREFIXES):
            found = await self.principal(request)
            if found is None:
                await not_signed_in(request)(scope, receive, send)
                return
            scope.setdefault("state", {})["guard_principal"] = found
        await self.app(scope, _capped(receive, limit), send)


def _capped(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)  # an HTTPException: FastAPI and Starlette turn it into a 413
        return message

    return wrapped


async def in_thread(func: Callable[[], Any]) -> Any:
    """Run a blocking look-up (database, argon2) off the event loop."""
    return await to_thread.run_sync(func)
