"""Assemble the Kashoo sandbox: routes under ``/api``, errors, admin endpoints, rate limiter and fault injector."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Scope

from ledgerlink.formats.pdf import render_pdf
from ledgerlink.sandbox._faults import FaultInjector
from ledgerlink.sandbox._ratelimit import RateLimit, RateLimiter, client_address_key, header
from ledgerlink.sandbox.kashflow.app import AdminBypassesFaults
from ledgerlink.sandbox.kashflow.docstore import DocStore, SandboxClock
from ledgerlink.sandbox.kashoo import auth, credit_notes, records, refunds, resources
from ledgerlink.sandbox.kashoo.collections import Doc, check_business, register
from ledgerlink.sandbox.kashoo.config import KashooSandboxConfig
from ledgerlink.sandbox.kashoo.state import BEHAVIOUR_CHOICES, INVOICE, KashooState, ks
from ledgerlink.sandbox.kashoo.wire import ApiError, KashooJSON, entity_id, not_found


def _rate_key(scope: Scope) -> str:
    # Per credential: the token's authentication code, else the Basic user, else the caller's address.
    value = header(scope, b"authorization") or ""
    if code := auth.token_code(value):
        return f"token:{code}"
    if basic := auth.basic_credentials(value):
        return f"user:{basic[0].lower()}"
    return client_address_key(scope)


def _rate_error(limit: RateLimit, retry_after: float) -> dict[str, Any]:
    return {
        "errorCode": "TOO_MANY_REQUESTS",
        "message": f"more than {limit.requests} requests in {limit.per_seconds:g} s; retry in {retry_after:.3f} s",
        "field": None,
    }


def _contact_filter(request: Request, docs: list[Doc]) -> list[Doc]:
    if raw := request.query_params.get("contact"):
        contact = entity_id(raw, "contact")
        return [d for d in docs if d["contact"] == contact]
    return docs


def _business_router() -> APIRouter:
    router = APIRouter(prefix="/api", dependencies=[Depends(auth.require_token)])

    @router.get("/users/me/businesses")
    async def businesses(request: Request) -> KashooJSON:
        return KashooJSON([_business(ks(request))])

    @router.get("/businesses/{business_id:int}")
    async def business(business_id: int, request: Request) -> KashooJSON:
        check_business(ks(request), business_id)
        return KashooJSON(_business(ks(request)))

    for kind in (resources.CONTACTS, resources.ITEMS, resources.ACCOUNTS, resources.TAXES):
        register(router, kind)
    register(router, records.INVOICES, _contact_filter)
    register(router, records.PAYMENTS, _contact_filter)
    register(router, credit_notes.CREDIT_NOTES, _contact_filter)
    register(router, refunds.REFUNDS, refunds.list_filter)

    @router.get("/businesses/{business_id:int}/records/{record_id:int}")
    async def any_record(business_id: int, record_id: int, request: Request) -> KashooJSON:
        state = ks(request)
        check_business(state, business_id)
        for kind in (records.INVOICES, records.PAYMENTS):
            doc = state.store.get(kind.store_kind, str(record_id))
            if doc is not None:
                return KashooJSON(kind.view(state, doc))
        raise not_found("record", record_id)

    @router.get("/businesses/{business_id:int}/records/{record_id:int}/pdf")
    async def invoice_pdf(business_id: int, record_id: int, request: Request) -> Response:
        state = ks(request)
        check_business(state, business_id)
        if state.behaviour["pdf_route"] == "missing":  # as a Kashoo without this (unverified) route
            raise ApiError(404, "NOT_FOUND", f"no route GET {request.url.path}")
        doc = state.store.get(INVOICE, str(record_id))
        if doc is None:
            raise not_found("invoice", record_id)
        inv = records.invoice_view(state, doc)
        body = render_pdf(records.pdf_lines(state, inv), title=f"Invoice {inv['number']}")
        headers = {"Content-Disposition": f'inline; filename="invoice-{inv["number"]}.pdf"'}
        return Response(body, media_type="application/pdf", headers=headers)

    return router


def _business(state: KashooState) -> dict[str, Any]:
    cfg = state.config
    return {"id": cfg.business_id, "name": cfg.business_name, "currency": cfg.base_currency, "country": "CA"}


def _admin_routes(app: FastAPI) -> None:
    @app.post("/__admin/advance-clock")
    async def advance_clock(request: Request) -> dict[str, Any]:
        body = await request.json()
        now = ks(request).clock.advance(float(body.get("seconds", 0)))
        return {"now": now.isoformat(), "epochMillis": int(now.timestamp() * 1000)}

    @app.get("/__admin/clock")
    async def clock(request: Request) -> dict[str, Any]:
        state = ks(request)
        return {"now": state.clock.now().isoformat(), "epochMillis": state.now_ms()}

    @app.get("/__admin/behaviour")
    async def get_behaviour(request: Request) -> dict[str, str]:
        return dict(ks(request).behaviour)

    @app.put("/__admin/behaviour")
    async def put_behaviour(request: Request) -> Response:
        body = await request.json()
        state = ks(request)
        for key, value in dict(body).items():
            if key not in BEHAVIOUR_CHOICES or value not in BEHAVIOUR_CHOICES[key]:
                choices = {k: list(v) for k, v in BEHAVIOUR_CHOICES.items()}
                return KashooJSON({"errorCode": "INVALID_FIELD", "message": f"choices: {choices}"}, status_code=400)
        state.behaviour.update(body)
        return KashooJSON(dict(state.behaviour))

    @app.post("/__admin/expire-tokens")
    async def expire(request: Request) -> dict[str, Any]:
        state = ks(request)
        with state.store.lock:
            count = len(state.tokens)
            state.tokens.clear()
        return {"expired": count}


def build_api(config: KashooSandboxConfig) -> FastAPI:
    app = FastAPI(title="Kashoo sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    state = KashooState(config=config, store=DocStore(config.data_path), clock=SandboxClock())
    state.seed()
    app.state.kashoo = state

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> KashooJSON:
        return KashooJSON(exc.body(), status_code=exc.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> KashooJSON:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "ERROR")
        return KashooJSON({"errorCode": code, "message": str(exc.detail), "field": None}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> KashooJSON:
        return KashooJSON({"errorCode": "INVALID_FIELD", "message": str(exc.errors()), "field": None}, status_code=400)

    app.include_router(auth.router)
    app.include_router(_business_router())
    _admin_routes(app)
    return app


def create_app(config: KashooSandboxConfig | None = None) -> ASGIApp:
    """The Kashoo sandbox as an ASGI app: ``RateLimiter(FaultInjector(api))``. Base path ``/api``."""
    config = config or KashooSandboxConfig()
    api = build_api(config)
    faulty = AdminBypassesFaults(api, FaultInjector(api, config.faults))
    return RateLimiter(faulty, config.rate_limit, _rate_key, _rate_error)
