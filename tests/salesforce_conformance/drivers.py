"""Two ways to drive a Salesforce org with the same intent: simple-salesforce 1.12 and LedgerLink's connector.

Each driver exposes the same small vocabulary (CRUD, upsert, query, bulk upsert and query, API usage) with the
same normalised results, plus what legitimately differs between the clients: which exception means what, and
whether an expired session is renewed transparently (LedgerLink) or surfaced (simple-salesforce, given a bare
session id, raises SalesforceExpiredSession).
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path
from typing import Any, Protocol

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from ledgerlink.sandbox.runner import Sandbox
from ledgerlink.systems.errors import ApiLimitExhausted, PermanentError
from ledgerlink.systems.salesforce.auth import from_spec
from ledgerlink.systems.salesforce.bulk import BulkSettings
from ledgerlink.systems.salesforce.client import SalesforceClient, SalesforceSettings
from ledgerlink.systems.salesforce.pacing import PacingPolicy

DRIVERS = ("simple-salesforce", "ledgerlink")
BulkOutcome = dict[str, str]  # external id -> "created" | "updated" | the error code


class Driver(Protocol):
    name: str
    box: Sandbox
    client_tag: str  # the Sforce-Call-Options client its writes carry ("" for none)
    renews_expired_session: bool
    not_found: type[Exception]
    expired_session: type[Exception] | None
    limit_exceeded: type[Exception]

    def create(self, sobject: str, fields: dict[str, Any]) -> str: ...
    def get(self, sobject: str, record_id: str) -> dict[str, Any]: ...
    def update(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None: ...
    def delete(self, sobject: str, record_id: str) -> None: ...
    def upsert(self, sobject: str, field: str, value: str, fields: dict[str, Any]) -> tuple[str, bool]: ...
    def query_all(self, soql: str) -> list[dict[str, Any]]: ...
    def insert_many(self, sobject: str, records: list[dict[str, Any]]) -> list[str]: ...
    def bulk_upsert(self, sobject: str, external_id: str, rows: list[dict[str, str]]) -> BulkOutcome: ...
    def bulk_query(self, soql: str, page_size: int) -> list[dict[str, str]]: ...
    def api_usage(self) -> tuple[int, int]: ...
    def limits(self) -> dict[str, Any]: ...
    def cheap_call(self) -> None: ...
    def close(self) -> None: ...


def http_session(box: Sandbox) -> requests.Session:
    session = requests.Session()
    session.verify = box.describe()["ca_file"]
    session.trust_env = False  # REQUESTS_CA_BUNDLE on this machine would override ``verify``
    return session


def csv_text(rows: list[dict[str, str]]) -> str:
    """Rows as Bulk API CSV: a column a row lacks is an empty cell (leave unchanged)."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[r.get(c, "") for c in columns] for r in rows])
    return buffer.getvalue()


class SimpleSalesforceDriver:
    name = "simple-salesforce"
    client_tag = ""
    renews_expired_session = False
    not_found = SalesforceResourceNotFound
    expired_session: type[Exception] | None = SalesforceExpiredSession
    limit_exceeded = SalesforceRefusedRequest

    def __init__(self, box: Sandbox) -> None:
        self.box = box
        self.http = http_session(box)
        creds = box.credentials
        form = {
            "grant_type": "client_credentials",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
        }
        response = self.http.post(box.base_url + "/services/oauth2/token", data=form)
        response.raise_for_status()
        self.sf = Salesforce(instance_url=box.base_url, session_id=response.json()["access_token"], session=self.http)
        self._tmp = tempfile.TemporaryDirectory()

    def _type(self, sobject: str) -> Any:
        return getattr(self.sf, sobject)

    def create(self, sobject: str, fields: dict[str, Any]) -> str:
        return str(self._type(sobject).create(fields)["id"])

    def get(self, sobject: str, record_id: str) -> dict[str, Any]:
        return dict(self._type(sobject).get(record_id))

    def update(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        assert self._type(sobject).update(record_id, fields) == 204

    def delete(self, sobject: str, record_id: str) -> None:
        assert self._type(sobject).delete(record_id) == 204

    def upsert(self, sobject: str, field: str, value: str, fields: dict[str, Any]) -> tuple[str, bool]:
        response = self._type(sobject).upsert(f"{field}/{value}", fields, raw_response=True)
        body = response.json()
        assert body["created"] == (response.status_code == 201)
        return str(body["id"]), response.status_code == 201

    def query_all(self, soql: str) -> list[dict[str, Any]]:
        result = self.sf.query_all(soql)
        assert result["totalSize"] == len(result["records"])
        return list(result["records"])

    def insert_many(self, sobject: str, records: list[dict[str, Any]]) -> list[str]:
        ids: list[str] = []
        for start in range(0, len(records), 200):
            chunk = [{"attributes": {"type": sobject}, **r} for r in records[start : start + 200]]
            results = self.sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": chunk})
            ids.extend(str(r["id"]) for r in results)
        return ids

    def bulk_upsert(self, sobject: str, external_id: str, rows: list[dict[str, str]]) -> BulkOutcome:
        path = Path(self._tmp.name) / "upsert.csv"
        path.write_text(csv_text(rows))
        bulk = getattr(self.sf.bulk2, sobject)
        jobs = bulk.upsert(csv_file=str(path), external_id_field=external_id, wait=0.05)
        outcome: BulkOutcome = {}
        for job in jobs:
            records = bulk.get_all_ingest_records(job["job_id"])
            for row in records["successfulRecords"]:
                outcome[row[external_id]] = "created" if row["sf__Created"] == "true" else "updated"
            for row in records["failedRecords"]:
                outcome[row[external_id]] = row["sf__Error"].split(":", 1)[0]
            assert job["numberRecordsFailed"] == len(records["failedRecords"])
        return outcome

    def bulk_query(self, soql: str, page_size: int) -> list[dict[str, str]]:
        rows: list[dict[str, str]] = []
        for page in self.sf.bulk2.Account.query(soql, max_records=page_size, wait=0.05):
            rows.extend(csv.DictReader(io.StringIO(page)))
        return rows

    def api_usage(self) -> tuple[int, int]:
        usage = self.sf.api_usage["api-usage"]
        return int(usage.used), int(usage.total)

    def limits(self) -> dict[str, Any]:
        return dict(self.sf.limits())

    def cheap_call(self) -> None:
        self.sf.query("SELECT Id FROM Account LIMIT 1")

    def close(self) -> None:
        self.http.close()
        self._tmp.cleanup()


class LedgerLinkDriver:
    name = "ledgerlink"
    client_tag = "ledgerlink"
    renews_expired_session = True
    not_found = PermanentError
    expired_session: type[Exception] | None = None
    limit_exceeded = ApiLimitExhausted

    def __init__(self, box: Sandbox, **settings: Any) -> None:
        self.box = box
        spec = box.describe()
        options: dict[str, Any] = {
            # Tiny pacing delays and fast polls keep the suite quick; the behaviour is the production one.
            "pacing": PacingPolicy(max_delay=0.01),
            "bulk": BulkSettings(poll_interval=0.05, max_poll_interval=0.5),
            **settings,
        }
        self.client = SalesforceClient(
            SalesforceSettings(login_url=spec["base_url"], auth=from_spec(spec), verify=spec["ca_file"], **options)
        )

    def create(self, sobject: str, fields: dict[str, Any]) -> str:
        return self.client.create(sobject, fields)

    def get(self, sobject: str, record_id: str) -> dict[str, Any]:
        return self.client.get(sobject, record_id)

    def update(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        self.client.update(sobject, record_id, fields)

    def delete(self, sobject: str, record_id: str) -> None:
        self.client.delete(sobject, record_id)

    def upsert(self, sobject: str, field: str, value: str, fields: dict[str, Any]) -> tuple[str, bool]:
        return self.client.upsert(sobject, field, value, fields)

    def query_all(self, soql: str) -> list[dict[str, Any]]:
        return list(self.client.query(soql))

    def insert_many(self, sobject: str, records: list[dict[str, Any]]) -> list[str]:
        results = self.client.write(sobject, "insert", records)
        assert all(r.success for r in results), [r for r in results if not r.success][:3]
        return [str(r.id) for r in results]

    def bulk_upsert(self, sobject: str, external_id: str, rows: list[dict[str, str]]) -> BulkOutcome:
        # The connector speaks JSON meanings: a missing key leaves a field alone, None clears it.
        records = [{k: (None if v == "#N/A" else v) for k, v in row.items() if v != ""} for row in rows]
        results = self.client.bulk.ingest(sobject, "upsert", records, external_id_field=external_id)
        assert [r.index for r in results] == list(range(len(rows)))
        return {
            rows[r.index][external_id]: ("created" if r.created else "updated") if r.success else r.errors[0].code
            for r in results
        }

    def bulk_query(self, soql: str, page_size: int) -> list[dict[str, str]]:
        rows = self.client.bulk.query(soql, page_size=page_size)
        return [{k: v or "" for k, v in row.items()} for row in rows]

    def api_usage(self) -> tuple[int, int]:
        return self.client.usage.used, self.client.usage.limit

    def limits(self) -> dict[str, Any]:
        return dict(self.client.request("GET", "limits").json())

    def cheap_call(self) -> None:
        list(self.client.query("SELECT Id FROM Account LIMIT 1"))

    def close(self) -> None:
        self.client.close()


def make_driver(kind: str, box: Sandbox) -> Driver:
    if kind == "simple-salesforce":
        return SimpleSalesforceDriver(box)
    return LedgerLinkDriver(box)
