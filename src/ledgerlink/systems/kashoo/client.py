"""Kashoo client: the token of ``auth.KashooAuth``, business discovery, limit/offset paging, errors mapped to
``TransientError`` (worth retrying later) and ``PermanentError`` (this record is wrong).

Every request, the sign-in included, passes the pacer (the shared rate limiter). A 429 is waited out in place after
its ``Retry-After`` (the server refused it unprocessed, so that is always safe); every other retry is the engine's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from ledgerlink.systems.errors import AuthenticationError, PermanentError, TransientError
from ledgerlink.systems.http import calls_made, decimal_json, make_client, retry_after_seconds, send_waiting_out_429
from ledgerlink.systems.kashoo.auth import KashooAuth, error_body
from ledgerlink.systems.ratelimit import NoPacing, Pacer

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
    max_wait: float = 30.0  # longest Retry-After waited out in place; longer ones go to the engine's retries

    def __repr__(self) -> str:
        return f"KashooSettings(base_url={self.base_url!r}, email={self.email!r}, password='***')"


class KashooClient:
    def __init__(self, settings: KashooSettings) -> None:
        self.settings = settings
        self.auth = KashooAuth(settings.base_url, settings.email, settings.password, settings.token)
        self._http = make_client(
            settings.base_url.rstrip("/") + "/",
            verify=settings.verify,
            transport=settings.transport,
            pacer=settings.pacer,
            auth=self.auth,
        )
        self._business_id = settings.business_id

    def __repr__(self) -> str:
        return f"KashooClient({self.settings!r})"

    @property
    def calls_made(self) -> int:
        return calls_made(self._http)

    def close(self) -> None:
        self._http.close()

    def token(self) -> str:
        """The current token JSON (to share with other workers of the same connection)."""
        return self.auth.token(self._http)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = send_waiting_out_429(self._http, SYSTEM, method, path, max_wait=self.settings.max_wait, **kwargs)
        self._raise_for_status(response, method, path)
        return response

    def _raise_for_status(self, response: httpx.Response, method: str, path: str) -> None:
        status = response.status_code
        if status < 300:
            return
        body = error_body(response)
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
        """POST; (entity, newly created)."""
        response = self.request("POST", self.path(collection), json=body)
        return dict(decimal_json(response)), response.status_code == 201

    def pdf(self, record_id: int | str, *, missing_ok: bool = True) -> bytes | None:
        """A record (an invoice) as PDF bytes; None on a 404 when ``missing_ok`` (else the 404 is raised, so the
        caller can tell a missing route from a missing record)."""
        try:
            return self.request("GET", f"{self.path('records')}/{record_id}/pdf").content
        except PermanentError as exc:
            if exc.status == 404 and missing_ok:
                return None
            raise

    def update(self, collection: str, entity_id: int | str, body: dict[str, Any]) -> dict[str, Any]:
        # PUT merges the fields given: repeating it is harmless.
        return dict(decimal_json(self.request("PUT", f"{self.path(collection)}/{entity_id}", json=body)))
