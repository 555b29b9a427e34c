"""The ASGI app: HTTP in and out, authentication, API-usage accounting, admin endpoints, fault injection.

Routes: ``POST /services/oauth2/token`` and ``/revoke``; ``GET /services/oauth2/userinfo`` and the Identity URL
``GET /id/{orgId}/{userId}`` (``identity.py``); SOAP ``login()``/``logout()`` at ``POST /services/Soap/u/{version}``
(``soap_login.py``); ``GET /services/data/`` (versions, free and
unauthenticated); ``/services/data/vXX.X/...`` (``rest_api`` + ``composite``); ``/__admin/...`` for tests (no auth):
``POST expire-tokens``, ``POST reset-api-usage``, ``PUT|POST daily-limit`` ``{"limit": n}``, ``GET api-usage``,
``POST undelete/{id}``, ``GET events?after=&limit=``, and ``GET|PUT faults`` (from ``FaultInjector``).
Bulk API 2.0 (``jobs/ingest``, ``jobs/query``) is served by ``bulk_ingest`` and ``bulk_query``.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from ledgerlink.sandbox._faults import FaultInjector

from . import bulk_ingest as _bulk_ingest  # noqa: F401  (registers the Bulk API 2.0 routes)
from . import bulk_query as _bulk_query  # noqa: F401
from . import composite as _composite  # noqa: F401  (registers the composite routes)
from . import sosl as _sosl  # noqa: F401  (registers the search resource)
from . import tooling as _tooling  # noqa: F401  (registers the Tooling API's ManagedEventSubscription)
from .config import SalesforceSandboxConfig
from .context import parse_call_options
from .errors import ApiError, invalid_session, not_found, request_limit_exceeded
from .identity import BAD_TOKEN, access_token, identity_body, userinfo_body
from .oauth import OAuthError, token_response
from .org import SalesforceOrg
from .rest_api import ApiRequest, ApiResponse, dispatch, error_response
from .soap_login import XML_TYPE
from .soap_login import handle as soap_handle

_VERSIONED = re.compile(r"^/services/data/v(\d+\.\d+)(?:/(.*))?$")
JSON_TYPE = "application/json;charset=UTF-8"


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status_code=status, media_type=JSON_TYPE, headers=headers)


def _base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "oauth") and token.strip() else None


class _Endpoints:
    def __init__(self, org: SalesforceOrg) -> None:
        self.org = org

    async def token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        form.update({k: v for k, v in request.query_params.items() if k not in form})
        try:
            body = token_response(self.org, form, request.headers.get("authorization"), _base_url(request))
        except OAuthError as err:
            return _json(err.status, err.body)
        return _json(200, body)

    async def revoke(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        token = form.get("token") or request.query_params.get("token", "")
        if not self.org.tokens.revoke(token):
            return _json(
                400, {"error": "unsupported_token_type", "error_description": "this token type is not supported"}
            )
        return Response(status_code=200)

    async def identity(self, request: Request) -> Response:
        """The Identity URL; its org id must be this org's (15 or 18 characters), its user one of the org's."""
        params = await self._params(request)
        token = self.org.tokens.validate(access_token(request.headers.get("authorization"), params))
        if token is None:
            return Response(BAD_TOKEN, status_code=403, media_type="text/plain")
        body = None
        if request.path_params["org_id"][:15] == self.org.config.org_id[:15]:
            body = identity_body(
                self.org, token, request.path_params["user_id"], _base_url(request), params.get("version")
            )
        if body is None:
            return _json(404, not_found().body())
        return _json(200, body)

    async def userinfo(self, request: Request) -> Response:
        params = await self._params(request)
        token = self.org.tokens.validate(access_token(request.headers.get("authorization"), params))
        if token is None:
            return Response(BAD_TOKEN, status_code=403, media_type="text/plain")
        return _json(200, userinfo_body(self.org, token, _base_url(request), params.get("version")))

    @staticmethod
    async def _params(request: Request) -> dict[str, str]:
        """Query parameters, plus a form body's for POST (both endpoints take either)."""
        params = dict(request.query_params)
        if request.method == "POST":
            params.update(parse_qsl((await request.body()).decode(errors="replace")))
        return params

    async def soap(self, request: Request) -> Response:
        version = request.path_params["version"]
        if version not in self.org.config.supported_versions:
            return Response(status_code=404)
        status, body = soap_handle(self.org, version, await request.body(), _base_url(request))
        return Response(body, status_code=status, media_type=XML_TYPE)

    async def versions(self, request: Request) -> Response:
        # The one resource without a Sforce-Limit-Info header, free and open to anyone.
        return _json(
            200,
            [
                {"label": f"Sandbox v{v}", "url": f"/services/data/v{v}", "version": v}
                for v in self.org.config.supported_versions
            ],
        )

    async def data(self, request: Request) -> Response:
        m = _VERSIONED.match(request.url.path)
        if m is None or m.group(1) not in self.org.config.supported_versions:
            return _json(404, not_found().body())
        token = _bearer(request)
        if token is None or self.org.tokens.validate(token) is None:
            # Not counted, but still reports the usage so a client's pacing logic never lacks the header.
            return _json(401, invalid_session().body(), {"Sforce-Limit-Info": self.org.usage.header()})
        allowed, used = self.org.usage.try_consume()
        limit_header = {"Sforce-Limit-Info": self.org.usage.header(used)}
        if not allowed:
            return _json(403, request_limit_exceeded().body(), limit_header)
        ctx = self.org.context(
            client_id=parse_call_options(request.headers.get("sforce-call-options")),
            api_version=m.group(1),
            base_url=_base_url(request),
        )
        api_request = ApiRequest(
            method=request.method,
            path=(m.group(2) or "").strip("/"),
            query=dict(request.query_params),
            body=await request.body(),
            ctx=ctx,
            content_type=request.headers.get("content-type", ""),
        )
        try:
            response = dispatch(self.org, api_request)
        except ApiError as err:  # errors raised outside a handler (e.g. by the router itself)
            response = error_response(err)
        return self._render(response, limit_header)

    @staticmethod
    def _render(response: ApiResponse, extra_headers: dict[str, str]) -> Response:
        headers = {**response.headers, **extra_headers}
        if response.status == 204 or response.body is None:
            return Response(status_code=response.status, headers=headers)
        if isinstance(response.body, bytes):
            return Response(
                response.body, status_code=response.status, media_type=response.content_type, headers=headers
            )
        return _json(response.status, response.body, headers)

    # -- admin ---------------------------------------------------------------------------------------------
    async def expire_tokens(self, request: Request) -> Response:
        return JSONResponse({"expired": self.org.tokens.expire_all_access_tokens()})

    async def reset_usage(self, request: Request) -> Response:
        self.org.usage.reset()
        return JSONResponse(self._usage())

    async def daily_limit(self, request: Request) -> Response:
        try:
            limit = int((await request.json())["limit"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'expected {"limit": <int>}'}, status_code=400)
        self.org.usage.set_daily_limit(limit)
        return JSONResponse(self._usage())

    async def usage(self, request: Request) -> Response:
        return JSONResponse(self._usage())

    def _usage(self) -> dict[str, int]:
        return {"used": self.org.usage.used(), "limit": self.org.usage.daily_limit}

    async def undelete(self, request: Request) -> Response:
        client = parse_call_options(request.headers.get("sforce-call-options"))
        try:
            self.org.undelete(request.path_params["record_id"], client_id=client)
        except ApiError as err:
            return _json(err.status, err.body())
        return JSONResponse({"id": request.path_params["record_id"], "success": True, "errors": []})

    async def events(self, request: Request) -> Response:
        after = request.query_params.get("after")
        limit = int(request.query_params.get("limit", "1000"))
        events = self.org.events.events_after(int(after) if after else None, limit)
        return JSONResponse([e.to_dict() for e in events])


def create_app(config: SalesforceSandboxConfig) -> ASGIApp:
    """The sandbox as an ASGI app, wrapped in fault injection; the org is at ``app.app.state.org``."""
    org = SalesforceOrg(config)
    ep = _Endpoints(org)
    methods = ["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD"]
    routes = [
        Route("/services/oauth2/token", ep.token, methods=["POST"]),
        Route("/services/oauth2/revoke", ep.revoke, methods=["POST", "GET"]),
        Route("/services/oauth2/userinfo", ep.userinfo, methods=["GET", "POST"]),
        Route("/id/{org_id}/{user_id}", ep.identity, methods=["GET", "POST"]),
        Route("/services/Soap/u/{version}", ep.soap, methods=["POST"]),
        Route("/services/Soap/u/{version}/{org_id}", ep.soap, methods=["POST"]),
        Route("/services/data", ep.versions, methods=["GET"]),
        Route("/services/data/", ep.versions, methods=["GET"]),
        Route("/services/data/{rest:path}", ep.data, methods=methods),
        Route("/__admin/expire-tokens", ep.expire_tokens, methods=["POST"]),
        Route("/__admin/reset-api-usage", ep.reset_usage, methods=["POST"]),
        Route("/__admin/daily-limit", ep.daily_limit, methods=["POST", "PUT"]),
        Route("/__admin/api-usage", ep.usage, methods=["GET"]),
        Route("/__admin/undelete/{record_id}", ep.undelete, methods=["POST"]),
        Route("/__admin/events", ep.events, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.org = org
    return FaultInjector(app, config.faults)
