"""Every route of the app, enumerated from the app itself so that a new route is covered automatically."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

PUBLIC = {"signin_page", "signin", "healthz"}  # the only routes anyone may call
SIGNATURE_AUTH = {"webhook_receive"}  # authenticated by an HMAC signature, not a session: no cookie, no CSRF
SAMPLE = {
    "failed_id": "1",
    "token_id": "1",
    "rule_id": "1",
    "system": "salesforce",
    "name": "opportunity_to_canonical",
    "obj": "Opportunity",
    "record_id": "006000000000001",
    "connection": "salesforce",
}


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str  # with path parameters filled in

    @property
    def unsafe(self) -> bool:
        return self.method not in ("GET", "HEAD", "OPTIONS")


def all_routes(routes: Sequence[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(prefix, route) for every route, descending into included routers (newer FastAPI keeps them nested)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from all_routes(inner.routes, prefix + getattr(getattr(route, "include_context", None), "prefix", ""))
        else:
            yield prefix, route


def endpoints(app: FastAPI) -> list[Endpoint]:
    found = []
    for prefix, route in all_routes(app.routes):
        if not isinstance(route, APIRoute):
            continue
        full = prefix + route.path
        path = re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: SAMPLE.get(m.group(1), "x"), full)
        for method in sorted(route.methods):
            found.append(Endpoint(route.name, method, path))
    return found


def non_api_routes(app: FastAPI) -> list[str]:
    """Anything mounted that is not an APIRoute (static mounts, raw Starlette routes) — must be none besides
    FastAPI's own OpenAPI route."""
    return [
        getattr(r, "path", "?")
        for _prefix, r in all_routes(app.routes)
        if not isinstance(r, APIRoute) and getattr(r, "path", "") != "/api/openapi.json"
    ]
