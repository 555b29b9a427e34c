"""The Tooling API's ``ManagedEventSubscription`` (beta): create, read, update, delete and query, below
``/services/data/vXX.X/tooling/``. It is the only Tooling object the sandbox serves; others are ``INVALID_TYPE``.

- ``POST tooling/sobjects/ManagedEventSubscription`` ``{"FullName": name, "Metadata": {...}}`` → 201
  ``{"id", "success", "errors"}``; ``GET|PATCH|DELETE tooling/sobjects/ManagedEventSubscription/{id}``.
- ``GET tooling/query?q=SELECT Id, DeveloperName, Metadata FROM ManagedEventSubscription WHERE …`` → the Tooling
  query shape ``{"size", "totalSize", "done", "queryLocator", "entityTypeName", "records"}``
  (salesforce-pubsub-api-client reads ``size``); WHERE takes =, !=, IN, AND, OR, NOT on Id, DeveloperName and
  MasterLabel.

Sources: "ManagedEventSubscription", Tooling API Developer Guide,
https://developer.salesforce.com/docs/atlas.en-us.api_tooling.meta/api_tooling/tooling_api_objects_managedeventsubscription.htm
(available from API 60.0; DELETE, GET, HEAD, PATCH, POST, Query) and "Configuring the Managed Event Subscription",
https://developer.salesforce.com/docs/platform/pub-sub-api/guide/managed-sub.html.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from . import ids
from .change_topics import topic_entity
from .errors import bad_request, not_found
from .managed_subscriptions import SOBJECT, ManagedSubscription, ManagedSubscriptions
from .org import SalesforceOrg
from .rest_api import ApiRequest, ApiResponse, route
from .soql_ast import And, Comparison, Condition, FieldPath, Literal, Not, Or
from .soql_parser import parse

MIN_VERSION = 60.0
_STORES: weakref.WeakKeyDictionary[SalesforceOrg, ManagedSubscriptions] = weakref.WeakKeyDictionary()
_STORES_LOCK = threading.Lock()


def subscriptions_of(org: SalesforceOrg) -> ManagedSubscriptions:
    """The org's managed subscriptions (one store per org, kept beside it like its Bulk API jobs)."""
    with _STORES_LOCK:
        store = _STORES.get(org)
        if store is None:
            store = _STORES[org] = ManagedSubscriptions(org.db)
        return store


def _check(req: ApiRequest, sobject: str) -> None:
    if sobject.lower() != SOBJECT.lower():
        raise bad_request("INVALID_TYPE", f"sObject type '{sobject}' is not supported.")
    if float(req.ctx.api_version) < MIN_VERSION:
        raise not_found(f"{SOBJECT} is available in API version {MIN_VERSION} and later")


def _topic_exists(org: SalesforceOrg) -> Any:
    return lambda name: topic_entity(org.schema, name)[0]


def render(sub: ManagedSubscription, version: str, fields: list[str] | None = None) -> dict[str, Any]:
    names = fields or list(ManagedSubscriptions.FIELDS)
    body: dict[str, Any] = {
        "attributes": {"type": SOBJECT, "url": f"/services/data/v{version}/tooling/sobjects/{SOBJECT}/{sub.id}"}
    }
    for name in names:
        canonical = next((f for f in ManagedSubscriptions.FIELDS if f.lower() == name.lower()), None)
        if canonical is None:
            raise bad_request("INVALID_FIELD", f"No such column '{name}' on entity '{SOBJECT}'")
        body[canonical] = sub.field(canonical)
    return body


@route(r"tooling/sobjects/([A-Za-z0-9_]+)", "POST")
def create(org: SalesforceOrg, req: ApiRequest, groups: list[str]) -> ApiResponse:
    _check(req, groups[0])
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("Metadata"), dict):
        raise bad_request("JSON_PARSER_ERROR", 'Expected {"FullName": …, "Metadata": {…}}')
    name = str(body.get("FullName") or body.get("DeveloperName") or "")
    sub = subscriptions_of(org).create(name, body["Metadata"], _topic_exists(org))
    return ApiResponse(201, {"id": sub.id, "success": True, "errors": []})


@route(r"tooling/sobjects/([A-Za-z0-9_]+)/([A-Za-z0-9]{15}|[A-Za-z0-9]{18})", "GET", "PATCH", "DELETE")
def record(org: SalesforceOrg, req: ApiRequest, groups: list[str]) -> ApiResponse:
    _check(req, groups[0])
    store = subscriptions_of(org)
    if req.method == "GET":
        fields = [f for f in req.query.get("fields", "").split(",") if f.strip()] or None
        return ApiResponse(200, render(store.require(groups[1]), req.ctx.api_version, fields))
    if req.method == "PATCH":
        body = req.json()
        if not isinstance(body, dict):
            raise bad_request("JSON_PARSER_ERROR", "Expected a JSON object")
        store.update(groups[1], body, _topic_exists(org))
        return ApiResponse(204)
    store.delete(groups[1])
    return ApiResponse(204)


@route(r"tooling/query", "GET")
def query(org: SalesforceOrg, req: ApiRequest, _: list[str]) -> ApiResponse:
    soql = req.query.get("q")
    if not soql:
        raise bad_request("MALFORMED_QUERY", "A query string must be provided as the q parameter")
    parsed = parse(soql)
    _check(req, parsed.sobject)
    fields: list[str] = []
    for item in parsed.select:
        if not isinstance(item, FieldPath) or len(item.parts) != 1:
            raise bad_request("MALFORMED_QUERY", f"{SOBJECT} queries select plain fields only")
        fields.append(item.parts[0])
    matches = [s for s in subscriptions_of(org).all() if parsed.where is None or _matches(s, parsed.where)]
    if parsed.limit is not None:
        matches = matches[: parsed.limit]
    records = [render(s, req.ctx.api_version, fields) for s in matches]
    return ApiResponse(
        200,
        {
            "size": len(records),
            "totalSize": len(records),
            "done": True,
            "queryLocator": None,
            "entityTypeName": SOBJECT,
            "records": records,
        },
    )


def _matches(sub: ManagedSubscription, condition: Condition) -> bool:
    if isinstance(condition, And):
        return all(_matches(sub, c) for c in condition.items)
    if isinstance(condition, Or):
        return any(_matches(sub, c) for c in condition.items)
    if isinstance(condition, Not):
        return not _matches(sub, condition.item)
    return _compare(sub, condition)


def _compare(sub: ManagedSubscription, comparison: Comparison) -> bool:
    name = comparison.path.text
    if name.lower() not in ("id", "developername", "masterlabel"):
        raise bad_request("INVALID_FIELD", f"{SOBJECT} can be filtered on Id, DeveloperName and MasterLabel only")
    actual = str(sub.field(name))
    values = comparison.value if isinstance(comparison.value, tuple) else (comparison.value,)
    wanted = [_text(name, v) for v in values if isinstance(v, Literal)]
    if comparison.op in ("=", "IN"):
        return actual.lower() in wanted
    if comparison.op in ("!=", "NOT IN"):
        return actual.lower() not in wanted
    raise bad_request("MALFORMED_QUERY", f"{SOBJECT} filters take =, !=, IN and NOT IN")


def _text(name: str, literal: Literal) -> str:
    """A literal as compared: ids in their 18-character form; names case-insensitively."""
    text = str(literal.value)
    if name.lower() == "id":
        return (ids.normalize(text) or text).lower()
    return text.lower()
