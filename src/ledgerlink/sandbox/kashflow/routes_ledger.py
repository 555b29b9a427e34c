"""Products, nominal codes, bank accounts with their transactions, and VAT rates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from ledgerlink.sandbox.kashflow.auth import require_session
from ledgerlink.sandbox.kashflow.paging import keep_since, paged, updated_since
from ledgerlink.sandbox.kashflow.state import BANK, BANK_TX, CUSTOMER, NOMINAL, PRODUCT, KashFlowState, kf
from ledgerlink.sandbox.kashflow.wire import (
    ApiError,
    KfJSON,
    fmt_datetime,
    invalid,
    money,
    not_found,
    opt_str,
    parse_bool,
    parse_datetime,
    parse_decimal,
    parse_int,
    read_object,
    stored_datetime,
)

router = APIRouter(prefix="/v2", dependencies=[Depends(require_session)])


# ---- VAT rates -------------------------------------------------------------------------------------------------


@router.get("/vatrates")
async def vat_rates(request: Request) -> KfJSON:
    rates = kf(request).config.vat_rates
    return KfJSON([{"Id": i, "Rate": Decimal(str(r))} for i, r in enumerate(rates, start=1)])


# ---- Nominals --------------------------------------------------------------------------------------------------


@router.get("/nominals")
async def list_nominals(request: Request) -> KfJSON:
    state = kf(request)
    return paged(request, list(state.store.all(NOMINAL)), max_per_page=state.config.max_per_page, default_sort="Code")


@router.post("/nominals", status_code=201)
async def create_nominal(request: Request) -> KfJSON:
    state = kf(request)
    body = await read_object(request)
    code = parse_int(body.get("code"), "Code")
    name = opt_str(body, "name", "Name")
    if not name:
        raise invalid("Name", "is required")
    with state.store.tx():
        if state.store.get(NOMINAL, str(code)) is not None:
            raise ApiError(400, "DuplicateNominalCode", f"Nominal code {code} already exists.", "Code")
        doc = {
            "Id": state.store.next_id(NOMINAL),
            "Code": code,
            "Name": name,
            "Type": opt_str(body, "type", "Type") or "Expense",
        }
        state.store.put(NOMINAL, str(code), doc)
    return KfJSON(doc, status_code=201)


# ---- Products --------------------------------------------------------------------------------------------------


def _product_row(doc: dict[str, Any]) -> dict[str, Any]:
    row = dict(doc)
    for key in ("Price", "WholesalePrice", "VATRate"):
        row[key] = Decimal(doc[key])
    for key in ("CreatedDate", "LastUpdatedDate"):
        row[key] = fmt_datetime(stored_datetime(doc[key]))
    return row


def _apply_product(state: KashFlowState, doc: dict[str, Any], body: dict[str, Any]) -> None:
    for name in ("Name", "Description"):
        if name.lower() in body:
            doc[name] = opt_str(body, name.lower(), name)
    if not doc.get("Name"):
        raise invalid("Name", "is required")
    for name in ("Price", "WholesalePrice"):
        if body.get(name.lower()) is not None:
            doc[name] = str(parse_decimal(body[name.lower()], name))
        doc.setdefault(name, "0")
    if body.get("vatrate") is not None:
        rate = parse_decimal(body["vatrate"], "VATRate")
        if rate not in [Decimal(str(r)) for r in state.config.vat_rates]:
            raise invalid("VATRate", f"{rate:g} is not one of this account's VAT rates")
        doc["VATRate"] = str(rate)
    doc.setdefault("VATRate", str(max(state.config.vat_rates)))
    if "isarchived" in body:
        doc["IsArchived"] = parse_bool(body["isarchived"], "IsArchived")
    doc.setdefault("IsArchived", False)


def _product_key(nominal: int, code: str) -> str:
    return f"{nominal}/{code.upper()}"


def _load_product(state: KashFlowState, nominal: int, code: str) -> dict[str, Any]:
    doc = state.store.get(PRODUCT, _product_key(nominal, code))
    if doc is None:
        raise not_found("Product", f"{nominal}/{code}")
    return doc


@router.get("/products")
async def list_products(request: Request) -> KfJSON:
    state = kf(request)
    docs = keep_since(state.store.all(PRODUCT), updated_since(request))
    return paged(request, [_product_row(d) for d in docs], max_per_page=state.config.max_per_page)


@router.post("/products", status_code=201)
async def create_product(request: Request) -> KfJSON:
    state = kf(request)
    body = await read_object(request)
    code = opt_str(body, "code", "Code")
    if not code:
        raise invalid("Code", "is required")
    nominal = parse_int(body.get("nominalcode", 4000), "NominalCode")
    with state.store.tx():
        if state.store.get(NOMINAL, str(nominal)) is None:
            raise invalid("NominalCode", f"{nominal} is not a nominal code in this account")
        if state.store.get(PRODUCT, _product_key(nominal, code)) is not None:
            raise ApiError(400, "DuplicateProductCode", f"Product {code} already exists under {nominal}.", "Code")
        doc: dict[str, Any] = {"Id": state.store.next_id(PRODUCT), "Code": code, "NominalCode": nominal}
        _apply_product(state, doc, body)
        doc["CreatedDate"] = doc["LastUpdatedDate"] = state.now_iso()
        state.store.put(PRODUCT, _product_key(nominal, code), doc)
    return KfJSON(_product_row(doc), status_code=201)


@router.get("/products/{nominal:int}/{code}")
async def get_product(nominal: int, code: str, request: Request) -> KfJSON:
    return KfJSON(_product_row(_load_product(kf(request), nominal, code)))


@router.put("/products/{nominal:int}/{code}")
async def update_product(nominal: int, code: str, request: Request) -> KfJSON:
    state = kf(request)
    body = await read_object(request)
    with state.store.tx():
        doc = _load_product(state, nominal, code)
        _apply_product(state, doc, body)
        doc["LastUpdatedDate"] = state.now_iso()
        state.store.put(PRODUCT, _product_key(nominal, code), doc)
    return KfJSON(_product_row(doc))


@router.delete("/products/{nominal:int}/{code}", status_code=204)
async def delete_product(nominal: int, code: str, request: Request) -> Response:
    state = kf(request)
    with state.store.tx():
        _load_product(state, nominal, code)
        state.store.delete(PRODUCT, _product_key(nominal, code))
    return Response(status_code=204)


# ---- Bank accounts and transactions ----------------------------------------------------------------------------


def _bank_row(state: KashFlowState, doc: dict[str, Any]) -> dict[str, Any]:
    txs = [t for t in state.store.all(BANK_TX) if t["AccountId"] == doc["Id"]]
    balance = sum((Decimal(t["PaidIn"]) - Decimal(t["PaidOut"]) for t in txs), Decimal(0))
    return {**doc, "Balance": balance}


def tx_row(doc: dict[str, Any]) -> dict[str, Any]:
    row = dict(doc)
    for key in ("PaidIn", "PaidOut", "VATRate"):
        row[key] = Decimal(doc[key])
    row["Date"] = fmt_datetime(stored_datetime(doc["Date"]))
    return row


def load_bank(state: KashFlowState, account_id: int, field: str | None = None) -> dict[str, Any]:
    doc = state.store.get(BANK, str(account_id))
    if doc is None:
        if field:
            raise invalid(field, f"no bank account with Id {account_id}")
        raise not_found("Bank account", account_id)
    return doc


def add_transaction(state: KashFlowState, fields: dict[str, Any]) -> dict[str, Any]:
    doc = {
        "Id": state.store.next_id(BANK_TX),
        "VATRate": "0",
        "Reconciled": False,
        "CustomerCode": None,
        "EntityName": None,
        "ResourceNumber": None,
        "Description": None,
        **fields,
    }
    state.store.put(BANK_TX, str(doc["Id"]), doc)
    return doc


@router.get("/bankaccounts")
async def list_bank_accounts(request: Request) -> KfJSON:
    state = kf(request)
    rows = [_bank_row(state, d) for d in state.store.all(BANK)]
    return paged(request, rows, max_per_page=state.config.max_per_page)


@router.post("/bankaccounts", status_code=201)
async def create_bank_account(request: Request) -> KfJSON:
    state = kf(request)
    body = await read_object(request)
    name = opt_str(body, "name", "Name")
    if not name:
        raise invalid("Name", "is required")
    with state.store.tx():
        used = {d["NominalCode"] for d in state.store.all(BANK)}
        nominal = next(code for code in range(1200, 1300) if code not in used)
        bid = state.store.next_id(BANK)
        doc = {
            "Id": bid,
            "Code": nominal,
            "Name": name,
            "AccountNumber": opt_str(body, "accountnumber", "AccountNumber"),
            "SortCode": opt_str(body, "sortcode", "SortCode"),
            "NominalCode": nominal,
            "Currency": {"Code": state.config.base_currency},
            "IsDefault": False,
        }
        state.store.put(BANK, str(bid), doc)
        if state.store.get(NOMINAL, str(nominal)) is None:
            state.store.put(
                NOMINAL,
                str(nominal),
                {"Id": state.store.next_id(NOMINAL), "Code": nominal, "Name": name, "Type": "Bank"},
            )
    return KfJSON(_bank_row(state, doc), status_code=201)


@router.get("/bankaccounts/{account_id:int}/transactions")
async def list_transactions(account_id: int, request: Request) -> KfJSON:
    state = kf(request)
    load_bank(state, account_id)
    rows = [tx_row(t) for t in state.store.all(BANK_TX) if t["AccountId"] == account_id]
    return paged(request, rows, max_per_page=state.config.max_per_page)


@router.post("/bankaccounts/{account_id:int}/transactions", status_code=201)
async def create_transaction(account_id: int, request: Request) -> KfJSON:
    state = kf(request)
    body = await read_object(request)
    with state.store.tx():
        load_bank(state, account_id)
        paid_in = money(parse_decimal(body.get("paidin", 0), "PaidIn"))
        paid_out = money(parse_decimal(body.get("paidout", 0), "PaidOut"))
        if paid_in < 0 or paid_out < 0 or (paid_in > 0) == (paid_out > 0):
            raise invalid("PaidIn", "give exactly one of PaidIn or PaidOut, greater than zero")
        customer = opt_str(body, "customercode", "CustomerCode")
        if customer and state.store.get(CUSTOMER, customer.upper()) is None:
            raise invalid("CustomerCode", f"no customer with code {customer!r}")
        date = parse_datetime(body["date"], "Date") if body.get("date") is not None else state.clock.now()
        doc = add_transaction(
            state,
            {
                "AccountId": account_id,
                "Date": date.replace(tzinfo=None).isoformat(),
                "PaidIn": str(paid_in),
                "PaidOut": str(paid_out),
                "VATRate": str(parse_decimal(body.get("vatrate", 0), "VATRate")),
                "Reconciled": parse_bool(body.get("reconciled", False), "Reconciled"),
                "CustomerCode": customer,
                "EntityName": opt_str(body, "entityname", "EntityName"),
                "ResourceNumber": opt_str(body, "resourcenumber", "ResourceNumber"),
                "Description": opt_str(body, "description", "Description"),
            },
        )
    return KfJSON(tx_row(doc), status_code=201)
