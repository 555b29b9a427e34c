"""Composite resources: sObject Collections (``composite/sobjects``) and ``composite`` with references.

Each is one API call however many records or sub-requests it carries. ``allOrNone`` runs the whole call in one
savepoint and rolls it back on the first failure; without it each record (or sub-request) gets its own savepoint,
so a failure undoes exactly that record's writes, side effects included.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import ids
from .errors import ApiError, bad_request
from .field_values import TypeMismatch
from .org import SalesforceOrg
from .rest_api import ApiRequest, ApiResponse, dispatch, render, route

MAX_COLLECTION = 200
MAX_SUBREQUESTS = 25
ROLLED_BACK = ApiError(
    400,
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
    [],
)


class _Rollback(Exception):
    """Raised to unwind an allOrNone savepoint after collecting every record's result."""


def _record_error(err: ApiError) -> dict[str, Any]:
    if isinstance(err, TypeMismatch):
        err = err.as_record_error()
    return err.as_status_item()


def _failure(err: ApiError, record_id: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"success": False, "errors": [_record_error(err)]}
    if record_id:
        result = {"id": record_id, **result}
    return result


def _collection_body(req: ApiRequest, key: str = "records") -> tuple[list[Any], bool]:
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get(key), list):
        raise bad_request("JSON_PARSER_ERROR", f"Expected a JSON object with a '{key}' array")
    items = body[key]
    if len(items) > MAX_COLLECTION:
        raise bad_request(
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_COLLECTION} records into this call",
        )
    return items, bool(body.get("allOrNone", False))


def _run_each(org: SalesforceOrg, req: ApiRequest, items: list[Any], all_or_none: bool, op: Any) -> list[Any]:
    """Apply ``op(item) -> result dict`` to every item, each in its own savepoint; roll all back if asked."""
    results: list[dict[str, Any]] = []
    failed = False
    try:
        with org.dml.unit(req.ctx):
            for item in items:
                try:
                    with org.dml.unit(req.ctx):
                        results.append(op(item))
                except ApiError as err:
                    failed = True
                    results.append(_failure(err, _item_id(item)))
            if failed and all_or_none:
                raise _Rollback
    except _Rollback:
        results = [r if not r.get("success", True) else _failure(ROLLED_BACK, r.get("id")) for r in results]
        # Salesforce reports no id for records whose insert was rolled back.
        if req.method == "POST":
            for r in results:
                r.pop("id", None)
    return results


def _item_id(item: Any) -> str | None:
    return str(item.get("Id") or item.get("id") or "") or None if isinstance(item, dict) else None


def _object_of(org: SalesforceOrg, item: Any) -> Any:
    if not isinstance(item, dict) or not isinstance(item.get("attributes"), dict) or "type" not in item["attributes"]:
        raise bad_request("INVALID_TYPE", "Must specify a type in attributes for each record")
    obj = org.schema.get(str(item["attributes"]["type"]))
    if obj is None:
        raise bad_request("INVALID_TYPE", f"sObject type '{item['attributes']['type']}' is not supported.")
    return obj


@route("composite/sobjects", "POST", "PATCH", "DELETE")
def collections(org: SalesforceOrg, req: ApiRequest, _: list[str]) -> ApiResponse:
    if req.method == "DELETE":
        raw = [i for i in req.query.get("ids", "").split(",") if i]
        if len(raw) > MAX_COLLECTION:
            raise bad_request("EXCEEDED_ID_LIMIT", f"too many ids: at most {MAX_COLLECTION}")
        all_or_none = req.query.get("allOrNone", "").lower() == "true"

        def delete(record_id: str) -> dict[str, Any]:
            obj = org.schema.for_id(ids.normalize(record_id) or "")
            if obj is None:
                raise ApiError(400, "MALFORMED_ID", f"malformed id {record_id}", [])
            org.dml.delete(req.ctx, obj, record_id)
            return {"id": ids.to18(record_id), "success": True, "errors": []}

        results = _run_each(org, req, raw, all_or_none, delete)
        for record_id, result in zip(raw, results, strict=True):
            result.setdefault("id", ids.normalize(record_id) or record_id)
        return ApiResponse(200, results)
    items, all_or_none = _collection_body(req)

    def create(item: Any) -> dict[str, Any]:
        obj = _object_of(org, item)
        if item.get("Id") or item.get("id"):
            raise bad_request("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
        return {"id": org.dml.create(req.ctx, obj, item), "success": True, "errors": []}

    def update(item: Any) -> dict[str, Any]:
        obj = _object_of(org, item)
        record_id = _item_id(item)
        if not record_id:
            raise bad_request("MISSING_ARGUMENT", "Id not specified in an update call", [])
        fields = {k: v for k, v in item.items() if k.lower() != "id"}
        org.dml.update(req.ctx, obj, record_id, fields)
        return {"id": ids.normalize(record_id) or record_id, "success": True, "errors": []}

    return ApiResponse(200, _run_each(org, req, items, all_or_none, create if req.method == "POST" else update))


@route(r"composite/sobjects/([A-Za-z0-9_]+)", "GET", "POST")
def collection_read(org: SalesforceOrg, req: ApiRequest, groups: list[str]) -> ApiResponse:
    obj = org.dml.object(groups[0])
    if req.method == "POST":  # POST is allowed so that long id lists fit in a body
        body = req.json()
        raw_ids, fields = list(body.get("ids", [])), ",".join(body.get("fields", []))
    else:
        raw_ids = [i for i in req.query.get("ids", "").split(",") if i]
        fields = req.query.get("fields", "")
    if not fields:
        raise bad_request("MISSING_ARGUMENT", "fields parameter is required")
    if not all(isinstance(i, str) for i in raw_ids):
        raise bad_request("JSON_PARSER_ERROR", "ids must be an array of record id strings")
    if len(raw_ids) > 2000:
        raise bad_request("EXCEEDED_ID_LIMIT", "too many ids: at most 2000")
    out: list[Any] = []
    for rid in raw_ids:
        try:
            data = org.dml.get_record(obj, rid)
        except ApiError:
            out.append(None)
            continue
        out.append(render(obj, data, req.ctx.api_version, fields))
    return ApiResponse(200, out)


@route(r"composite/sobjects/([A-Za-z0-9_]+)/([A-Za-z0-9_]+)", "PATCH")
def collection_upsert(org: SalesforceOrg, req: ApiRequest, groups: list[str]) -> ApiResponse:
    obj = org.dml.object(groups[0])
    fdef = obj.field(groups[1])
    if fdef is None or not fdef.external_id:
        raise bad_request("INVALID_FIELD", f"Field name provided, {groups[1]} is not an External ID or indexed field")
    items, all_or_none = _collection_body(req)

    def upsert(item: Any) -> dict[str, Any]:
        item_obj = _object_of(org, item)
        if item_obj.name != obj.name:
            raise bad_request("INVALID_TYPE", f"all records must be of type {obj.name}")
        value = next((v for k, v in item.items() if k.lower() == fdef.name.lower()), None)
        if value in (None, ""):
            raise bad_request("MISSING_ARGUMENT", f"{fdef.name} not specified", [fdef.name])
        record_id, created = org.dml.upsert(req.ctx, obj, fdef.name, str(value), item)
        return {"id": record_id, "success": True, "errors": [], "created": created}

    return ApiResponse(200, _run_each(org, req, items, all_or_none, upsert))


# -- composite with references ------------------------------------------------------------------------------

_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_VERSION_PREFIX = re.compile(r"^/services/data/v(\d+\.\d+)/?")


def _resolve(text: str, results: dict[str, Any], ref_id: str) -> str:
    def replace(m: re.Match[str]) -> str:
        name, path = m.group(1), m.group(2)
        if name not in results:
            raise bad_request(
                "INVALID_REFERENCE", f"Invalid reference specified. No value for {m.group(0)} found in {ref_id}"
            )
        value: Any = results[name]
        for step in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
            key, index = step
            try:
                value = value[int(index)] if index else value[key]
            except (KeyError, IndexError, TypeError) as exc:
                raise bad_request(
                    "INVALID_REFERENCE", f"Invalid reference specified. No value for {m.group(0)} found in {ref_id}"
                ) from exc
        return str(value)

    return _REFERENCE.sub(replace, text)


@route("composite", "POST")
def composite(org: SalesforceOrg, req: ApiRequest, _: list[str]) -> ApiResponse:
    body = req.json()
    subrequests = body.get("compositeRequest") if isinstance(body, dict) else None
    if not isinstance(subrequests, list) or not subrequests:
        raise bad_request("JSON_PARSER_ERROR", "compositeRequest must be a non-empty array")
    if len(subrequests) > MAX_SUBREQUESTS:
        raise bad_request("LIMIT_EXCEEDED", f"Max number of subrequests allowed is {MAX_SUBREQUESTS}")
    all_or_none = bool(body.get("allOrNone", False))
    results: dict[str, Any] = {}
    responses: list[dict[str, Any]] = []
    failed_at: int | None = None
    try:
        with org.dml.unit(req.ctx):
            for index, sub in enumerate(subrequests):
                ref_id = str(sub.get("referenceId", f"ref{index}"))
                try:
                    response = _run_subrequest(org, req, sub, results, ref_id)
                except ApiError as err:
                    response = ApiResponse(err.status, err.body())
                responses.append(_sub_response(org, req, response, ref_id))
                if response.status < 300:
                    results[ref_id] = response.body
                elif all_or_none:
                    failed_at = index
                    raise _Rollback
    except _Rollback:
        pass
    if failed_at is not None:
        halted = {
            "body": [
                {
                    "errorCode": "PROCESSING_HALTED",
                    "message": "The transaction was rolled back since another "
                    "operation in the same transaction failed.",
                }
            ],
            "httpHeaders": {},
            "httpStatusCode": 400,
        }
        final = []
        for index, sub in enumerate(subrequests):
            ref_id = str(sub.get("referenceId", f"ref{index}"))
            final.append(responses[index] if index == failed_at else {**halted, "referenceId": ref_id})
        responses = final
    return ApiResponse(200, {"compositeResponse": responses})


def _run_subrequest(
    org: SalesforceOrg, req: ApiRequest, sub: dict[str, Any], results: dict[str, Any], ref_id: str
) -> ApiResponse:
    method = str(sub.get("method", "GET")).upper()
    url = _resolve(str(sub.get("url", "")), results, ref_id)
    parts = urlsplit(url)
    m = _VERSION_PREFIX.match(parts.path)
    if m is None:
        raise bad_request("INVALID_URL", f"The url {url} is not a valid composite sub-request url")
    path = parts.path[m.end() :].strip("/")
    body = b""
    if sub.get("body") is not None:
        body = _resolve(json.dumps(sub["body"]), results, ref_id).encode()
    ctx = req.ctx
    if m.group(1) != ctx.api_version:
        ctx = replace(ctx, api_version=m.group(1))
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if path.startswith("composite") and not path.startswith("composite/sobjects"):
        raise bad_request("INVALID_URL", "composite requests cannot be nested")
    # A failing sub-request's writes are already undone: every write runs in its own savepoint.
    return dispatch(org, ApiRequest(method, path, query, body, ctx))


def _sub_response(org: SalesforceOrg, req: ApiRequest, response: ApiResponse, ref_id: str) -> dict[str, Any]:
    headers = dict(response.headers)
    if response.status == 201 and isinstance(response.body, dict) and "id" in response.body:
        obj = org.schema.for_id(str(response.body["id"]))
        if obj is not None:
            headers["Location"] = f"/services/data/v{req.ctx.api_version}/sobjects/{obj.name}/{response.body['id']}"
    return {"body": response.body, "httpHeaders": headers, "httpStatusCode": response.status, "referenceId": ref_id}
