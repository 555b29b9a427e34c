"""Assemble the KashFlow sandbox: routers, error rendering, admin endpoints, rate limiter and fault injector."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from ledgerlink.sandbox._faults import ADMIN_PATH as FAULTS_ADMIN_PATH
from ledgerlink.sandbox._faults import FaultInjector
from ledgerlink.sandbox._ratelimit import RateLimit, RateLimiter, client_address_key, header
from ledgerlink.sandbox.kashflow import (
    auth,
    routes_credit_notes,
    routes_customers,
    routes_invoices,
    routes_ledger,
    routes_payments,
)
from ledgerlink.sandbox.kashflow.config import KashFlowSandboxConfig
from ledgerlink.sandbox.kashflow.docstore import DocStore, SandboxClock
from ledgerlink.sandbox.kashflow.state import BEHAVIOUR_CHOICES, KashFlowState, kf
from ledgerlink.sandbox.kashflow.wire import ApiError, KfJSON, fmt_datetime


class AdminBypassesFaults:
    """Send ``/__admin/*`` (but the fault admin itself) straight to the API, so tests can always steer."""

    def __init__(self, api: ASGIApp, faulty: ASGIApp) -> None:
        self.api, self.faulty = api, faulty

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        direct = path.startswith("/__admin/") and path != FAULTS_ADMIN_PATH
        await (self.api if direct else self.faulty)(scope, receive, send)


class LowerQueryKeys:
    """KashFlow matches query parameter names case-insensitively (``perPage`` = ``perpage``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
            scope = {**scope, "query_string": urlencode([(k.lower(), v) for k, v in pairs]).encode("latin-1")}
        await self.app(scope, receive, send)


def _rate_key(scope: Scope) -> str:
    # Per credential: the session token when there is one, else the caller's address (the login dance).
    value = header(scope, b"authorization")
    return f"token:{value.split(' ', 1)[-1].strip().upper()}" if value else client_address_key(scope)


def _rate_error(limit: RateLimit, retry_after: float) -> dict[str, Any]:
    return {
        "Error": "TooManyRequests",
        "Message": f"Rate limit of {limit.requests} requests per {limit.per_seconds:g} s exceeded; "
        f"retry after {retry_after:.3f} s.",
    }


def _admin_routes(app: FastAPI) -> None:
    @app.post("/__admin/advance-clock")
    async def advance_clock(request: Request) -> dict[str, Any]:
        body = await request.json()
        now = kf(request).clock.advance(float(body.get("seconds", 0)))
        return {"now": fmt_datetime(now)}

    @app.get("/__admin/clock")
    async def clock(request: Request) -> dict[str, Any]:
        return {"now": fmt_datetime(kf(request).clock.now())}

    @app.post("/__admin/expire-sessions")
    async def expire(request: Request) -> dict[str, Any]:
        return {"expired": auth.expire_sessions(kf(request))}

    @app.get("/__admin/behaviour")
    async def get_behaviour(request: Request) -> dict[str, str]:
        return dict(kf(request).behaviour)

    @app.put("/__admin/behaviour")
    async def put_behaviour(request: Request) -> KfJSON:
        body = dict(await request.json())
        state = kf(request)
        for key, value in body.items():
            if key not in BEHAVIOUR_CHOICES or value not in BEHAVIOUR_CHOICES[key]:
                choices = {k: list(v) for k, v in BEHAVIOUR_CHOICES.items()}
                return KfJSON({"Error": "ValidationError", "Message": f"choices: {choices}"}, status_code=400)
        state.behaviour.update(body)
        return KfJSON(dict(state.behaviour))

    @app.post("/__admin/unlock")
    async def unlock(request: Request) -> dict[str, Any]:
        state = kf(request)
        state.auth.failures, state.auth.locked_until = 0, None
        return {"locked": False}


def build_api(config: KashFlowSandboxConfig) -> FastAPI:
    """The bare FastAPI app (no limiter or faults); ``app.state.kf`` holds the sandbox state."""
    app = FastAPI(title="KashFlow sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    state = KashFlowState(config=config, store=DocStore(config.data_path), clock=SandboxClock())
    state.seed()
    app.state.kf = state

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> KfJSON:
        return KfJSON(exc.body(), status_code=exc.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> KfJSON:
        name = "NotFound" if exc.status_code == 404 else "MethodNotAllowed" if exc.status_code == 405 else "Error"
        return KfJSON({"Error": name, "Message": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> KfJSON:
        return KfJSON({"Error": "ValidationError", "Message": str(exc.errors())}, status_code=400)

    for module in (auth, routes_customers, routes_invoices, routes_payments, routes_ledger, routes_credit_notes):
        app.include_router(module.router)
    app.include_router(routes_invoices.public)
    _admin_routes(app)
    return app


def create_app(config: KashFlowSandboxConfig | None = None) -> ASGIApp:
    """The KashFlow sandbox as an ASGI app: ``RateLimiter(FaultInjector(api))``. Base path ``/v2``."""
    config = config or KashFlowSandboxConfig()
    api = LowerQueryKeys(build_api(config))
    faulty = AdminBypassesFaults(api, FaultInjector(api, config.faults))
    return RateLimiter(faulty, config.rate_limit, _rate_key, _rate_error)
