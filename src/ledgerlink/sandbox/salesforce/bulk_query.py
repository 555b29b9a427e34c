"""Bulk API 2.0 query jobs: ``jobs/query``.

``POST jobs/query`` checks the SOQL at once (a bad query is a 400, as on Salesforce) and runs it on a worker
thread: UploadComplete → InProgress → JobComplete. ``GET jobs/query/{id}/results?locator=&maxRecords=`` serves the
rows as CSV, relationship fields flattened to ``Account.Name`` columns, null as an empty value, with the headers
``Sforce-NumberOfRecords`` and ``Sforce-Locator`` (the offset, base64-encoded as Salesforce's locators are; the
string ``null`` on the last page). Bulk queries refuse what Bulk API 2.0 refuses: aggregates, child subqueries,
``FIELDS()``, OFFSET.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from .bulk_jobs import TERMINAL_STATES, Job, dialect, invalid_job_state, jobs_of, new_job_id, start_worker, write_csv
from .errors import ApiError, bad_request
from .org import SalesforceOrg
from .rest_api import ApiRequest, ApiResponse, route
from .soql_ast import FieldPath, Query
from .soql_parser import parse

CSV_TYPE = "text/csv"
DEFAULT_PAGE = 50_000  # what Salesforce chooses when maxRecords is absent is size-based; any large page will do
_SF_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


@dataclass
class QueryJob(Job):
    soql: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def _job(org: SalesforceOrg, job_id: str) -> QueryJob:
    job = jobs_of(org).get("query", job_id)
    assert isinstance(job, QueryJob)
    return job


def _check_supported(query: Query) -> list[str]:
    """The output columns; raises for what Bulk API 2.0 can't run."""
    columns: list[str] = []
    for item in query.select:
        if not isinstance(item, FieldPath):
            raise bad_request(
                "API_ERROR",
                "FeatureNotEnabled : Aggregate queries, FIELDS() and nested queries are not supported by Bulk API 2.0",
            )
        parts = item.parts
        if query.alias and len(parts) > 1 and parts[0].lower() == query.alias.lower():
            parts = parts[1:]
        columns.append(".".join(parts))
    if query.offset is not None:
        raise bad_request("API_ERROR", "FeatureNotEnabled : OFFSET is not supported by Bulk API 2.0")
    return columns


@route(r"jobs/query", "GET", "POST")
def query_jobs(org: SalesforceOrg, req: ApiRequest, _: list[str]) -> ApiResponse:
    if req.method == "GET":
        records = [j.info() for j in jobs_of(org).all("query")]
        return ApiResponse(200, {"done": True, "records": records, "nextRecordsUrl": None})
    body = req.json()
    if not isinstance(body, dict):
        raise bad_request("JSON_PARSER_ERROR", "Expected a JSON object describing the job")
    operation = str(body.get("operation") or "")
    if operation not in ("query", "queryAll"):
        raise bad_request("INVALIDJOB", f"InvalidJob : Invalid operation: {operation or 'null'}")
    soql = str(body.get("query") or "")
    if not soql.strip():
        raise bad_request("INVALIDJOB", "InvalidJob : A query is required")
    delimiter, line_ending = dialect(body)
    parsed = parse(soql)
    columns = _check_supported(parsed)
    obj = org.dml.object(parsed.sobject)
    # Run once now so that unknown fields and bad literals are refused here, as Salesforce refuses them.
    org.queries.run(soql + ("" if parsed.limit is not None else " LIMIT 0"), api_version=req.ctx.api_version)
    job = QueryJob(
        id=new_job_id(org),
        kind="query",
        operation=operation,
        object=obj.name,
        ctx=req.ctx,
        column_delimiter=delimiter,
        line_ending=line_ending,
        soql=soql,
        columns=columns,
    )
    job.set_state("UploadComplete")
    jobs_of(org).add(job)
    start_worker(f"bulk-query-{job.id}", _run, org, job)
    return ApiResponse(200, job.summary())


@route(r"jobs/query/(750[A-Za-z0-9]{12,15})", "GET", "PATCH", "DELETE")
def query_job(org: SalesforceOrg, req: ApiRequest, groups: list[str]) -> ApiResponse:
    job = _job(org, groups[0])
    if req.method == "GET":
        return ApiResponse(200, job.info())
    if req.method == "DELETE":
        if job.state not in TERMINAL_STATES:
            raise invalid_job_state(f"Job {job.id} can only be deleted once it has finished or been aborted")
        jobs_of(org).remove(job.id)
        return ApiResponse(204)
    body = req.json()
    wanted = str(body.get("state") if isinstance(body, dict) else "")
    if wanted != "Aborted":
        raise invalid_job_state(f"Invalid state {wanted or 'null'}: a query job can only be Aborted")
    if not job.set_state("Aborted", only_from=["UploadComplete", "InProgress"]):
        raise invalid_job_state(f"Job {job.id} is already {job.state}")
    return ApiResponse(200, job.summary())


@route(r"jobs/query/(750[A-Za-z0-9]{12,15})/results", "GET")
def query_results(org: SalesforceOrg, req: ApiRequest, groups: list[str]) -> ApiResponse:
    job = _job(org, groups[0])
    if job.state != "JobComplete":
        raise invalid_job_state(f"Job {job.id} has not completed (state {job.state})")
    offset = _decode_locator(req.query.get("locator", ""))
    try:
        size = int(req.query.get("maxRecords") or DEFAULT_PAGE)
    except ValueError as exc:
        raise bad_request("INVALIDJOB", "maxRecords must be a positive integer") from exc
    if size <= 0:
        raise bad_request("INVALIDJOB", "maxRecords must be a positive integer")
    page = job.rows[offset : offset + size]
    end = offset + len(page)
    locator = _encode_locator(end) if end < len(job.rows) else "null"
    headers = {"Sforce-Locator": locator, "Sforce-NumberOfRecords": str(len(page))}
    return ApiResponse(200, write_csv(job, job.columns, page), headers=headers, content_type=CSV_TYPE)


def _encode_locator(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _decode_locator(locator: str) -> int:
    if not locator or locator == "null":
        return 0
    try:
        text = base64.b64decode(locator + "=" * (-len(locator) % 4)).decode()
        if text.isdigit():
            return int(text)
    except (binascii.Error, UnicodeDecodeError):
        pass
    raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")


# -- the worker ---------------------------------------------------------------------------------------------


def _run(org: SalesforceOrg, job: QueryJob) -> None:
    try:
        if not job.set_state("InProgress", only_from=["UploadComplete"]):
            return
        result = org.queries.run(job.soql, include_deleted=job.operation == "queryAll", api_version=job.ctx.api_version)
        rows = [[_cell(_lookup(record, column)) for column in job.columns] for record in result.records]
        if result.records:
            job.columns = [_canonical(result.records[0], column) for column in job.columns]
        with job.lock:
            job.rows = rows
            job.processed = len(rows)
        job.set_state("JobComplete", only_from=["InProgress"])
    except ApiError as err:
        job.error_message = f"{err.code} : {err.message}"
        job.set_state("Failed")
    except Exception as exc:  # the org's database went away (sandbox stopped) or a bug: fail, don't hang
        job.error_message = f"InternalError : {type(exc).__name__}: {exc}"
        job.set_state("Failed")


def _lookup(record: dict[str, Any] | None, column: str) -> Any:
    """The value at ``Account.Owner.Name`` in a REST-shaped record, matching names case-insensitively."""
    value: Any = record
    for part in column.split("."):
        if not isinstance(value, dict):
            return None
        key = next((k for k in value if k.lower() == part.lower()), None)
        value = value.get(key) if key is not None else None
    return value


def _canonical(record: dict[str, Any], column: str) -> str:
    """The column name as the schema spells it (``name`` → ``Name``), from the first row."""
    names: list[str] = []
    value: Any = record
    for part in column.split("."):
        key = next((k for k in value if k.lower() == part.lower()), None) if isinstance(value, dict) else None
        names.append(key or part)
        value = value.get(key) if isinstance(value, dict) and key is not None else None
    return ".".join(names)


def _cell(value: Any) -> str:
    if value is None or isinstance(value, dict):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    # Bulk results write datetimes in UTC with a Z, where the REST API writes +0000.
    return text[:-5] + "Z" if _SF_DATETIME.match(text) else text
