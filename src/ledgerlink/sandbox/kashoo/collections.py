"""Generic REST collection behaviour shared by every Kashoo resource.

Create by POST (201 + ``Location``; an ``id`` the client sends is ignored, as Kashoo's REST conventions say:
every POST makes a new entity, so a repeated POST makes a second one), read, update by PUT (fields present replace,
absent fields stay), soft delete (PUT ``removed: true`` or DELETE, both keep the entity so pollers see
the removal), and lists paged by ``limit``/``offset`` until an empty array.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response

from ledgerlink.sandbox.kashoo.state import KashooState, ks
from ledgerlink.sandbox.kashoo.wire import (
    ApiError,
    KashooJSON,
    entity_id,
    invalid,
    not_found,
    parse_bool,
    parse_date,
    parse_stamp,
    read_object,
)

Doc = dict[str, Any]
Build = Callable[[KashooState, Doc, Doc, bool], None]  # (state, doc to fill, body, creating) -> validates, merges


def _identity(state: KashooState, doc: Doc) -> Doc:
    return doc


def _no_hook(state: KashooState, doc: Doc) -> None:
    return None


@dataclass
class Kind:
    store_kind: str
    label: str
    path: str  # below /api/businesses/{businessId}/
    build: Build
    view: Callable[[KashooState, Doc], Doc] = _identity
    before_remove: Callable[[KashooState, Doc], None] = _no_hook
    after_write: Callable[[KashooState, Doc], None] = _no_hook
    dated: bool = False  # records: filter by startDate/endDate, default order by date


def check_business(state: KashooState, business_id: int) -> None:
    if business_id != state.config.business_id:
        raise not_found("business", business_id)


def load(state: KashooState, kind: Kind, eid: int) -> Doc:
    doc = state.store.get(kind.store_kind, str(eid))
    if doc is None:
        raise not_found(kind.label, eid)
    return doc


def location(request: Request, kind: Kind, eid: int) -> str:
    return f"{str(request.base_url).rstrip('/')}/api/businesses/{ks(request).config.business_id}/{kind.path}/{eid}"


def list_docs(request: Request, state: KashooState, kind: Kind, docs: list[Doc]) -> KashooJSON:
    params = request.query_params
    limit = int(entity_id(params.get("limit", "100"), "limit"))
    if limit > state.config.max_limit:
        raise invalid("limit", f"must be at most {state.config.max_limit}")
    offset = int(params.get("offset", "0")) if params.get("offset", "0").isdigit() else -1
    if offset < 0:
        raise invalid("offset", "must be a whole number, 0 or more")
    since = parse_stamp(params["modifiedSince"], "modifiedSince") if params.get("modifiedSince") else None
    feed = state.behaviour["change_feed"]
    if since is not None and feed == "rejected":
        raise ApiError(400, "INVALID_FIELD", "modifiedSince: unknown query parameter", "modifiedSince")
    if feed == "ignored":
        since = None  # as a server that does not know the parameter: the whole list
    include_removed = parse_bool(params.get("includeRemoved", "false"), "includeRemoved")
    if since is not None:
        # Watermark reads must see removals too, or deletions would never propagate.
        docs = [d for d in docs if d["modified"] >= since]
    elif not include_removed:
        docs = [d for d in docs if not d["removed"]]
    if kind.dated:
        start = parse_date(params["startDate"], "startDate") if params.get("startDate") else None
        end = parse_date(params["endDate"], "endDate") if params.get("endDate") else None
        docs = [d for d in docs if (not start or d["date"] >= start) and (not end or d["date"] <= end)]
    if since is not None:
        docs = sorted(docs, key=lambda d: (d["modified"], d["_seq"]))
    elif kind.dated:
        docs = sorted(docs, key=lambda d: (d["date"], d["_seq"]))
    else:
        docs = sorted(docs, key=lambda d: d["_seq"])
    return KashooJSON([kind.view(state, d) for d in docs[offset : offset + limit]])


def register(router: APIRouter, kind: Kind, filters: Callable[[Request, list[Doc]], list[Doc]] | None = None) -> None:
    """Add list/create/get/update/delete routes for ``kind`` to ``router`` (prefixed ``/api``)."""
    base = f"/businesses/{{business_id:int}}/{kind.path}"

    async def list_(business_id: int, request: Request) -> KashooJSON:
        state = ks(request)
        check_business(state, business_id)
        docs = state.store.all(kind.store_kind)
        return list_docs(request, state, kind, filters(request, docs) if filters else docs)

    async def create(business_id: int, request: Request) -> KashooJSON:
        state = ks(request)
        check_business(state, business_id)
        body = await read_object(request)
        with state.store.tx():
            # Kashoo's REST conventions: ids a client supplies on create are ignored; every POST makes a new entity.
            eid = state.new_id()
            doc: Doc = {"id": eid, "removed": False}
            kind.build(state, doc, body, True)
            doc.update({"modified": state.stamp(), "_seq": state.store.next_id("seq")})
            state.store.put(kind.store_kind, str(eid), doc)
            kind.after_write(state, doc)
        headers = {"Location": location(request, kind, eid)}
        return KashooJSON(kind.view(state, doc), status_code=201, headers=headers)

    async def get(business_id: int, eid: int, request: Request) -> KashooJSON:
        state = ks(request)
        check_business(state, business_id)
        return KashooJSON(kind.view(state, load(state, kind, eid)))

    async def update(business_id: int, eid: int, request: Request) -> KashooJSON:
        state = ks(request)
        check_business(state, business_id)
        body = await read_object(request)
        with state.store.tx():
            doc = load(state, kind, eid)
            if body.get("id") is not None and entity_id(body["id"], "id") != eid:
                raise invalid("id", "does not match the URL")
            if body.get("removed") is not None:
                removed = parse_bool(body["removed"], "removed")
                if removed and not doc["removed"]:
                    kind.before_remove(state, doc)
                doc["removed"] = removed
            kind.build(state, doc, body, False)
            doc["modified"] = state.stamp()
            state.store.put(kind.store_kind, str(eid), doc)
            kind.after_write(state, doc)
        return KashooJSON(kind.view(state, doc))

    async def delete(business_id: int, eid: int, request: Request) -> Response:
        state = ks(request)
        check_business(state, business_id)
        with state.store.tx():
            doc = load(state, kind, eid)
            if not doc["removed"]:
                kind.before_remove(state, doc)
                doc["removed"] = True
                doc["modified"] = state.stamp()
                state.store.put(kind.store_kind, str(eid), doc)
                kind.after_write(state, doc)
        return Response(status_code=204)

    router.add_api_route(base, list_, methods=["GET"], name=f"list {kind.label}")
    router.add_api_route(base, create, methods=["POST"], name=f"create {kind.label}")
    router.add_api_route(f"{base}/{{eid:int}}", get, methods=["GET"], name=f"get {kind.label}")
    router.add_api_route(f"{base}/{{eid:int}}", update, methods=["PUT"], name=f"update {kind.label}")
    router.add_api_route(f"{base}/{{eid:int}}", delete, methods=["DELETE"], name=f"delete {kind.label}")
