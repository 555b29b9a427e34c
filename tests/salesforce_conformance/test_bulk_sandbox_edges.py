"""Bulk API 2.0 edge cases of the sandbox, over raw HTTP: job-level failures, one upload per job, abort,
hard delete, refused queries, job listing and deletion."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from ledgerlink.sandbox.runner import Sandbox

from .drivers import http_session

API = "/services/data/v59.0/"


class Raw:
    def __init__(self, box: Sandbox) -> None:
        self.box = box
        self.http = http_session(box)
        creds = box.credentials
        form = {"grant_type": "client_credentials", **{k: creds[k] for k in ("client_id", "client_secret")}}
        token = self.http.post(box.base_url + "/services/oauth2/token", data=form).json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(method, self.box.base_url + API + path, **kwargs)

    def ingest(self, operation: str, csv_text: str, **spec: str) -> str:
        job = self.call("POST", "jobs/ingest", json={"object": "Account", "operation": operation, **spec}).json()
        assert job["state"] == "Open" and job["contentUrl"].startswith("services/data/")
        assert self.call("PUT", job["contentUrl"].split("v59.0/")[1], data=csv_text.encode()).status_code == 201
        assert self.call("PATCH", f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"}).status_code == 200
        return str(job["id"])

    def wait(self, kind: str, job_id: str) -> dict[str, Any]:
        for _ in range(200):
            info: dict[str, Any] = self.call("GET", f"jobs/{kind}/{job_id}").json()
            if info["state"] in ("JobComplete", "Failed", "Aborted"):
                return info
            time.sleep(0.02)
        raise AssertionError(f"job {job_id} never finished")


@pytest.fixture
def raw(shared_box: Sandbox) -> Iterator[Raw]:
    client = Raw(shared_box)
    yield client
    client.http.close()


def test_unknown_column_fails_the_whole_job(raw: Raw) -> None:
    info = raw.wait("ingest", raw.ingest("insert", "Name,Nope__c\nA,1\n"))
    assert info["state"] == "Failed"
    assert info["errorMessage"] == "InvalidBatch : Field name not found : Nope__c"


def test_only_one_upload_per_job_and_wrong_line_ending_fails(raw: Raw) -> None:
    job = raw.call("POST", "jobs/ingest", json={"object": "Account", "operation": "insert"}).json()
    assert raw.call("PUT", f"jobs/ingest/{job['id']}/batches", data=b"Name\r\nA\r\n").status_code == 201
    second = raw.call("PUT", f"jobs/ingest/{job['id']}/batches", data=b"Name\nB\n")
    assert second.status_code == 400 and "multiple contents" in second.json()[0]["message"]
    raw.call("PATCH", f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    assert "LineEnding is invalid" in raw.wait("ingest", job["id"])["errorMessage"]


def test_abort_before_close_leaves_rows_unprocessed(raw: Raw) -> None:
    job = raw.call("POST", "jobs/ingest", json={"object": "Account", "operation": "insert"}).json()
    raw.call("PUT", f"jobs/ingest/{job['id']}/batches", data=b"Name\nA\n")
    aborted = raw.call("PATCH", f"jobs/ingest/{job['id']}", json={"state": "Aborted"}).json()
    assert aborted["state"] == "Aborted"
    again = raw.call("PATCH", f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    assert again.status_code == 400 and again.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    assert raw.call("DELETE", f"jobs/ingest/{job['id']}").status_code == 204
    assert raw.call("GET", f"jobs/ingest/{job['id']}").status_code == 404


def test_hard_delete_skips_the_recycle_bin(raw: Raw) -> None:
    tag = uuid.uuid4().hex[:8]
    soft = raw.call("POST", "sobjects/Account", json={"Name": f"Soft {tag}"}).json()["id"]
    hard = raw.call("POST", "sobjects/Account", json={"Name": f"Hard {tag}"}).json()["id"]
    assert raw.wait("ingest", raw.ingest("delete", f"Id\n{soft}\n"))["numberRecordsProcessed"] == 1
    assert raw.wait("ingest", raw.ingest("hardDelete", f"Id\n{hard}\n"))["numberRecordsFailed"] == 0
    rows = raw.call("GET", "queryAll", params={"q": f"SELECT Id, IsDeleted FROM Account WHERE Name LIKE '% {tag}'"})
    assert [(r["Id"], r["IsDeleted"]) for r in rows.json()["records"]] == [(soft, True)]


def test_update_failures_name_the_record(raw: Raw) -> None:
    good = raw.call("POST", "sobjects/Account", json={"Name": "To update"}).json()["id"]
    job_id = raw.ingest("update", f"Id,Phone\n{good},1\n001000000000000AAA,2\n")
    info = raw.wait("ingest", job_id)
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (2, 1)
    failed = raw.call("GET", f"jobs/ingest/{job_id}/failedResults/").text.splitlines()
    assert failed[0] == '"sf__Id","sf__Error","Id","Phone"'
    assert failed[1].startswith('"001000000000000AAA","NOT_FOUND:')


def test_query_jobs_refuse_bad_soql_and_aggregates(raw: Raw) -> None:
    bad = raw.call("POST", "jobs/query", json={"operation": "query", "query": "SELECT Nope FROM Account"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_FIELD"
    agg = raw.call("POST", "jobs/query", json={"operation": "query", "query": "SELECT COUNT() FROM Account"})
    assert agg.status_code == 400 and "not supported" in agg.json()[0]["message"]


def test_query_job_lists_and_results_headers(raw: Raw) -> None:
    # Its own three Accounts: the shared sandbox holds whatever the tests run before it on this worker left.
    tag = uuid.uuid4().hex[:8]
    for n in range(3):
        raw.call("POST", "sobjects/Account", json={"Name": f"Listed {n} {tag}"}).raise_for_status()
    soql = f"SELECT Id FROM Account WHERE Name LIKE 'Listed % {tag}' LIMIT 3"
    job = raw.call("POST", "jobs/query", json={"operation": "query", "query": soql})
    job_id = job.json()["id"]
    assert raw.wait("query", job_id)["numberRecordsProcessed"] == 3
    page = raw.call("GET", f"jobs/query/{job_id}/results", params={"maxRecords": 2})
    assert page.headers["Sforce-NumberOfRecords"] == "2" and page.headers["Sforce-Locator"] != "null"
    last = raw.call("GET", f"jobs/query/{job_id}/results", params={"locator": page.headers["Sforce-Locator"]})
    assert last.headers["Sforce-NumberOfRecords"] == "1" and last.headers["Sforce-Locator"] == "null"
    assert job_id in [j["id"] for j in raw.call("GET", "jobs/query").json()["records"]]
