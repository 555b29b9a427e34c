"""KashFlow client: REST v2 with the session token of ``auth.KashFlowAuth``, paged lists, errors mapped to
``TransientError`` (worth retrying later) and ``PermanentError`` (this record is wrong).

Every request, sign-ins included, passes the pacer (the shared rate limiter). A 429 is waited out in place after its
``Retry-After``; every other retry is the engine's (KashFlow creates carry no idempotency key: the adapter looks
before it creates again)."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from ledgerlink.systems.errors import AuthenticationError, PermanentError, TransientError
from ledgerlink.systems.http import calls_made, decimal_json, make_client, retry_after_seconds, send_waiting_out_429
from ledgerlink.systems.kashflow.auth import KashFlowAuth
from ledgerlink.systems.ratelimit import NoPacing, Pacer

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
    max_wait: float = 30.0  # longest Retry-After waited out in place; longer ones go to the engine's retries

    def __repr__(self) -> str:
        return f"KashFlowSettings(base_url={self.base_url!r}, username={self.username!r}, password='***')"


class KashFlowClient:
    def __init__(self, settings: KashFlowSettings) -> None:
        self.settings = settings
        self.auth = KashFlowAuth(settings.base_url, settings.username, settings.password, settings.memorable_word)
        self._http = make_client(
            settings.base_url.rstrip("/") + "/",
            verify=settings.verify,
            transport=settings.transport,
            pacer=settings.pacer,
            auth=self.auth,
        )

    def __repr__(self) -> str:
        return f"KashFlowClient({self.settings!r})"

    @property
    def calls_made(self) -> int:
        return calls_made(self._http)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = send_waiting_out_429(self._http, SYSTEM, method, path, max_wait=self.settings.max_wait, **kwargs)
        self._raise_for_status(response, method, path)
        return response

    def _raise_for_status(self, response: httpx.Response, method: str, path: str) -> None:
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
        if status == 401:
            raise AuthenticationError(
                f"session refused right after signing in again: {code} {message}".strip(),
                system=SYSTEM,
                status=status,
                code=code,
            )
        field = body.get("Field") or body.get("field")
        raise PermanentError(f"{method} {path}: {message}", system=SYSTEM, status=status, code=code, field=field)

    # --- reads -------------------------------------------------------------------------------------------

    def _get_or_none(self, path: str, **kwargs: Any) -> dict[str, Any] | None:
        try:
            return dict(decimal_json(self.request("GET", path, **kwargs)))
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every row of a list endpoint, following ``MetaData.NextPageUrl``."""
        query: dict[str, Any] = {"page": 1, "perpage": self.settings.page_size, **(params or {})}
        while True:
            body = decimal_json(self.request("GET", path, params=dict(query)))
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
        """The customer's invoice whose CustomerReference is ``reference``: how a retried create finds its first
        attempt. ``filterby`` (documented: a search) narrows the list; the exact match is made here."""
        for row in self.list("invoices", {"filterby": reference}):
            same_customer = str(row.get("CustomerCode") or "").casefold() == customer_code.casefold()
            if row.get("CustomerReference") == reference and same_customer:
                return row
        return None

    def get_product(self, code: str, nominal_code: int = 4000) -> dict[str, Any] | None:
        return self._get_or_none(f"products/{nominal_code}/{code}")

    def invoice_pdf(self, number: str) -> bytes:
        """``/invoices/{number}/pdf``: no KashFlow source shows this route (the fallback for a missing permalink)."""
        return self.request("GET", f"invoices/{number}/pdf").content

    def document(self, permalink: str) -> bytes:
        """A permalink document (``/v2/documents/invoice/{guid}``, as invoices carry it): the documented PDF."""
        path = permalink.split("/v2/", 1)[1] if "/v2/" in permalink else permalink.lstrip("/")
        return self.request("GET", path).content

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

    def add_bulk_payment(self, bulk: dict[str, Any]) -> dict[str, Any]:
        """``POST /invoices/bulk/payments`` with a ``BulkPayment`` (the documented way to pay invoices)."""
        return dict(decimal_json(self.request("POST", "invoices/bulk/payments", json=bulk)))

    def bank_accounts(self) -> builtins.list[dict[str, Any]]:
        body = decimal_json(self.request("GET", "bankaccounts"))
        rows = body.get("Data") if isinstance(body, dict) else body
        return [dict(row) for row in rows or []]
