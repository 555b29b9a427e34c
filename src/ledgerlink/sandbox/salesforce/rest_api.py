"""The REST resources under ``/services/data/vXX.X/``, independent of the HTTP server.

``dispatch(org, ApiRequest)`` routes one call and returns an ``ApiResponse``; the ASGI app (``app.py``) and the
composite resource (``composite.py``, for its sub-requests) both call it, so a sub-request behaves exactly like the
same request sent on its own.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy as email_policy
from email.parser import BytesParser
from typing import Any

from . import ids
from .context import CallContext
from .describe import describe_object, global_describe, object_summary
from .errors import ApiError, bad_request, method_not_allowed, not_found
from .org import SalesforceOrg
from .schema import ObjectDef
from .timefmt import datetime_to_ms, format_ms


@dataclass
class ApiRequest:
    method: str
    path: str  # below the version root, no leading or trailing slash: "sobjects/Account/001…"
    query: dict[str, str]
    body: bytes
    ctx: CallContext
    content_type: str = ""

    def json(self) -> Any:
        if not self.body.strip():
            raise bad_request("JSON_PARSER_ERROR", "The request body is empty")
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise bad_request("JSON_PARSER_ERROR", f"Unexpected character in request body: {exc}") from exc

    def record(self) -> Any:
        """An sObject's fields from a JSON body, or from a multipart one (``multipart_record``)."""
        if self.content_type.lower().startswith("multipart/form-data"):
            return multipart_record(self.content_type, self.body)
        return self.json()


def multipart_record(content_type: str, body: bytes) -> dict[str, Any]:
    """Insert or Update Blob Data: "The first part of the request body contains non-binary field data ... The second
    part contains the binary data of the file"
    (https://developer.salesforce.com/docs/platform/api-rest/guide/dome-sobject-insert-update-blob.html). The JSON
    part may have any name (Salesforce's examples say ``entity_content``, jsforce sends the object's name); each
    other part is named after its blob field and arrives here base64-encoded, as a JSON body would carry it."""
    message = BytesParser(policy=email_policy.HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    if not message.is_multipart():
        raise bad_request("JSON_PARSER_ERROR", "The multipart request body has no parts")
    record: dict[str, Any] | None = None
    blobs: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        raw = part.get_payload(decode=True)
        payload = raw if isinstance(raw, bytes) else b""
        if record is None and (part.get_content_type() == "application/json" or not part.get_filename()):
            try:
                parsed = json.loads(payload or b"{}")
            except ValueError as exc:
                raise bad_request("JSON_PARSER_ERROR", f"Unexpected character in the JSON part: {exc}") from exc
            if not isinstance(parsed, dict):
                raise bad_request("JSON_PARSER_ERROR", "Expected a JSON object for an sObject")
            record = parsed
        elif isinstance(name, str) and name:
            blobs[name] = base64.b64encode(payload).decode()
        else:
            raise bad_request("JSON_PARSER_ERROR", "A binary part must be named after its field")
    if record is None:
        raise bad_request("JSON_PARSER_ERROR", "The multipart request body has no JSON part")
    return {**record, **blobs}


@dataclass
class ApiResponse:
    status: int
    body: Any = None  # JSON-able, or bytes when content_type is not JSON
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json;charset=UTF-8"


Handler = Callable[[SalesforceOrg, ApiRequest, list[str]], ApiResponse]
_ROUTES: list[tuple[re.Pattern[str], dict[str, Handler]]] = []


def route(pattern: str, *methods: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        compiled = re.compile(f"^{pattern}$")
        for existing, table in _ROUTES:
            if existing.pattern == compiled.pattern:
                table.update({m: handler for m in methods})
                return handler
        _ROUTES.append((compiled, {m: handler for m in methods}))
        return handler

    return register


def dispatch(org: SalesforceOrg, req: ApiRequest) -> ApiResponse:
    """Route and run one request; ApiErrors become their list-shaped error responses."""
    try:
        for pattern, table in _ROUTES:
            m = pattern.match(req.path)
            if m is None:
                continue
            handler = table.get(req.method)
            if handler is None:
                raise method_not_allowed(req.method, sorted(table))
            return handler(org, req, list(m.groups()))
        raise not_found()
    except ApiError as err:
        return error_response(err)


def error_response(err: ApiError) -> ApiResponse:
    if err.status == 300:
        return ApiResponse(300, err.extra.get("urls", []))
    return ApiResponse(err.status, err.body())


# -- resources ----------------------------------------------------------------------------------------------


@route("", "GET")
def resources(org: SalesforceOrg, req: ApiRequest, _: list[str]) -> ApiResponse:
    """Resources by Version: the served resources by name, and ``identity``, the Identity URL (which jsforce's
    ``identity()`` follows), https://developer.salesforce.com/docs/platform/api-rest/guide/resources-by-version.html"""
    base = f"/services/data/v{req.ctx.api_version}"
    names = ["sobjects", "query", "queryAll", "limits", "composite", "recent", "search", "tooling"]
    body = {n: f"{base}/{n}" for n in names}
    body["identity"] = f"{req.ctx.base_url}/id/{org.config.org_id}/{req.ctx.user_id}"
    return ApiResponse(200, body)


MAX_RECENT = 200


@route("recent", "GET")
def recent(org: SalesforceOrg, req: ApiRequest, _: list[str]) -> ApiResponse:
    """Recently Viewed Items (https://developer.salesforce.com/docs/platform/api-rest/guide/resources-recent-items.html):
    ``[{attributes, Id, Name}]``, newest first, at most ``limit`` (200 by default and at most). The sandbox keeps no
    view history, so the records the API created or changed most recently stand in for those viewed."""
    try:
        limit = min(int(req.query.get("limit") or MAX_RECENT), MAX_RECENT)
    except ValueError as exc:
        raise bad_request("INVALID_QUERY_FILTER_OPERATOR", "limit must be a number") from exc
    touched: list[tuple[str, ObjectDef, dict[str, Any]]] = []
    for obj in org.schema.objects.values():
        if obj.name == "User":
            continue
        touched.extend((str(r.get("SystemModstamp") or ""), obj, r) for r in org.records.load_all(obj))
    touched.sort(key=lambda item: (item[0], item[2]["Id"]), reverse=True)
    return ApiResponse(200, [_attrs_only(obj, r, req.ctx.api_version) for _, obj, r in touched[: max(limit, 0)]])


@route("limits", "GET")
def limits(org: SalesforceOrg, req: ApiRequest, _: list[str]) -> ApiResponse:
    used = org.usage.used()
    cap = org.usage.daily_limit
    return ApiResponse(
        200,
        {
            "DailyApiRequests": {"Max": cap, "Remaining": max(cap - used, 0)},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DataStorageMB": {"Max": 5, "Remaining": 5},
            "FileStorageMB": {"Max": 20, "Remaining": 20},
        },
    )


@route("sobjects", "GET")
def sobjects(org: SalesforceOrg, req: ApiRequest, _: list[str]) -> ApiResponse:
    return ApiResponse(200, global_describe(org.schema, req.ctx.api_version))


@route(r"sobjects/([A-Za-z0-9_]+)", "GET", "POST")
def object_root(org: SalesforceOrg, req: ApiRequest, groups: list[str]) -> ApiResponse:
    obj = org.dml.object(groups[0])
    if req.method == "GET":
        recent = [_attrs_only(obj, r, req.ctx.api_version) for r in org.records.load_all(obj)[-5:]]
        return ApiResponse(200, {"objectDescribe": object_summary(obj, req.ctx.api_version), "recentItems": recent})
    body = req.record()
    if not isinstance(body, dict):
        raise bad_request("JSON_PARSER_ERROR", "Expected a JSON object for an sObject")
    record_id = org.dml.create(req.ctx, obj, body)
    return ApiResponse(201, {"id": record_id, "success": True, "errors": []})


@route(r"sobjects/([A-Za-z0-9_]+)/describe", "GET")
def describe(org: SalesforceOrg, req: ApiRequest, groups: list[str]) -> ApiResponse:
    obj = org.dml.object(groups[0])
    return ApiResponse(200, describe_object(org.schema, obj, req.ctx.api_version))


MINUTE_MS = 60_000


def _window(req: ApiRequest) -> tuple[int, int]:
    """``[start, end)`` in epoch ms. "The API ignores the seconds portion of the specified dateTime value (for
    example, 12:30:15 is interpreted as 12:30:00 UTC)", for start and end alike (sObject Get Updated / Get Deleted,
    https://developer.salesforce.com/docs/platform/api-rest/guide/resources-getupdated.html); ``end`` is capped at
    the current minute, which ``latestDateCovered`` reports."""
    try:
        start = datetime_to_ms(req.query["start"])
        end = datetime_to_ms(req.query["end"])
    except (KeyError, ValueError) as exc:
        raise bad_request("INVALID_DATE_FORMAT", "start and end must be ISO-8601 date-times") from exc
    if end <= start:
        raise bad_request("INVALID_REPLICATION_DATE", "end date must be after start date")
    end = min(end, int(time.time() * 1000))
    return start // MINUTE_MS * MINUTE_MS, end // MINUTE_MS * MINUTE_MS


@route(r"sobjects/([A-Za-z0-9_]+)/updated", "GET")
def updated(org: SalesforceOrg, req: ApiRequest, groups: list[str]) -> ApiResponse:
    obj = org.dml.object(groups[0])
    start, end = _window(req)
    return ApiResponse(200, {"ids": org.records.changed_between(obj, start, end), "latestDateCovered": format_ms(end)})


@route(r"sobjects/([A-Za-z0-9_]+)/deleted", "GET")
def deleted(org: SalesforceOrg, req: ApiRequest, groups: list[str]) -> ApiResponse:
    obj = org.dml.object(groups[0])
    start, end = _window(req)
    rows = org.records.deleted_between(obj, start, end)
    return ApiResponse(
        200,
        {
            "deletedRecords": [{"id": rid, "deletedDate": format_ms(at)} for rid, at in rows],
            "earliestDateAvailable": format_ms(int(time.time() * 1000) - 15 * 86400 * 1000),
            "latestDateCovered": format_ms(end),
        },
    )


@route(r"sobjects/([A-Za-z0-9_]+)/([A-Za-z0-9]{15}|[A-Za-z0-9]{18})", "GET", "PATCH", "DELETE")
def record(org: SalesforceOrg, req: ApiRequest, groups: list[str]) -> ApiResponse:
    obj = org.dml.object(groups[0])
    if not ids.is_valid_id(groups[1]):
        raise not_found()
    if req.method == "GET":
        data = org.dml.get_record(obj, groups[1])
        return ApiResponse(200, render(obj, data, req.ctx.api_version, req.query.get("fields")))
    if req.method == "PATCH":
        body = req.record()
        if not isinstance(body, dict):
            raise bad_request("JSON_PARSER_ERROR", "Expected a JSON object for an sObject")
        org.dml.update(req.ctx, obj, groups[1], body)
        return ApiResponse(204)
    org.dml.delete(req.ctx, obj, groups[1])
    return ApiResponse(204)


@route(r"sobjects/([A-Za-z0-9_]+)/([A-Za-z0-9_]+)/([^/]*)", "GET", "PATCH", "POST", "DELETE")
def by_external_id_or_blob(org: SalesforceOrg, req: ApiRequest, groups: list[str]) -> ApiResponse:
    obj = org.dml.object(groups[0])
    name, value = groups[1], groups[2]
    fdef = obj.field(name)
    if fdef is None and ids.is_valid_id(name):
        return _blob(org, req, obj, name, value)
    if fdef is None or not (fdef.external_id or fdef.name == "Id"):
        raise not_found(f"Provided external ID field does not exist or is not accessible: {name}")
    if req.method == "PATCH" or (req.method == "POST" and fdef.name == "Id"):
        body = req.json()
        if not isinstance(body, dict):
            raise bad_request("JSON_PARSER_ERROR", "Expected a JSON object for an sObject")
        update_only = req.query.get("updateOnly", "").lower() == "true"
        record_id, created = org.dml.upsert(req.ctx, obj, fdef.name, value, body, update_only=update_only)
        return ApiResponse(
            201 if created else 200, {"id": record_id, "success": True, "errors": [], "created": created}
        )
    if req.method == "POST":
        raise method_not_allowed("POST", ["GET", "PATCH", "DELETE"])
    matches = org.records.find_by_field(obj, fdef, value) if fdef.name != "Id" else [ids.normalize(value) or ""]
    if len(matches) > 1:
        urls = [f"/services/data/v{req.ctx.api_version}/sobjects/{obj.name}/{rid}" for rid in matches]
        raise ApiError(300, "MULTIPLE_RECORDS", "more than one record found", extra={"urls": urls})
    if not matches:
        raise not_found()
    if req.method == "DELETE":
        org.dml.delete(req.ctx, obj, matches[0])
        return ApiResponse(204)
    data = org.dml.get_record(obj, matches[0])
    return ApiResponse(200, render(obj, data, req.ctx.api_version, req.query.get("fields")))


def _blob(org: SalesforceOrg, req: ApiRequest, obj: ObjectDef, record_id: str, field_name: str) -> ApiResponse:
    if req.method != "GET":
        raise method_not_allowed(req.method, ["GET"])
    data = org.dml.get_record(obj, record_id)
    fdef = obj.field(field_name)
    if fdef is None or fdef.type != "base64":
        raise not_found()
    blob = org.records.get_blob(data["Id"])
    if blob is None:
        raise not_found()
    return ApiResponse(200, blob, content_type="application/octetstream")


def render(obj: ObjectDef, data: dict[str, Any], version: str, fields: str | None = None) -> dict[str, Any]:
    """A record as the REST API serves it: ``attributes`` first, then the fields in declared order."""
    out: dict[str, Any] = {
        "attributes": {"type": obj.name, "url": f"/services/data/v{version}/sobjects/{obj.name}/{data['Id']}"}
    }
    if fields:
        for name in (f.strip() for f in fields.split(",") if f.strip()):
            fdef = obj.field(name)
            if fdef is None:
                raise bad_request("INVALID_FIELD", f"No such column '{name}' on entity '{obj.name}'")
            out[fdef.name] = data.get(fdef.name)
        return out
    for fdef in obj.fields.values():
        out[fdef.name] = data.get(fdef.name)
    return out


def _attrs_only(obj: ObjectDef, data: dict[str, Any], version: str) -> dict[str, Any]:
    return {
        "attributes": {"type": obj.name, "url": f"/services/data/v{version}/sobjects/{obj.name}/{data['Id']}"},
        "Id": data["Id"],
        "Name": data.get("Name"),
    }


# -- query --------------------------------------------------------------------------------------------------


@route(r"(query|queryAll)", "GET")
def query(org: SalesforceOrg, req: ApiRequest, groups: list[str]) -> ApiResponse:
    soql = req.query.get("q")
    if not soql:
        raise bad_request("MALFORMED_QUERY", "A query string must be provided as the q parameter")
    include_deleted = groups[0] == "queryAll"
    result = org.queries.run(soql, include_deleted=include_deleted, api_version=req.ctx.api_version)
    if result.count_only:
        return ApiResponse(200, {"totalSize": result.total_size, "done": True, "records": []})
    body = org.locators.page(result.records, result.total_size, req.ctx.api_version, groups[0])
    return ApiResponse(200, body)


@route(r"(?:query|queryAll)/(01g[A-Za-z0-9]+-\d+)", "GET")
def query_more(org: SalesforceOrg, req: ApiRequest, groups: list[str]) -> ApiResponse:
    return ApiResponse(200, org.locators.next_page(groups[0], req.ctx.api_version))
