"""The Salesforce REST client. Every write carries ``Sforce-Call-Options: client=ledgerlink`` so that change
events caused by LedgerLink itself can be recognised and not synced back."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from ledgerlink.connectors._http import make_client, retry_after_seconds, send, with_transient_retries
from ledgerlink.connectors.errors import ApiLimitExhausted, PermanentError, TransientError
from ledgerlink.connectors.salesforce.auth import OAuthFlow, Token

SYSTEM = "salesforce"
CALL_OPTIONS_CLIENT = "ledgerlink"
COLLECTION_SIZE = 200


@dataclass
class SalesforceSettings:
    login_url: str
    auth: OAuthFlow
    api_version: str = "59.0"
    verify: bool | str = True
    client_tag: str = CALL_OPTIONS_CLIENT
    # Stop before the org's daily allocation is spent, leaving headroom for people using Salesforce.
    reserve_api_fraction: float = 0.05
    transport: httpx.BaseTransport | None = None


@dataclass
class ApiUsage:
    used: int = 0
    limit: int = 0
    calls_made: int = 0  # by this client, since it was created
    by_kind: dict[str, int] = field(default_factory=dict)


class SalesforceClient:
    def __init__(self, settings: SalesforceSettings) -> None:
        self.settings = settings
        self._login = make_client(settings.login_url, verify=settings.verify, transport=settings.transport)
        self._token: Token | None = None
        self._api: httpx.Client | None = None
        self._lock = threading.Lock()
        self.usage = ApiUsage()

    # --- plumbing ----------------------------------------------------------------------------------------

    @property
    def base_path(self) -> str:
        return f"/services/data/v{self.settings.api_version}"

    def _session(self) -> httpx.Client:
        with self._lock:
            if self._token is None or self._api is None:
                self._token = self.settings.auth.fetch_token(self._login)
                if self._api is not None:
                    self._api.close()
                self._api = make_client(
                    self._token.instance_url,
                    verify=self.settings.verify,
                    transport=self.settings.transport,
                    headers={
                        "Authorization": f"Bearer {self._token.access_token}",
                        "Sforce-Call-Options": f"client={self.settings.client_tag}",
                    },
                )
            return self._api

    def _invalidate(self, stale: httpx.Client) -> None:
        with self._lock:
            if self._api is stale:
                self._token = None

    def close(self) -> None:
        self._login.close()
        if self._api is not None:
            self._api.close()

    def request(self, method: str, path: str, *, kind: str = "rest", **kwargs: Any) -> httpx.Response:
        """One API call: renews the session once on INVALID_SESSION_ID, maps errors, tracks API usage."""
        self._check_budget()
        url = path if path.startswith("/") else f"{self.base_path}/{path}"
        for attempt in range(2):
            api = self._session()
            response = send(api, SYSTEM, method, url, **kwargs)
            self.usage.calls_made += 1
            self.usage.by_kind[kind] = self.usage.by_kind.get(kind, 0) + 1
            self._read_limit_info(response)
            if response.status_code == 401 and attempt == 0:
                self._invalidate(api)
                continue
            self._raise_for_status(response, method, url)
            return response
        raise AssertionError("unreachable")

    def _read_limit_info(self, response: httpx.Response) -> None:
        info = response.headers.get("Sforce-Limit-Info", "")
        if info.startswith("api-usage="):
            used, _, limit = info.removeprefix("api-usage=").partition("/")
            if used.isdigit() and limit.isdigit():
                self.usage.used, self.usage.limit = int(used), int(limit)

    def _check_budget(self) -> None:
        usage = self.usage
        if usage.limit and usage.limit - usage.used <= usage.limit * self.settings.reserve_api_fraction:
            raise ApiLimitExhausted(
                f"daily API allocation nearly spent ({usage.used}/{usage.limit}); pausing to keep "
                f"{self.settings.reserve_api_fraction:.0%} in reserve",
                system=SYSTEM,
                code="REQUEST_LIMIT_RESERVE",
            )

    def _raise_for_status(self, response: httpx.Response, method: str, url: str) -> None:
        status = response.status_code
        if status < 300:
            return
        errors = _error_list(response)
        first = errors[0] if errors else {}
        code = str(first.get("errorCode") or first.get("statusCode") or "")
        message = str(first.get("message") or response.text[:300])
        fields = first.get("fields") or []
        field_name = ",".join(fields) if isinstance(fields, list) else None
        if status == 429 or status >= 500 or code in ("UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE"):
            raise TransientError(
                f"{method} {url}: {message}",
                system=SYSTEM,
                status=status,
                code=code,
                retry_after=retry_after_seconds(response),
            )
        if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
            raise ApiLimitExhausted(message, system=SYSTEM, status=status, code=code)
        raise PermanentError(
            f"{method} {url}: {message}", system=SYSTEM, status=status, code=code, field=field_name or None
        )

    # --- reads -------------------------------------------------------------------------------------------

    def query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """Every record of a SOQL query, following ``nextRecordsUrl`` page by page."""
        for page in self.query_pages(soql, include_deleted=include_deleted):
            yield from page

    def query_pages(self, soql: str, *, include_deleted: bool = False) -> Iterator[list[dict[str, Any]]]:
        endpoint = "queryAll" if include_deleted else "query"
        body = with_transient_retries(lambda: self.request("GET", endpoint, params={"q": soql}, kind="query")).json()
        while True:
            yield body["records"]
            next_url = body.get("nextRecordsUrl")
            if body.get("done", True) or not next_url:
                return
            body = with_transient_retries(functools.partial(self.request, "GET", str(next_url), kind="query")).json()

    def get(self, sobject: str, record_id: str, fields: list[str] | None = None) -> dict[str, Any]:
        params = {"fields": ",".join(fields)} if fields else None
        return dict(
            with_transient_retries(lambda: self.request("GET", f"sobjects/{sobject}/{record_id}", params=params)).json()
        )

    # --- writes ------------------------------------------------------------------------------------------

    def create(self, sobject: str, fields: dict[str, Any]) -> str:
        return str(self.request("POST", f"sobjects/{sobject}", json=fields).json()["id"])

    def update(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        self.request("PATCH", f"sobjects/{sobject}/{record_id}", json=fields)

    def upsert(self, sobject: str, external_field: str, value: str, fields: dict[str, Any]) -> tuple[str, bool]:
        """Create or update by external id; returns (id, created)."""
        response = self.request("PATCH", f"sobjects/{sobject}/{external_field}/{value}", json=fields)
        body = response.json() if response.content else {}
        return str(body.get("id", "")), response.status_code == 201

    def delete(self, sobject: str, record_id: str) -> None:
        self.request("DELETE", f"sobjects/{sobject}/{record_id}")

    def create_many(
        self, sobject: str, records: list[dict[str, Any]], *, all_or_none: bool = False
    ) -> list[dict[str, Any]]:
        """sObject Collections, 200 records a call; results in input order (``success``, ``id``, ``errors``)."""
        results: list[dict[str, Any]] = []
        for start in range(0, len(records), COLLECTION_SIZE):
            chunk = [{"attributes": {"type": sobject}, **r} for r in records[start : start + COLLECTION_SIZE]]
            response = self.request(
                "POST", "composite/sobjects", json={"allOrNone": all_or_none, "records": chunk}, kind="composite"
            )
            results.extend(response.json())
        return results

    def update_many(
        self, sobject: str, records: list[dict[str, Any]], *, all_or_none: bool = False
    ) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for start in range(0, len(records), COLLECTION_SIZE):
            chunk = [{"attributes": {"type": sobject}, **r} for r in records[start : start + COLLECTION_SIZE]]
            response = self.request(
                "PATCH", "composite/sobjects", json={"allOrNone": all_or_none, "records": chunk}, kind="composite"
            )
            results.extend(response.json())
        return results

    def upsert_many(
        self, sobject: str, external_field: str, records: list[dict[str, Any]], *, all_or_none: bool = False
    ) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for start in range(0, len(records), COLLECTION_SIZE):
            chunk = [{"attributes": {"type": sobject}, **r} for r in records[start : start + COLLECTION_SIZE]]
            response = self.request(
                "PATCH",
                f"composite/sobjects/{sobject}/{external_field}",
                json={"allOrNone": all_or_none, "records": chunk},
                kind="composite",
            )
            results.extend(response.json())
        return results


def _error_list(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return []
    if isinstance(body, list):
        return [e for e in body if isinstance(e, dict)]
    if isinstance(body, dict):
        return [body]
    return []
