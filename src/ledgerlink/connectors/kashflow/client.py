"""KashFlow client. The session token comes from a two-step dance: user name and password, then three letters
of the memorable word at positions KashFlow picks. A 401 re-runs the dance once and repeats the request.

Every request passes the pacer (the shared rate limiter) first. A 429 is repeated in place after its
``Retry-After`` (refused unprocessed, so always safe); other transient failures are repeated in place for reads
and updates (PUT) only, since KashFlow creates carry no idempotency key (the adapter looks before it creates again)."""

from __future__ import annotations

import builtins
import functools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from ledgerlink.connectors._http import decimal_json, make_client, retry_after_seconds, send, with_transient_retries
from ledgerlink.connectors.errors import AuthenticationError, PermanentError, TransientError
from ledgerlink.engine.ratelimit import NoPacing, Pacer

SYSTEM = "kashflow"


@dataclass
class KashFlowSettings:
    base_url: str  # e.g. https://api.kashflow.com/v2
    username: str
    password: str
    memorable_word: str
    verify: bool | str = True
    transport: httpx.BaseTransport | None = None
    page_size: int = 100
    pacer: Pacer = field(default_factory=NoPacing)
    attempts: int = 5  # in-place attempts after a 429
    max_wait: float = 30.0  # longest Retry-After honoured in place; longer ones go to the engine's retries

    def __repr__(self) -> str:
        return f"KashFlowSettings(base_url={self.base_url!r}, username={self.username!r}, password='***')"


class KashFlowClient:
    def __init__(self, settings: KashFlowSettings) -> None:
        self.settings = settings
        self._http = make_client(
            settings.base_url.rstrip("/") + "/", verify=settings.verify, transport=settings.transport
        )
        self._token: str | None = None
        self._lock = threading.Lock()
        self.calls_made = 0

    def __repr__(self) -> str:
        return f"KashFlowClient({self.settings!r})"

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self.settings.pacer.slot():
            response = send(self._http, SYSTEM, method, path, **kwargs)
        self.calls_made += 1
        return response

    # --- session -----------------------------------------------------------------------------------------

    def _login(self) -> str:
        s = self.settings
        first = self._send("POST", "sessiontoken", json={"UserName": s.username, "Password": s.password})
        self._raise_for_status(first, "POST", "sessiontoken", auth_step=True)
        body = first.json()
        letters = []
        for item in body.get("MemorableWordList", []):
            position = int(item["Position"])
            if not 1 <= position <= len(s.memorable_word):
                raise AuthenticationError(
                    f"KashFlow asked for memorable-word letter {position}, the stored word is shorter", system=SYSTEM
                )
            letters.append({"Position": position, "Value": s.memorable_word[position - 1]})
        second = self._send(
            "PUT", "sessiontoken", json={"TemporaryToken": body["TemporaryToken"], "MemorableWordList": letters}
        )
        self._raise_for_status(second, "PUT", "sessiontoken", auth_step=True)
        return str(second.json()["SessionToken"])

    def _session_token(self) -> str:
        with self._lock:
            if self._token is None:
                self._token = self._login()
            return self._token

    def request(self, method: str, path: str, *, retry: bool | None = None, **kwargs: Any) -> httpx.Response:
        """``retry`` (default: PUTs, which replace a record by its code or number, so repeating one is harmless)
        repeats transient failures in place; a 429 is always repeated. Without it a sync page's dozens of updates
        would each have to get through at once, and under a few percent of server errors the whole page would
        use up its retries."""
        retry = method == "PUT" if retry is None else retry
        delay = 0.1
        for attempt in range(self.settings.attempts):
            try:
                return self._authenticated(method, path, **kwargs)
            except TransientError as exc:
                if not (retry or exc.status == 429) or attempt == self.settings.attempts - 1:
                    raise
                wait = exc.retry_after if exc.retry_after is not None else delay
                if wait > self.settings.max_wait:
                    raise
                time.sleep(wait)
                delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")

    def _authenticated(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(2):
            token = self._session_token()
            response = self._send(method, path, headers={"Authorization": f"KfToken {token}"}, **kwargs)
            if response.status_code == 401 and attempt == 0:
                # The session expired (idle timeout, restart): log in again and repeat the same request.
                with self._lock:
                    if self._token == token:
                        self._token = None
                continue
            self._raise_for_status(response, method, path)
            return response
        raise AssertionError("unreachable")

    def _raise_for_status(self, response: httpx.Response, method: str, path: str, *, auth_step: bool = False) -> None:
        status = response.status_code
        if status < 300:
            return
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        code = str(body.get("Error") or body.get("error") or "")
        message = str(body.get("Message") or body.get("message") or response.text[:300])
        if status == 429 or status >= 500:
            raise TransientError(
                f"{method} {path}: {message or status}",
                system=SYSTEM,
                status=status,
                code=code,
                retry_after=retry_after_seconds(response),
            )
        if auth_step or status == 401:
            raise AuthenticationError(
                f"login refused: {code} {message}".strip(), system=SYSTEM, status=status, code=code
            )
        field = body.get("Field") or body.get("field")
        raise PermanentError(f"{method} {path}: {message}", system=SYSTEM, status=status, code=code, field=field)

    # --- reads -------------------------------------------------------------------------------------------

    def _get_or_none(self, path: str, **kwargs: Any) -> dict[str, Any] | None:
        try:
            return dict(decimal_json(with_transient_retries(lambda: self.request("GET", path, **kwargs))))
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every row of a list endpoint, following ``MetaData.NextPageUrl``."""
        query: dict[str, Any] = {"page": 1, "perpage": self.settings.page_size, **(params or {})}
        while True:
            body = decimal_json(
                with_transient_retries(functools.partial(self.request, "GET", path, params=dict(query)))
            )
            rows = body.get("Data") or []
            yield from rows
            next_url = (body.get("MetaData") or {}).get("NextPageUrl")
            if not next_url or not rows:
                return
            query["page"] = int(query["page"]) + 1

    def get_customer(self, code: str) -> dict[str, Any] | None:
        return self._get_or_none(f"customers/{code}")

    def get_invoice(self, number: str) -> dict[str, Any] | None:
        return self._get_or_none(f"invoices/{number}")

    def find_invoice_by_reference(self, customer_code: str, reference: str) -> dict[str, Any] | None:
        """The invoice whose CustomerReference is ``reference``: how a retried create finds its first attempt."""
        for row in self.list("invoices", {"customercode": customer_code, "customerreference": reference}):
            if row.get("CustomerReference") == reference:
                return row
        return None

    def get_product(self, code: str, nominal_code: int = 4000) -> dict[str, Any] | None:
        return self._get_or_none(f"products/{nominal_code}/{code}")

    def invoice_pdf(self, number: str) -> bytes:
        return with_transient_retries(lambda: self.request("GET", f"invoices/{number}/pdf")).content

    # --- writes ------------------------------------------------------------------------------------------

    def create_customer(self, payload: dict[str, Any]) -> dict[str, Any]:
        return dict(decimal_json(self.request("POST", "customers", json=payload)))

    def update_customer(self, code: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.request("PUT", f"customers/{code}", json=payload)
        return dict(decimal_json(response)) if response.content else {}

    def create_product(self, payload: dict[str, Any]) -> dict[str, Any]:
        return dict(decimal_json(self.request("POST", "products", json=payload)))

    def create_invoice(self, payload: dict[str, Any]) -> dict[str, Any]:
        return dict(decimal_json(self.request("POST", "invoices", json=payload)))

    def update_invoice(self, number: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.request("PUT", f"invoices/{number}", json=payload)
        return dict(decimal_json(response)) if response.content else {}

    # --- payments and bank accounts ----------------------------------------------------------------------

    def list_payments(self, number: str) -> builtins.list[dict[str, Any]]:
        rows = decimal_json(with_transient_retries(lambda: self.request("GET", f"invoices/{number}/payments")))
        return [dict(row) for row in rows or []]

    def add_payment(self, number: str, payload: dict[str, Any]) -> dict[str, Any]:
        return dict(decimal_json(self.request("POST", f"invoices/{number}/payments", json=payload)))

    def bank_accounts(self) -> builtins.list[dict[str, Any]]:
        body = decimal_json(with_transient_retries(lambda: self.request("GET", "bankaccounts")))
        rows = body.get("Data") if isinstance(body, dict) else body
        return [dict(row) for row in rows or []]
