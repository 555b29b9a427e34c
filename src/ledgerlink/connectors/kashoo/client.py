"""Kashoo client: token auth, business discovery, limit/offset paging, idempotent creates by client id.

A token comes from ``POST /api/authTokens`` and goes out as ``Authorization: TOKEN json:{…}``. A 401 gets a new
token and the same request again, once. Every request passes the pacer first (the shared rate limiter); a 429
is retried in place after its ``Retry-After`` (the server refused it unprocessed, so that is always safe), as
are 5xx and dropped connections for reads and for creates that carry their own ``id``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from ledgerlink.connectors._http import decimal_json, make_client, retry_after_seconds, send
from ledgerlink.connectors.errors import AuthenticationError, PermanentError, TransientError
from ledgerlink.engine.ratelimit import NoPacing, Pacer

SYSTEM = "kashoo"


@dataclass
class KashooSettings:
    base_url: str  # e.g. https://api.kashoo.com/api
    email: str
    password: str
    verify: bool | str = True
    transport: httpx.BaseTransport | None = None
    page_size: int = 100
    business_id: int | None = None  # found via /users/me/businesses when not set
    pacer: Pacer = field(default_factory=NoPacing)
    token: str | None = None  # a token JSON obtained elsewhere (e.g. shared by workers); renewed on 401
    attempts: int = 5  # in-place attempts for retryable requests
    max_wait: float = 30.0  # longest Retry-After honoured in place; longer ones go to the engine's retries

    def __repr__(self) -> str:
        return f"KashooSettings(base_url={self.base_url!r}, email={self.email!r}, password='***')"


class KashooClient:
    def __init__(self, settings: KashooSettings) -> None:
        self.settings = settings
        self._http = make_client(
            settings.base_url.rstrip("/") + "/", verify=settings.verify, transport=settings.transport
        )
        self._token: str | None = settings.token
        self._business_id = settings.business_id
        self._lock = threading.Lock()
        self.calls_made = 0

    def __repr__(self) -> str:
        return f"KashooClient({self.settings!r})"

    def close(self) -> None:
        self._http.close()

    # --- auth --------------------------------------------------------------------------------------------

    def _login(self) -> str:
        s = self.settings
        with s.pacer.slot():
            response = send(self._http, SYSTEM, "POST", "authTokens", data={"email": s.email, "password": s.password})
        self.calls_made += 1
        if response.status_code == 429 or response.status_code >= 500:
            self._raise_for_status(response, "POST", "authTokens")
        if response.status_code != 200:
            body = _safe_body(response)
            raise AuthenticationError(
                f"login refused: {body.get('errorCode', response.status_code)}", system=SYSTEM, status=401
            )
        # Sent back verbatim as the header's JSON; it names a token, never the password.
        return json.dumps(response.json(), separators=(",", ":"))

    def _auth_header(self) -> str:
        with self._lock:
            if self._token is None:
                self._token = self._login_with_retries()
            return self._token

    def _login_with_retries(self) -> str:
        delay = 0.1
        for attempt in range(self.settings.attempts):
            try:
                return self._login()
            except TransientError as exc:
                wait = pause(exc, delay, self.settings.max_wait)
                if attempt == self.settings.attempts - 1 or wait is None:
                    raise
                time.sleep(wait)
                delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")

    def token(self) -> str:
        """The current token JSON (to share with other workers of the same connection)."""
        return self._auth_header()

    # --- requests ----------------------------------------------------------------------------------------

    def _once(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, re-authenticating once on 401; errors mapped to Transient/PermanentError."""
        for attempt in range(2):
            token = self._auth_header()
            with self.settings.pacer.slot():
                response = send(
                    self._http, SYSTEM, method, path, headers={"Authorization": f"TOKEN json:{token}"}, **kwargs
                )
            self.calls_made += 1
            if response.status_code == 401 and attempt == 0:
                with self._lock:
                    if self._token == token:
                        self._token = None
                continue
            self._raise_for_status(response, method, path)
            return response
        raise AssertionError("unreachable")

    def request(self, method: str, path: str, *, retry: bool | None = None, **kwargs: Any) -> httpx.Response:
        """``retry`` (default: reads only) repeats transient failures in place; a 429 is always repeated."""
        retry = method == "GET" if retry is None else retry
        delay = 0.1
        for attempt in range(self.settings.attempts):
            try:
                return self._once(method, path, **kwargs)
            except TransientError as exc:
                wait = pause(exc, delay, self.settings.max_wait)
                if attempt == self.settings.attempts - 1 or wait is None or not (retry or exc.status == 429):
                    raise
                time.sleep(wait)
                delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")

    def _raise_for_status(self, response: httpx.Response, method: str, path: str) -> None:
        status = response.status_code
        if status < 300:
            return
        body = _safe_body(response)
        code = str(body.get("errorCode") or "") or None
        message = str(body.get("message") or f"HTTP {status}")
        where = f"{method} {path}"
        if status == 429 or status >= 500:
            raise TransientError(
                f"{where}: {message}",
                system=SYSTEM,
                status=status,
                code=code,
                retry_after=retry_after_seconds(response),
            )
        if status == 401:
            raise AuthenticationError(f"{where}: {message}", system=SYSTEM, status=status, code=code)
        raise PermanentError(
            f"{where}: {message}", system=SYSTEM, status=status, code=code, field=body.get("field") or None
        )

    # --- business scope ----------------------------------------------------------------------------------

    def business_id(self) -> int:
        if self._business_id is None:
            businesses = decimal_json(self.request("GET", "users/me/businesses"))
            if not businesses:
                raise PermanentError("this login has no business", system=SYSTEM)
            self._business_id = int(businesses[0]["id"])
        return self._business_id

    def path(self, collection: str) -> str:
        return f"businesses/{self.business_id()}/{collection}"

    def list(self, collection: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every entity of a collection, paged by limit/offset until an empty page."""
        offset, limit = 0, self.settings.page_size
        while True:
            page = decimal_json(
                self.request("GET", self.path(collection), params={**(params or {}), "limit": limit, "offset": offset})
            )
            if not page:
                return
            yield from page
            offset += len(page)

    def get(self, collection: str, entity_id: int | str) -> dict[str, Any] | None:
        try:
            return dict(decimal_json(self.request("GET", f"{self.path(collection)}/{entity_id}")))
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise

    def create(self, collection: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """POST; with a client ``id`` the create is idempotent and retried in place. (entity, newly created)."""
        response = self.request("POST", self.path(collection), json=body, retry="id" in body)
        return dict(decimal_json(response)), response.status_code == 201

    def pdf(self, record_id: int | str) -> bytes | None:
        """A record (an invoice) as PDF bytes; None when Kashoo has no such record."""
        try:
            return self.request("GET", f"{self.path('records')}/{record_id}/pdf").content
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise

    def update(self, collection: str, entity_id: int | str, body: dict[str, Any]) -> dict[str, Any]:
        # PUT merges the fields given: repeating it is harmless.
        return dict(decimal_json(self.request("PUT", f"{self.path(collection)}/{entity_id}", json=body, retry=True)))


def _safe_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]  # some gateways answer errors as a one-element list
    return body if isinstance(body, dict) else {}


def pause(exc: TransientError, backoff: float, max_wait: float) -> float | None:
    """How long to wait before repeating: the server's Retry-After if it sent one, else the backoff.
    None when Retry-After is longer than we are willing to block a worker (the engine retries later)."""
    if exc.retry_after is None:
        return backoff
    return exc.retry_after if exc.retry_after <= max_wait else None
