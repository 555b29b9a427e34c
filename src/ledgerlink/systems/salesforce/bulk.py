"""Bulk API 2.0 through a ``SalesforceClient``: ingest jobs that report per-record results in input order, and
query jobs read page by page.

An ingest costs a handful of API calls whatever its size (create, upload, close, a few polls, two result files)
against one call per 200 records for sObject Collections, so large writes go here. The result files carry the
row as it was sent but not its position, so rows are matched back to the input by their cell values (identical
rows are interchangeable, so any assignment among them is right).
"""

from __future__ import annotations

import contextlib
import csv
import io
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ledgerlink.systems.errors import ConnectorError, PermanentError, TransientError
from ledgerlink.systems.salesforce.writes import (
    OPERATIONS,
    WriteResult,
    csv_cell,
    parse_bulk_error,
    unprocessed,
)

if TYPE_CHECKING:
    from ledgerlink.systems.salesforce.client import SalesforceClient

SYSTEM = "salesforce"
TERMINAL = ("JobComplete", "Failed", "Aborted")
MAX_JOB_BYTES = 100 * 1024 * 1024  # Salesforce takes 150 MB base64-encoded per job; stay well below


@dataclass(frozen=True)
class BulkSettings:
    poll_interval: float = 0.25  # first wait; doubles up to max_poll_interval
    max_poll_interval: float = 10.0
    timeout: float = 3600.0
    max_job_bytes: int = MAX_JOB_BYTES
    query_page_size: int = 50_000


class BulkClient:
    def __init__(
        self,
        client: SalesforceClient,
        settings: BulkSettings | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.settings = settings or BulkSettings()
        self._sleep = sleep

    # --- ingest ------------------------------------------------------------------------------------------

    def ingest(
        self,
        sobject: str,
        operation: str,
        records: Sequence[dict[str, Any]],
        *,
        external_id_field: str | None = None,
    ) -> list[WriteResult]:
        """Write ``records`` with one job per ~100 MB; a WriteResult per record, in input order."""
        if operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {', '.join(OPERATIONS)}, not {operation!r}")
        if operation == "upsert" and not external_id_field:
            raise ValueError("an upsert needs external_id_field")
        if not records:
            return []
        columns = ["Id"] if operation == "delete" else list(dict.fromkeys(k for r in records for k in r))
        rows = [[_cell(record, column) for column in columns] for record in records]
        results: list[WriteResult] = []
        for start, end in self._job_slices(columns, rows):
            results.extend(self._run_job(sobject, operation, external_id_field, columns, rows[start:end], offset=start))
        return results

    def _job_slices(self, columns: list[str], rows: list[list[str]]) -> Iterator[tuple[int, int]]:
        start, size = 0, len(_csv_text([columns]))
        for index, row in enumerate(rows):
            row_size = len(_csv_text([row]))
            if size + row_size > self.settings.max_job_bytes and index > start:
                yield start, index
                start, size = index, len(_csv_text([columns]))
            size += row_size
        yield start, len(rows)

    def _run_job(
        self,
        sobject: str,
        operation: str,
        external_id_field: str | None,
        columns: list[str],
        rows: list[list[str]],
        *,
        offset: int,
    ) -> list[WriteResult]:
        spec: dict[str, Any] = {"object": sobject, "operation": operation, "contentType": "CSV", "lineEnding": "LF"}
        if external_id_field:
            spec["externalIdFieldName"] = external_id_field
        job = self._call("POST", "jobs/ingest", json=spec).json()
        job_id = str(job["id"])
        try:
            data = _csv_text([columns, *rows]).encode()
            self._call("PUT", f"jobs/ingest/{job_id}/batches", content=data, headers={"Content-Type": "text/csv"})
            self._call("PATCH", f"jobs/ingest/{job_id}", json={"state": "UploadComplete"})
        except ConnectorError:
            self._abort(job_id, "ingest")
            raise
        info = self.wait(job_id, "ingest")
        if info["state"] == "Failed":
            raise PermanentError(
                f"bulk {operation} job {job_id} on {sobject} failed: {info.get('errorMessage') or 'no reason given'}",
                system=SYSTEM,
                code="BULK_JOB_FAILED",
            )
        return self._results(job_id, columns, rows, offset, operation)

    def _results(
        self, job_id: str, columns: list[str], rows: list[list[str]], offset: int, operation: str
    ) -> list[WriteResult]:
        pending: dict[tuple[str, ...], deque[int]] = defaultdict(deque)
        for index, row in enumerate(rows):
            pending[tuple(row)].append(index)
        found: dict[int, WriteResult] = {}

        def claim(row: list[str]) -> int | None:
            queue = pending.get(tuple(row))
            return queue.popleft() if queue else None

        for line in self._result_rows(job_id, "successfulResults"):
            at = claim(line[2:])
            if at is not None:
                created = line[1].lower() == "true" and operation in ("insert", "upsert")
                found[at] = WriteResult(offset + at, line[0] or None, created, True)
        for line in self._result_rows(job_id, "failedResults"):
            at = claim(line[2:])
            if at is not None:
                error = parse_bulk_error(line[1])
                found[at] = WriteResult(offset + at, line[0] or None, False, False, (error,))
        return [
            found.get(position) or unprocessed(offset + position, f"not processed by bulk job {job_id}")
            for position in range(len(rows))
        ]

    def _result_rows(self, job_id: str, kind: str) -> list[list[str]]:
        text = self._read(f"jobs/ingest/{job_id}/{kind}").text
        reader = csv.reader(io.StringIO(text, newline=""))
        next(reader, None)  # header: sf__Id, sf__Created|sf__Error, then the columns as sent
        return [row for row in reader if row]

    # --- query -------------------------------------------------------------------------------------------

    def query_pages(
        self, soql: str, *, include_deleted: bool = False, page_size: int | None = None
    ) -> Iterator[list[dict[str, str | None]]]:
        """Rows of a bulk query as dicts of strings (empty cells are None), one list per results page."""
        operation = "queryAll" if include_deleted else "query"
        job = self._call("POST", "jobs/query", json={"operation": operation, "query": soql, "lineEnding": "LF"})
        job_id = str(job.json()["id"])
        info = self.wait(job_id, "query")
        if info["state"] != "JobComplete":
            raise PermanentError(
                f"bulk query job {job_id} ended {info['state']}: {info.get('errorMessage') or 'no reason given'}",
                system=SYSTEM,
                code="BULK_JOB_FAILED",
            )
        locator = ""
        while True:
            params: dict[str, str | int] = {"maxRecords": page_size or self.settings.query_page_size}
            if locator:
                params["locator"] = locator
            response = self._read(f"jobs/query/{job_id}/results", params=params)
            reader = csv.DictReader(io.StringIO(response.text, newline=""))
            yield [{k: (v if v != "" else None) for k, v in row.items()} for row in reader]
            locator = response.headers.get("Sforce-Locator", "null")
            if not locator or locator == "null":
                return

    def query(
        self, soql: str, *, include_deleted: bool = False, page_size: int | None = None
    ) -> Iterator[dict[str, str | None]]:
        for page in self.query_pages(soql, include_deleted=include_deleted, page_size=page_size):
            yield from page

    # --- jobs --------------------------------------------------------------------------------------------

    def wait(self, job_id: str, kind: str) -> dict[str, Any]:
        """Poll the job until it ends, backing off so a long job costs few API calls."""
        deadline = time.monotonic() + self.settings.timeout
        delay = self.settings.poll_interval
        while True:
            info: dict[str, Any] = self._read(f"jobs/{kind}/{job_id}").json()
            if info.get("state") in TERMINAL:
                return info
            if time.monotonic() + delay > deadline:
                self._abort(job_id, kind)
                raise TransientError(
                    f"bulk job {job_id} still {info.get('state')} after {self.settings.timeout:.0f} s; aborted",
                    system=SYSTEM,
                    code="BULK_JOB_TIMEOUT",
                )
            self._sleep(delay)
            delay = min(delay * 2, self.settings.max_poll_interval)

    def _abort(self, job_id: str, kind: str) -> None:
        # Best effort: a job left open expires on its own.
        with contextlib.suppress(ConnectorError):
            self._call("PATCH", f"jobs/{kind}/{job_id}", json={"state": "Aborted"})

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, path, kind="bulk", **kwargs)

    def _read(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._call("GET", path, **kwargs)


def _cell(record: dict[str, Any], column: str) -> str:
    # A column this record lacks is left unchanged (an empty cell), as a missing JSON key would be.
    return csv_cell(record[column]) if column in record else ""


def _csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()
