"""``/v2/customers``: list, search, create, read, update, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from ledgerlink.sandbox.kashflow import customers as model
from ledgerlink.sandbox.kashflow.auth import require_session
from ledgerlink.sandbox.kashflow.paging import keep_since, paged, updated_since
from ledgerlink.sandbox.kashflow.state import CUSTOMER, INVOICE, KashFlowState, kf
from ledgerlink.sandbox.kashflow.wire import ApiError, KfJSON, invalid, not_found, parse_bool, read_object

router = APIRouter(prefix="/v2", dependencies=[Depends(require_session)])


def _rows(state: KashFlowState, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    balances = model.balances(state)
    return [model.serialise(d, balances.get(d["Code"].upper())) for d in docs]


def _load(state: KashFlowState, code: str) -> dict[str, Any]:
    doc = state.store.get(CUSTOMER, code.upper())
    if doc is None:
        raise not_found("Customer", code)
    return doc


@router.get("/customers")
async def list_customers(request: Request) -> KfJSON:
    state = kf(request)
    docs = keep_since(state.store.all(CUSTOMER), updated_since(request))
    params = request.query_params
    if "isarchived" in params:
        archived = parse_bool(params["isarchived"], "isarchived")
        docs = [d for d in docs if d["IsArchived"] == archived]
    if text := params.get("filterby", "").strip().lower():
        docs = [d for d in docs if any(text in (d.get(f) or "").lower() for f in ("Code", "Name", "Email"))]
    return paged(request, _rows(state, docs), max_per_page=state.config.max_per_page)


@router.get("/customers/search")
async def search_customers(request: Request) -> KfJSON:
    """``name`` matches as a case-insensitive substring; ``email`` and ``code`` match exactly, ignoring case."""
    state = kf(request)
    params = request.query_params
    name, email, code = (params.get(k, "").strip().lower() for k in ("name", "email", "code"))
    if not (name or email or code):
        raise invalid("name", "give at least one of name, email or code")
    docs = [
        d
        for d in state.store.all(CUSTOMER)
        if (not name or name in (d.get("Name") or "").lower())
        and (not email or email == (d.get("Email") or "").lower())
        and (not code or code == d["Code"].lower())
    ]
    return paged(request, _rows(state, docs), max_per_page=state.config.max_per_page)


@router.post("/customers", status_code=201)
async def create_customer(request: Request) -> KfJSON:
    state = kf(request)
    body = await read_object(request)
    with state.store.tx():
        doc = model.new_doc(state)
        model.apply_body(state, doc, body)
        code = str(body.get("code") or "").strip()
        if code and state.store.get(CUSTOMER, code.upper()) is not None:
            if not parse_bool(body.get("createcustomercodeifduplicate", False), "CreateCustomerCodeIfDuplicate"):
                raise ApiError(400, "DuplicateCustomerCode", f"Customer code {code} is already in use.", "Code")
            code = model.free_code(state, code)
        doc["Code"] = code or model.free_code(state, doc["Name"])
        doc["Id"] = state.store.next_id(CUSTOMER)
        doc["CreatedDate"] = doc["LastUpdatedDate"] = state.now_iso()
        state.store.put(CUSTOMER, doc["Code"].upper(), doc)
    row = _rows(state, [doc])[0]
    return KfJSON(row, status_code=201, headers={"Location": f"{request.url}/{doc['Code']}"})


@router.get("/customers/{code}")
async def get_customer(code: str, request: Request) -> KfJSON:
    state = kf(request)
    return KfJSON(_rows(state, [_load(state, code)])[0])


@router.put("/customers/{code}")
async def update_customer(code: str, request: Request) -> KfJSON:
    state = kf(request)
    body = await read_object(request)
    with state.store.tx():
        doc = _load(state, code)
        new_code = body.get("code")
        if new_code is not None and str(new_code).upper() != doc["Code"].upper():
            raise invalid("Code", "a customer's code cannot be changed")
        model.apply_body(state, doc, body)
        doc["LastUpdatedDate"] = state.now_iso()
        state.store.put(CUSTOMER, doc["Code"].upper(), doc)
    return KfJSON(_rows(state, [doc])[0])


@router.delete("/customers/{code}", status_code=204)
async def delete_customer(code: str, request: Request) -> Response:
    state = kf(request)
    with state.store.tx():
        doc = _load(state, code)
        if any(inv["CustomerCode"].upper() == doc["Code"].upper() for inv in state.store.all(INVOICE)):
            raise ApiError(400, "CustomerHasTransactions", f"Customer {doc['Code']} has invoices; archive it instead.")
        state.store.delete(CUSTOMER, doc["Code"].upper())
    return Response(status_code=204)
