"""The Salesforce REST client. Every call carries ``Sforce-Call-Options: client=ledgerlink`` so that change
events caused by LedgerLink itself can be recognised and not synced back.

Reads: ``query``/``query_pages`` (following ``nextRecordsUrl``), ``changed_since`` (incremental by
``(SystemModstamp, Id)``, see ``engine.polling``), ``bulk.query`` for very large extracts. Writes: single-record
``create``/``update``/``upsert``/``delete``; ``write`` for batches, which goes through sObject Collections (200
records a call) below ``bulk_threshold`` records and Bulk API 2.0 from there, and reports a ``WriteResult`` per
record in input order either way. Every call is paced against the daily API allocation (``pacing``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from ledgerlink.systems.errors import (
    ApiLimitExhausted,
    AuthenticationError,
    ConnectorError,
    PermanentError,
    TransientError,
)
from ledgerlink.systems.http import calls_made, make_client, retry_after_seconds, send_waiting_out_429
from ledgerlink.systems.salesforce import auth
from ledgerlink.systems.salesforce.auth import OAuthFlow, SalesforceAuth
from ledgerlink.systems.salesforce.bulk import BulkClient, BulkSettings
from ledgerlink.systems.salesforce.incremental import Position, incremental_soql, soql_datetime, upper_bound
from ledgerlink.systems.salesforce.pacing import ApiBudget, PacingPolicy, parse_limit_info
from ledgerlink.systems.salesforce.writes import OPERATIONS, WriteResult, from_collection_item, unprocessed

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
    pacing: PacingPolicy | None = None  # None: the default policy with reserve_api_fraction as its reserve
    bulk_threshold: int = 2000  # ``write`` uses Bulk API 2.0 from this many records
    bulk: BulkSettings = field(default_factory=BulkSettings)
    max_wait: float = 30.0  # longest Retry-After waited out in place; longer ones go to the engine's retries


@dataclass
class ApiUsage:
    used: int = 0
    limit: int = 0
    calls_made: int = 0  # by this client, since it was created
    by_kind: dict[str, int] = field(default_factory=dict)


class SalesforceClient:
    def __init__(self, settings: SalesforceSettings, *, sleep: Callable[[float], None] | None = None) -> None:
        self.settings = settings
        self._login = make_client(settings.login_url, verify=settings.verify, transport=settings.transport)
        self.auth = SalesforceAuth(settings.auth, self._login)
        self._api = make_client(
            verify=settings.verify,
            transport=settings.transport,
            headers={"Sforce-Call-Options": f"client={settings.client_tag}"},
            auth=self.auth,
        )
        self.usage = ApiUsage()
        policy = settings.pacing or PacingPolicy(reserve_fraction=settings.reserve_api_fraction)
        self.budget = ApiBudget(policy, sleep=sleep) if sleep else ApiBudget(policy)
        self.bulk = BulkClient(self, settings.bulk, sleep=sleep) if sleep else BulkClient(self, settings.bulk)

    @classmethod
    def from_spec(
        cls, spec: Mapping[str, Any], *, client_tag: str = CALL_OPTIONS_CLIENT, environ: Mapping[str, str] | None = None
    ) -> SalesforceClient:
        """A client for a connection ``{"base_url", "credentials", "ca_file"?, "api_version"?, "bulk_threshold"?}``;
        credentials as ``auth.from_spec`` reads them (vault, ``env:NAME`` values or LEDGERLINK_SALESFORCE_*)."""
        settings = SalesforceSettings(
            login_url=str(spec["base_url"]),
            auth=auth.from_spec(spec, environ),
            api_version=str(spec.get("api_version", "59.0")),
            verify=str(spec["ca_file"]) if spec.get("ca_file") else True,
            client_tag=client_tag,
        )
        if spec.get("bulk_threshold") is not None:
            settings.bulk_threshold = int(spec["bulk_threshold"])
        return cls(settings)

    # --- plumbing ----------------------------------------------------------------------------------------

    @property
    def base_path(self) -> str:
        return f"/services/data/v{self.settings.api_version}"

    def close(self) -> None:
        self._login.close()
        self._api.close()

    def calls_made(self) -> int:
        """HTTP requests sent, sign-ins included."""
        return calls_made(self._api) + calls_made(self._login)

    def request(self, method: str, path: str, *, kind: str = "rest", **kwargs: Any) -> httpx.Response:
        """One API call: paced against the daily allocation, sent to the session's instance (``SalesforceAuth``
        renews the session once on 401, whichever OAuth flow is configured), errors mapped, API usage tracked."""
        url = path if path.startswith("/") else f"{self.base_path}/{path}"
        self.budget.before_call()
        instance = self.auth.token().instance_url.rstrip("/")
        response = send_waiting_out_429(
            self._api, SYSTEM, method, instance + url, max_wait=self.settings.max_wait, **kwargs
        )
        self.usage.calls_made += 1
        self.usage.by_kind[kind] = self.usage.by_kind.get(kind, 0) + 1
        self._read_limit_info(response)
        if response.status_code == 401:
            raise AuthenticationError(
                f"{method} {url}: session refused right after signing in again", system=SYSTEM, status=401
            )
        self._raise_for_status(response, method, url)
        return response

    def _read_limit_info(self, response: httpx.Response) -> None:
        reading = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
        if reading is not None:
            self.usage.used, self.usage.limit = reading.used, reading.limit
            self.budget.observe(reading)

    def _check_budget(self) -> None:
        """Raise ApiLimitExhausted if the next call would eat into the reserve (kept for callers; ``request``
        paces itself)."""
        self.budget.delay()

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
            raise self.budget.refused()
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
        body = self.request("GET", endpoint, params={"q": soql}, kind="query").json()
        while True:
            yield body["records"]
            next_url = body.get("nextRecordsUrl")
            if body.get("done", True) or not next_url:
                return
            body = self.request("GET", str(next_url), kind="query").json()

    def get(self, sobject: str, record_id: str, fields: list[str] | None = None) -> dict[str, Any]:
        params = {"fields": ",".join(fields)} if fields else None
        return dict(self.request("GET", f"sobjects/{sobject}/{record_id}", params=params).json())

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
            body = {"allOrNone": all_or_none, "records": chunk}
            response = self.request("PATCH", "composite/sobjects", json=body, kind="composite")
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

    def delete_many(self, record_ids: list[str], *, all_or_none: bool = False) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for start in range(0, len(record_ids), COLLECTION_SIZE):
            chunk = record_ids[start : start + COLLECTION_SIZE]
            params = {"ids": ",".join(chunk), "allOrNone": str(all_or_none).lower()}
            results.extend(self.request("DELETE", "composite/sobjects", params=params, kind="composite").json())
        return results

    def write(
        self,
        sobject: str,
        operation: str,
        records: Sequence[dict[str, Any]],
        *,
        external_id_field: str | None = None,
    ) -> list[WriteResult]:
        """Insert, update (records carry ``Id``), upsert (on ``external_id_field``) or delete (``Id``) a batch.

        Below ``bulk_threshold`` records: sObject Collections, 200 a call; from there: Bulk API 2.0. Either way one
        WriteResult per record, in input order; a record the API refused carries its errors. If a call fails as a
        whole after earlier calls succeeded, its records and the rest are reported UNPROCESSED (safe to retry)
        rather than losing the results already written; if the first call fails, its error is raised.
        """
        if operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {', '.join(OPERATIONS)}, not {operation!r}")
        if operation == "upsert" and not external_id_field:
            raise ValueError("an upsert needs external_id_field")
        if len(records) >= self.settings.bulk_threshold:
            return self.bulk.ingest(sobject, operation, records, external_id_field=external_id_field)
        results: list[WriteResult] = []
        for start in range(0, len(records), COLLECTION_SIZE):
            chunk = list(records[start : start + COLLECTION_SIZE])
            try:
                items = self._collection_call(sobject, operation, chunk, external_id_field)
            except ConnectorError as exc:
                if start == 0 or not isinstance(exc, TransientError | ApiLimitExhausted):
                    raise
                results.extend(unprocessed(i, exc.message, exc.code) for i in range(start, len(records)))
                return results
            results.extend(from_collection_item(start + i, item, operation) for i, item in enumerate(items))
        return results

    def _collection_call(
        self, sobject: str, operation: str, chunk: list[dict[str, Any]], external_id_field: str | None
    ) -> list[dict[str, Any]]:
        if operation == "insert":
            return self.create_many(sobject, chunk)
        if operation == "update":
            return self.update_many(sobject, chunk)
        if operation == "upsert":
            assert external_id_field is not None
            return self.upsert_many(sobject, external_id_field, chunk)
        return self.delete_many([str(r["Id"]) for r in chunk])

    # --- incremental reads -------------------------------------------------------------------------------

    def changed_since(
        self,
        sobject: str,
        fields: list[str],
        since: Position,
        *,
        where: str | None = None,
        lag_seconds: float = 0.0,
        include_deleted: bool = False,
    ) -> Iterator[tuple[list[dict[str, Any]], Position]]:
        """Records changed after ``since`` in ``(SystemModstamp, Id)`` order, a page at a time, each with the
        position to save once that page is durably handed on. Reads only up to ``now − lag_seconds``."""
        soql = incremental_soql(sobject, fields, where, since, upper_bound(lag_seconds))
        position = since
        for page in self.query_pages(soql, include_deleted=include_deleted):
            if page:
                last = page[-1]
                position = Position(soql_datetime(str(last["SystemModstamp"])), str(last["Id"]))
            yield page, position


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
