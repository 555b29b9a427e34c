"""Bulk API 2.0 ingest jobs: ``jobs/ingest``.

A job is created Open, takes one CSV upload (``PUT …/batches``, 201 without a body), and is closed with
``PATCH {"state": "UploadComplete"}``; a worker thread then applies the rows in chunks of 200 through ``Dml``
(the same validation, derived fields and change events as REST writes, with the job creator's
``Sforce-Call-Options`` client), each row in its own savepoint so one bad row fails alone. Results are CSV:
``successfulResults/`` (``sf__Id``, ``sf__Created``, then the row as sent), ``failedResults/`` (``sf__Id``,
``sf__Error``, then the row) and ``unprocessedrecords/`` (rows not reached before an abort). In a row, an empty
value leaves the field unchanged and ``#N/A`` sets it to null.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from .bulk_jobs import (
    TERMINAL_STATES,
    Job,
    dialect,
    invalid_job_state,
    jobs_of,
    new_job_id,
    start_worker,
    write_csv,
)
from .errors import ApiError, bad_request
from .field_values import TypeMismatch
from .org import SalesforceOrg
from .rest_api import ApiRequest, ApiResponse, route
from .schema import ObjectDef

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
CHUNK_SIZE = 200  # Salesforce's transaction size for bulk DML
NULL_MARKER = "#N/A"
MAX_UPLOAD_BYTES = 150 * 1024 * 1024
CSV_TYPE = "text/csv"


class JobFailure(Exception):
    """The whole job fails (bad header, wrong line ending): its ``errorMessage``."""


@dataclass
class IngestJob(Job):
    external_id_field: str | None = None
    data: bytes | None = None
    header: list[str] = field(default_factory=list)
    successes: list[list[str]] = field(default_factory=list)
    failures: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        body = super().summary()
        if self.external_id_field:
            body["externalIdFieldName"] = self.external_id_field
        body["contentUrl"] = f"services/data/v{self.ctx.api_version}/jobs/ingest/{self.id}/batches"
        return body


def _job(org: SalesforceOrg, job_id: str) -> IngestJob:
    job = jobs_of(org).get("ingest", job_id)
    assert isinstance(job, IngestJob)
    return job


@route(r"jobs/ingest", "GET", "POST")
def ingest_jobs(org: SalesforceOrg, req: ApiRequest, _: list[str]) -> ApiResponse:
    if req.method == "GET":
        records = [j.info() for j in jobs_of(org).all("ingest")]
        return ApiResponse(200, {"done": True, "records": records, "nextRecordsUrl": None})
    body = req.json()
    if not isinstance(body, dict):
        raise bad_request("JSON_PARSER_ERROR", "Expected a JSON object describing the job")
    operation = str(body.get("operation") or "")
    if operation not in OPERATIONS:
        raise bad_request("INVALIDJOB", f"InvalidJob : Invalid operation: {operation or 'null'}")
    obj = org.dml.object(str(body.get("object") or ""))
    external_id = body.get("externalIdFieldName")
    if operation == "upsert":
        fdef = obj.field(str(external_id or ""))
        if fdef is None or not (fdef.external_id or fdef.name == "Id"):
            raise bad_request("INVALIDJOB", f"InvalidJob : Field name provided, {external_id} is not an External ID")
        external_id = fdef.name
    delimiter, line_ending = dialect(body)
    job = IngestJob(
        id=new_job_id(org),
        kind="ingest",
        operation=operation,
        object=obj.name,
        ctx=req.ctx,
        column_delimiter=delimiter,
        line_ending=line_ending,
        external_id_field=str(external_id) if operation == "upsert" else None,
    )
    jobs_of(org).add(job)
    return ApiResponse(200, job.summary())


@route(r"jobs/ingest/(750[A-Za-z0-9]{12,15})", "GET", "PATCH", "DELETE")
def ingest_job(org: SalesforceOrg, req: ApiRequest, groups: list[str]) -> ApiResponse:
    job = _job(org, groups[0])
    if req.method == "GET":
        return ApiResponse(200, job.info())
    if req.method == "DELETE":
        if job.state not in TERMINAL_STATES | {"UploadComplete"}:
            raise invalid_job_state(f"Job {job.id} can only be deleted once it is closed or aborted")
        jobs_of(org).remove(job.id)
        return ApiResponse(204)
    body = req.json()
    wanted = str(body.get("state") if isinstance(body, dict) else "")
    if wanted == "UploadComplete":
        if not job.set_state("UploadComplete", only_from=["Open"]):
            raise invalid_job_state(f"Job {job.id} is not Open (state {job.state})")
        start_worker(f"bulk-ingest-{job.id}", _run, org, job)
    elif wanted == "Aborted":
        was_open = job.state == "Open"
        if not job.set_state("Aborted", only_from=["Open", "UploadComplete", "InProgress"]):
            raise invalid_job_state(f"Job {job.id} is already {job.state}")
        if was_open:
            _keep_unprocessed(job)
    else:
        raise invalid_job_state(f"Invalid state {wanted or 'null'}: expected UploadComplete or Aborted")
    return ApiResponse(200, job.summary())


@route(r"jobs/ingest/(750[A-Za-z0-9]{12,15})/batches", "PUT")
def upload(org: SalesforceOrg, req: ApiRequest, groups: list[str]) -> ApiResponse:
    job = _job(org, groups[0])
    with job.lock:
        if job.state != "Open":
            raise invalid_job_state(f"Job {job.id} is not Open (state {job.state}); data can't be added")
        if job.data is not None:
            raise bad_request(
                "BULK_API_ERROR",
                f"Found multiple contents for job: <{job.id}>, please 'Close' / 'Abort' / 'Delete' the current Job "
                "then create a new Job and make sure you only do 'PUT' once on a given Job.",
            )
        if len(req.body) > MAX_UPLOAD_BYTES:
            raise bad_request("BULK_API_ERROR", "The upload exceeds the 150 MB limit of one job")
        job.data = req.body
    return ApiResponse(201)


# The documented URI is ``unprocessedrecords`` in lower case ("Get Job Unprocessed Record Results",
# https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/get_job_unprocessed_results.htm), which
# jsforce requests; simple-salesforce asks for ``unprocessedRecords``, so both spellings are served.
@route(r"jobs/ingest/(750[A-Za-z0-9]{12,15})/(successfulResults|failedResults|unprocessed[Rr]ecords)", "GET")
def results(org: SalesforceOrg, req: ApiRequest, groups: list[str]) -> ApiResponse:
    job = _job(org, groups[0])
    kind = "unprocessedRecords" if groups[1].lower() == "unprocessedrecords" else groups[1]
    if kind != "unprocessedRecords" and job.state not in TERMINAL_STATES:
        raise invalid_job_state(f"Job {job.id} has not finished (state {job.state})")
    with job.lock:
        if kind == "successfulResults":
            header, rows = ["sf__Id", "sf__Created", *job.header], list(job.successes)
        elif kind == "failedResults":
            header, rows = ["sf__Id", "sf__Error", *job.header], list(job.failures)
        else:
            header, rows = list(job.header), list(job.unprocessed)
    return ApiResponse(200, write_csv(job, header, rows), content_type=CSV_TYPE)


def _keep_unprocessed(job: IngestJob) -> None:
    """A job aborted before it was closed processed none of its uploaded rows: they are all unprocessed ("Get Job
    Unprocessed Record Results ... for failed or aborted jobs",
    https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/get_job_unprocessed_results.htm)."""
    if not job.data:
        return
    try:
        header, rows = _parse(job)
    except JobFailure:
        return  # data that can't be read has no rows to give back
    with job.lock:
        job.header, job.unprocessed = header, rows


# -- the worker ---------------------------------------------------------------------------------------------


def _run(org: SalesforceOrg, job: IngestJob) -> None:
    try:
        if not job.data:
            raise JobFailure("InvalidBatch : No data was uploaded for this job")
        header, rows = _parse(job)
        columns = _columns(org.dml.object(job.object), job, header)
        job.header = header
        if not job.set_state("InProgress", only_from=["UploadComplete"]):
            job.unprocessed = rows  # aborted before it started
            return
        for start in range(0, len(rows), CHUNK_SIZE):
            if job.state != "InProgress":
                with job.lock:
                    job.unprocessed = rows[start:]
                return
            _apply_chunk(org, job, columns, rows[start : start + CHUNK_SIZE])
        job.set_state("JobComplete", only_from=["InProgress"])
    except JobFailure as exc:
        job.error_message = str(exc)
        job.set_state("Failed")
    except Exception as exc:  # the org's database went away (sandbox stopped) or a bug: fail, don't hang
        job.error_message = f"InternalError : {type(exc).__name__}: {exc}"
        job.set_state("Failed")


def _parse(job: IngestJob) -> tuple[list[str], list[list[str]]]:
    assert job.data is not None
    try:
        text = job.data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JobFailure("InvalidBatch : The CSV data is not valid UTF-8") from exc
    if job.line_ending == "LF" and "\r\n" in text:
        raise JobFailure("ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=job.delimiter)
    try:
        header = next(reader)
    except StopIteration as exc:
        raise JobFailure("InvalidBatch : The CSV data has no header row") from exc
    rows = [row for row in reader if row]
    for row in rows:
        if len(row) != len(header):
            raise JobFailure(f"ClientInputError : Wrong number of columns in row: {len(row)} for {len(header)}")
    return header, rows


def _columns(obj: ObjectDef, job: IngestJob, header: list[str]) -> list[str]:
    """The declared field name of each column; a bad header fails the whole job, as on Salesforce."""
    names: list[str] = []
    for column in header:
        fdef = obj.field(column.strip())
        if fdef is None:
            raise JobFailure(f"InvalidBatch : Field name not found : {column}")
        names.append(fdef.name)
    if job.operation in ("delete", "hardDelete") and names != ["Id"]:
        raise JobFailure(f"InvalidBatch : The '{job.operation}' batch must contain only ids")
    if job.operation == "update" and "Id" not in names:
        raise JobFailure("InvalidBatch : Id field is required for update")
    if job.operation == "upsert" and job.external_id_field not in names:
        raise JobFailure(f"InvalidBatch : Field name not found : {job.external_id_field}")
    return names


def _apply_chunk(org: SalesforceOrg, job: IngestJob, columns: list[str], rows: list[list[str]]) -> None:
    obj = org.dml.object(job.object)
    successes: list[list[str]] = []
    failures: list[list[str]] = []
    # One transaction (and CDC transaction key) per chunk; a savepoint per row undoes exactly that row.
    with org.dml.unit(job.ctx):
        for row in rows:
            values = _values(columns, row)
            given_id = str(values.get("Id") or "")  # _apply consumes the Id; a failed row still names its record
            try:
                with org.dml.unit(job.ctx):
                    record_id, created = _apply(org, job, obj, values)
                successes.append([record_id, "true" if created else "false", *row])
            except ApiError as err:
                failures.append([given_id, _error_text(err), *row])
    with job.lock:
        job.successes.extend(successes)
        job.failures.extend(failures)
        job.processed += len(rows)
        job.failed += len(failures)


def _values(columns: list[str], row: list[str]) -> dict[str, Any]:
    """Empty means "leave unchanged" (so the field is left out); ``#N/A`` means null."""
    return {name: (None if raw == NULL_MARKER else raw) for name, raw in zip(columns, row, strict=True) if raw != ""}


def _apply(org: SalesforceOrg, job: IngestJob, obj: ObjectDef, values: dict[str, Any]) -> tuple[str, bool]:
    ctx = job.ctx
    if job.operation == "insert":
        return org.dml.create(ctx, obj, values), True
    if job.operation == "upsert":
        assert job.external_id_field is not None
        key = values.pop(job.external_id_field, None)
        if job.external_id_field == "Id":
            return org.dml.upsert(ctx, obj, "Id", str(key or ""), values)
        if not key:
            raise bad_request("MISSING_ARGUMENT", f"{job.external_id_field} not specified", [job.external_id_field])
        return org.dml.upsert(ctx, obj, job.external_id_field, str(key), values)
    record_id = str(values.pop("Id", "") or "")
    if not record_id:
        raise bad_request("MISSING_ARGUMENT", f"Id not specified in an {job.operation} call", ["Id"])
    record_id = org.dml.get_record(obj, record_id, for_write=True)["Id"]
    if job.operation == "update":
        org.dml.update(ctx, obj, record_id, values)
    else:
        org.dml.delete(ctx, obj, record_id)
        if job.operation == "hardDelete":
            _purge(org, obj, record_id)
    return record_id, False


def _purge(org: SalesforceOrg, obj: ObjectDef, record_id: str) -> None:
    """A hard delete skips the recycle bin: the row is gone, so neither queryAll nor undelete finds it."""
    conn = org.db.conn
    for table in ("records", "field_index", "blobs"):
        conn.execute(f"DELETE FROM {table} WHERE id = ?", (record_id,))
    org.records._cache.pop(obj.name, None)  # the store's object cache would still hold the row


def _error_text(err: ApiError) -> str:
    """``sf__Error`` as Salesforce writes it: ``CODE:message:fields --``."""
    if isinstance(err, TypeMismatch):
        err = err.as_record_error()
    return f"{err.code}:{err.message}:{','.join(err.fields or [])} --"
