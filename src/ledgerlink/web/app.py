"""The console's FastAPI app: pages (Jinja2 + HTMX) and a JSON API beside them, behind one sign-in."""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from itsdangerous import URLSafeTimedSerializer
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledgerlink.connections.store import Connections
from ledgerlink.logs import log_context
from ledgerlink.store import Ledger
from ledgerlink.vault import KeyRing, Vault, load_keyring
from ledgerlink.vault.vault import has_sealed_secrets
from ledgerlink.web import guard, metrics
from ledgerlink.web.console import Console
from ledgerlink.web.security import NotSignedIn, lookup_principal, refresh_session_cookie
from ledgerlink.web.services.replay import EngineReplayer, Replayer
from ledgerlink.web.services.users import Users
from ledgerlink.web.settings import ConsoleSettings

log = logging.getLogger("ledgerlink.web")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def build_console(
    settings: ConsoleSettings,
    *,
    ledger: Ledger | None = None,
    ring: KeyRing | None = None,
    replayer: Replayer | None = None,
) -> Console:
    ledger = ledger or Ledger(settings.database_url)
    if ring is None:
        with ledger.session() as s:  # a new key while secrets are sealed would make them unreadable: refuse
            ring = load_keyring(settings.data_dir, create=not has_sealed_secrets(s))
    vault = Vault(ring)
    return Console(
        settings=settings,
        ledger=ledger,
        vault=vault,
        users=Users(ledger),
        connections=Connections(ledger, vault),
        replayer=replayer or EngineReplayer(),
        signer=URLSafeTimedSerializer(ring.current.derive("ledgerlink/session-cookie")),
        csrf_key=ring.current.derive("ledgerlink/csrf"),
    )


def create_app(
    settings: ConsoleSettings,
    *,
    ledger: Ledger | None = None,
    ring: KeyRing | None = None,
    replayer: Replayer | None = None,
) -> FastAPI:
    from ledgerlink.systems.registry import load_systems
    from ledgerlink.web.routes import register_routes

    load_systems()  # the connection form lists every registered system; mappings need their templates
    app = FastAPI(
        title="LedgerLink console API",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url=None,  # the stock docs pages load scripts from a CDN; the spec is enough
        redoc_url=None,
    )
    app.state.console = build_console(settings, ledger=ledger, ring=ring, replayer=replayer)
    register_routes(app)

    async def stop_preview_workers() -> None:
        worker = getattr(app.state, "preview_worker", None)
        if worker is not None:
            worker.close()

    app.router.on_shutdown.append(stop_preview_workers)
    _install_handlers(app)
    _install_middleware(app)
    return app


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, _exc: NotSignedIn) -> Response:
        return guard.not_signed_in(request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if guard.is_api(request) or request.headers.get("hx-request"):
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
        from ledgerlink.web.templating import render

        return render(
            request, "error.html", {"status": exc.status_code, "detail": exc.detail}, status_code=exc.status_code
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        # Echoing back the input could echo a secret someone pasted in the wrong field: report where, not what.
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, 422)

    @app.exception_handler(OverflowError)
    async def overflow(request: Request, exc: OverflowError) -> Response:
        # An id too big for the database (e.g. /api/failed/99999999999999999999): not found, not a traceback.
        return JSONResponse({"detail": "no such record (id out of range)"}, 404)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal error; see the server log"}, 500)


def _install_middleware(app: FastAPI) -> None:
    console: Console = app.state.console

    async def principal(request: Request) -> Any:
        return await guard.in_thread(lambda: lookup_principal(request))

    # Added first, so it runs inside the headers middleware: refusals still carry the security headers.
    app.add_middleware(
        guard.Guard,
        max_body_bytes=lambda: console.settings.max_body_bytes,
        principal=principal,
    )

    @app.middleware("http")
    async def headers_and_logs(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request.state.nonce = secrets.token_urlsafe(16)
        request_id = request.headers.get("x-request-id", "")[:64] or uuid.uuid4().hex[:16]
        token = log_context.set({"request_id": request_id})
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            log_context.reset(token)
        route = request.scope.get("route")
        metrics.observe_request(
            request.method, getattr(route, "path", "unmatched"), response.status_code, time.perf_counter() - started
        )
        response.headers["Content-Security-Policy"] = CSP.format(nonce=request.state.nonce)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Request-Id"] = request_id
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        refresh_session_cookie(request, response)
        return response


__all__ = ["HTTPException", "build_console", "create_app"]
