"""Products both ways: Salesforce Product2 + its standard PricebookEntry ⇄ the books' products or items.

The same shape as ``customer_sync``: a durable trigger (``poll_products``) settles a page per step — Product2
changed or deleted, standard PricebookEntries changed (a price edit does not touch its Product2), then the books'
products changed — with the conflict rules of ``flows.sync.conflicts``, no echo (versions and bases in the ledger),
and the delete policy: a deleted Product2 archives the books' product ("archive"), its undelete restores it.
Archiving is a field here (``active`` ⇄ IsActive / IsArchived / removed), so it travels like any other change.
A new Product2 is linked to the books' product with the same code, else created; a new books product becomes a
Product2 (upserted on ExternalID__c = code) with a standard price.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TypedDict

from dbos import DBOS, WorkflowHandle

from ledgerlink.engine.flows import Flow, register
from ledgerlink.engine.retry import BATCH_WRITE_RETRY, with_retries
from ledgerlink.engine.runtime import ACCOUNTING, CRM, current, enqueue_record
from ledgerlink.flows._ledger_steps import resolve_failure, save_watermark
from ledgerlink.flows._probes import books_changed, salesforce_changed
from ledgerlink.flows.deps import Deps, current_deps
from ledgerlink.flows.sync.common import (
    RECORD_ERRORS,
    fail,
    mapped_columns,
    position_after,
    read_changed,
    sync_step,
    transform_context,
)
from ledgerlink.flows.sync.conflicts import Side, combined_owners, merge
from ledgerlink.flows.sync.salesforce_writes import Batch
from ledgerlink.flows.sync.state import PendingVersions, load_base, save_base, unchanged
from ledgerlink.mapping import TransformContext, load_mapping
from ledgerlink.model import Product
from ledgerlink.model import fields as F
from ledgerlink.systems.accounting import AccountingSystem, with_nulls
from ledgerlink.systems.errors import PermanentError
from ledgerlink.systems.salesforce import fields as crm_fields
from ledgerlink.systems.salesforce import soql as literal

FLOW = "product_sync"
ENTITY = "product"
WATERMARK = "salesforce.Product2.product_sync"
PRICE_WATERMARK = "salesforce.PricebookEntry.product_sync"
STANDARD_PRICES = "Pricebook2.IsStandard = true"  # the price entries the sync reads
SF = "salesforce"
PRODUCT2 = "Product2"
PRICES = "(SELECT Id, UnitPrice, IsActive FROM PricebookEntries WHERE Pricebook2.IsStandard = true)"
PRODUCT_TEMPLATE = "salesforce/product_to_canonical"
PRODUCT_FIELDS = [
    "Name",
    "ProductCode",
    "ExternalID__c",
    "Description",
    "IsActive",
    "Family",
    "LastModifiedDate",
    "IsDeleted",
    PRICES,
]


class Outcome(TypedDict, total=False):
    status: str
    pages: int
    counts: dict[str, int]


def books_watermark(system: str) -> str:
    return f"{system}.products.{FLOW}"


def product_columns(deps: Deps) -> list[str]:
    """``PRODUCT_FIELDS`` plus what the Product2 mapping in use reads beyond them."""
    return mapped_columns(deps, PRODUCT2, PRODUCT_TEMPLATE, PRODUCT_FIELDS)


def products_by_id(deps: Deps, ids: list[str]) -> list[dict[str, Any]]:
    if not ids:
        return []
    columns = ", ".join(product_columns(deps))
    query = f"SELECT Id, SystemModstamp, {columns} FROM Product2 WHERE Id IN ({literal.id_list(ids)})"
    return list(deps.crm.query(query, include_deleted=True))


def _json(product: Product) -> dict[str, Any]:
    return product.model_dump(mode="json")


def _standard_pricebook(deps: Deps) -> str:
    rows = list(deps.crm.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true"))
    if not rows:
        raise PermanentError("the org has no standard price book", system=SF, record="Pricebook2")
    return str(rows[0]["Id"])


@dataclass
class Page:
    deps: Deps
    run_id: str
    full: bool
    ctx: TransformContext
    counts: Counter[str] = field(default_factory=Counter)
    products: Batch = field(default_factory=lambda: Batch(PRODUCT2))
    prices: Batch = field(default_factory=lambda: Batch("PricebookEntry"))
    new_products: dict[str, tuple[str, Product]] = field(default_factory=dict)  # code -> (books id, product)
    bases: dict[str, dict[str, Any]] = field(default_factory=dict)
    written: dict[str, list[str]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    versions: PendingVersions = field(default_factory=PendingVersions)  # saved after the page's writes
    _pricebook: str | None = None

    @property
    def sb(self) -> AccountingSystem:
        return self.deps.books

    def pricebook(self) -> str:
        if self._pricebook is None:
            self._pricebook = _standard_pricebook(self.deps)
        return self._pricebook

    def books_ref(self, books_id: str) -> tuple[str, str, str]:
        return (self.sb.name, self.sb.product_object, books_id)

    def audit(self, system: str, obj: str, record_id: str, action: str, source: str, **detail: Any) -> None:
        self.deps.ledger.audit(
            flow=FLOW,
            system=system,
            obj=obj,
            record_id=record_id,
            action=action,
            run_id=self.run_id,
            source_id=source,
            detail=detail,
        )

    def fail(self, source: tuple[str, str, str], exc: BaseException) -> None:
        fail(self.deps, FLOW, source, exc, self.run_id)
        self.failed.add(source[2])
        self.counts["failed"] += 1


def _sf_product(record: dict[str, Any], ctx: TransformContext) -> Product:
    return Product.model_validate(load_mapping("salesforce/product_to_canonical").apply(record, ctx).values)


def _product2_payload(product: Product, ctx: TransformContext) -> dict[str, Any]:
    return dict(load_mapping("salesforce/product_from_canonical").apply(_json(product), ctx).values)


def _price_payload(product: Product, ctx: TransformContext) -> dict[str, Any]:
    payload = dict(load_mapping("salesforce/pricebookentry_from_canonical").apply(_json(product), ctx).values)
    payload.pop("CurrencyIsoCode", None)  # single-currency org: the field does not exist
    return payload


def _to_salesforce(page: Page, record: dict[str, Any], product: Product, changes: dict[str, Any]) -> None:
    product_id = record["Id"]
    after = Product.model_validate(F.unflatten(changes, _json(product)))
    before = _product2_payload(product, page.ctx)
    payload = with_nulls(before, _product2_payload(after, page.ctx))
    payload.pop("ProductCode", None)  # the link key
    diff = {k: v for k, v in payload.items() if before.get(k) != v}
    if diff:
        page.products.updates.append((product_id, {"Id": product_id, **diff}))
    if "unit_price" in changes:
        entries = (record.get("PricebookEntries") or {}).get("records") or []
        price = _price_payload(after, page.ctx)
        if entries:
            page.prices.updates.append((product_id, {"Id": entries[0]["Id"], "UnitPrice": price["UnitPrice"]}))
        else:
            entry = {"Pricebook2Id": page.pricebook(), "Product2Id": product_id, "IsActive": True, **price}
            page.prices.creates.append((product_id, entry))
    page.written[product_id] = sorted(changes)


def _settle(
    page: Page,
    record: dict[str, Any],
    product: Product,
    sf_values: dict[str, Any],
    books_id: str,
    books_product: Product | None,
    base: dict[str, Any] | None,
) -> None:
    sb, product_id = page.sb, record["Id"]
    if books_product is None:
        books_product = with_retries(sb.read_product)(books_id, page.ctx)
    if books_product is None:
        page.audit(sb.name, sb.product_object, books_id, "missing_in_books", product_id)
        page.counts["missing_in_books"] += 1
        return
    books_values = F.project(_json(books_product), sb.product_fields)
    owners = combined_owners(load_mapping("salesforce/product_to_canonical").owners, sb.product_owners(), sb.name)
    result = merge(
        base,
        Side(SF, sf_values, crm_fields.PRODUCT_FIELDS, product.modified_at),
        Side(sb.name, books_values, sb.product_fields, books_product.modified_at),
        owners,
        page.deps.settings.source_priority,
    )
    for conflict in result.conflicts:
        page.audit(sb.name, sb.product_object, books_id, "conflict", product_id, **conflict.as_detail())
    page.counts["conflicts"] += len(result.conflicts)
    if not result.in_sync:
        page.counts["drift"] += 1
    if result.to_books:
        after = Product.model_validate(F.unflatten(result.to_books, _json(books_product)))
        written = with_retries(sb.update_product)(books_id, books_product, after, page.ctx)
        books_values = F.project(_json(written), sb.product_fields)
        page.versions.remember(page.books_ref(books_id), books_values, ours=True, modified_at=None)
        page.audit(sb.name, sb.product_object, books_id, "updated", product_id, fields=sorted(result.to_books))
        page.counts["updated_books"] += 1
    else:
        page.versions.remember(page.books_ref(books_id), books_values, ours=False, modified_at=None)
    if result.to_salesforce:
        _to_salesforce(page, record, product, result.to_salesforce)
    page.bases[product_id] = result.merged


def _set_active(page: Page, product_id: str, books_id: str, active: bool, action: str) -> None:
    sb = page.sb
    books_product = with_retries(sb.read_product)(books_id, page.ctx)
    if books_product is not None and books_product.active != active:
        written = with_retries(sb.update_product)(
            books_id, books_product, books_product.model_copy(update={"active": active}), page.ctx
        )
        values = F.project(_json(written), sb.product_fields)
        page.versions.remember(page.books_ref(books_id), values, ours=True, modified_at=None)
    page.audit(sb.name, sb.product_object, books_id, action, product_id)
    page.counts[action] += 1


def _product(page: Page, record: dict[str, Any], books_product: Product | None = None) -> None:
    ledger, product_id, sb = page.deps.ledger, record["Id"], page.sb
    books_id = ledger.lookup(SF, PRODUCT2, product_id, sb.name, sb.product_object)
    base = load_base(ledger, ENTITY, product_id)
    archive = page.deps.settings.delete_policy == "archive"
    if record.get("IsDeleted"):
        if books_id and not (base or {}).get("_deleted"):
            if archive:
                _set_active(page, product_id, books_id, False, "archived")
            else:
                page.audit(sb.name, sb.product_object, books_id, "delete_ignored", product_id)
            page.bases[product_id] = {**(base or {}), "_deleted": True}
        return
    product = _sf_product(record, page.ctx)
    if books_id and base is not None and base.get("_deleted"):
        if archive:
            _set_active(page, product_id, books_id, product.active, "restored")
        base = {k: v for k, v in base.items() if k not in ("_deleted", "active")}
        page.bases[product_id] = base
    sf_values = F.project(_json(product), crm_fields.PRODUCT_FIELDS)
    sf_ref = (SF, PRODUCT2, product_id)
    if books_id is None:
        books_id = with_retries(sb.find_product)(product.code)
        if books_id is not None:
            ledger.link(sf_ref, page.books_ref(books_id))
            page.audit(sb.name, sb.product_object, books_id, "matched", product_id, how="code")
            page.counts["matched"] += 1
            _settle(page, record, product, sf_values, books_id, None, None)
        else:
            books_id = with_retries(sb.create_product)(product, page.ctx)  # found again by its code if made
            ledger.link(sf_ref, page.books_ref(books_id))
            page.audit(sb.name, sb.product_object, books_id, "created", product_id, code=product.code)
            page.counts["created_books"] += 1
            page.bases[product_id] = sf_values
    elif books_product is None and not page.full and unchanged(ledger, sf_ref, sf_values):
        page.counts["unchanged"] += 1
        return
    elif books_product is None and base is not None and _same(sf_values, base, page.sb.product_fields):
        page.counts["unchanged"] += 1
    else:
        _settle(page, record, product, sf_values, books_id, books_product, base)
    page.versions.remember(sf_ref, sf_values, ours=False, modified_at=record.get("SystemModstamp"))


def _same(values: dict[str, Any], base: dict[str, Any], books_fields: frozenset[str]) -> bool:
    return all(values.get(f) == base.get(f) for f in crm_fields.PRODUCT_FIELDS & books_fields)


def _new_in_books(page: Page) -> None:
    if not page.new_products:
        return
    codes = ", ".join(literal.string(c) for c in page.new_products)
    soql = (
        f"SELECT Id, SystemModstamp, {', '.join(product_columns(page.deps))} FROM Product2 "
        f"WHERE ProductCode IN ({codes}) OR ExternalID__c IN ({codes})"
    )
    ledger = page.deps.ledger
    for record in page.deps.crm.query(soql):
        code = str(record.get("ProductCode") or record.get("ExternalID__c"))
        books_id, product = page.new_products.pop(code, (None, None))
        if books_id is None or product is None:
            continue
        ledger.link((SF, PRODUCT2, record["Id"]), page.books_ref(books_id))
        page.audit(SF, PRODUCT2, record["Id"], "matched", books_id, how="code")
        page.counts["matched"] += 1
        _product(page, record, product)
    for code, (books_id, product) in page.new_products.items():
        try:
            payload = {**_product2_payload(product, page.ctx), "ExternalID__c": code}
            page.products.upserts.append((code, payload))
        except RECORD_ERRORS as exc:
            page.fail(page.books_ref(books_id), exc)


def _flush(page: Page) -> None:
    rt = page.deps
    ledger, sb = rt.ledger, page.sb

    def failed(key: str, exc: PermanentError) -> None:
        source = page.books_ref(page.new_products[key][0]) if key in page.new_products else (SF, PRODUCT2, key)
        page.fail(source, exc)
        page.bases.pop(key, None)

    done = with_retries(page.products.send, BATCH_WRITE_RETRY)(rt.crm, failed) if page.products else {}
    for code, (books_id, product) in page.new_products.items():
        if code not in done:
            continue
        product_id, created = done[code]
        ledger.link((SF, PRODUCT2, product_id), page.books_ref(books_id))
        page.audit(SF, PRODUCT2, product_id, "created" if created else "matched", books_id, code=code)
        page.counts["created_salesforce"] += 1
        entry = {"Pricebook2Id": page.pricebook(), "Product2Id": product_id, "IsActive": True}
        page.prices.creates.append((product_id, {**entry, **_price_payload(product, page.ctx)}))
        page.written[product_id] = ["created"]
        values = F.project(_json(product), sb.product_fields)
        page.versions.remember(page.books_ref(books_id), values, ours=False, modified_at=None)
    if page.prices:
        with_retries(page.prices.send, BATCH_WRITE_RETRY)(rt.crm, lambda key, exc: page.fail((SF, PRODUCT2, key), exc))
    for record in products_by_id(rt, [p for p in page.written if p not in page.failed]):
        sf_values = F.project(_json(_sf_product(record, page.ctx)), crm_fields.PRODUCT_FIELDS)
        page.versions.remember(
            (SF, PRODUCT2, record["Id"]), sf_values, ours=True, modified_at=record.get("SystemModstamp")
        )
        page.bases.setdefault(record["Id"], dict(sf_values))
        if page.written[record["Id"]] != ["created"]:
            page.audit(SF, PRODUCT2, record["Id"], "updated", record["Id"], fields=page.written[record["Id"]])
            page.counts["updated_salesforce"] += 1
    for product_id, base in page.bases.items():
        if product_id not in page.failed:
            save_base(ledger, ENTITY, product_id, base)
    page.versions.save(ledger)  # last: only now is every write of the page out


def sync_product_records(deps: Deps, records: list[dict[str, Any]], run_id: str, *, full: bool) -> dict[str, int]:
    page = Page(deps, run_id, full, transform_context(deps))
    for record in records:
        try:
            _product(page, record)
        except RECORD_ERRORS as exc:
            page.fail((SF, PRODUCT2, record["Id"]), exc)
    _flush(page)
    return dict(page.counts)


def sync_books_products(deps: Deps, items: list[tuple[str, Product]], run_id: str, *, full: bool) -> dict[str, int]:
    page = Page(deps, run_id, full, transform_context(deps))
    sb, ledger = page.sb, deps.ledger
    pending: dict[str, Product] = {}
    for books_id, product in items:
        ref = page.books_ref(books_id)
        values = F.project(_json(product), sb.product_fields)
        product_id = ledger.lookup(sb.name, sb.product_object, books_id, SF, PRODUCT2)
        if product_id is None:
            if product.active:
                page.new_products[product.code] = (books_id, product)
            continue
        if not full and unchanged(ledger, ref, values):
            page.counts["unchanged"] += 1
            continue
        base = load_base(ledger, ENTITY, product_id)
        if base is not None and _same(values, base, sb.product_fields):
            page.versions.remember(ref, values, ours=False, modified_at=None)
            page.counts["unchanged"] += 1
            continue
        pending[product_id] = product
    for record in products_by_id(deps, list(pending)):
        if record.get("IsDeleted"):
            continue
        try:
            _product(page, record, pending[record["Id"]])
        except RECORD_ERRORS as exc:
            page.fail((SF, PRODUCT2, record["Id"]), exc)
    _new_in_books(page)
    _flush(page)
    return dict(page.counts)


# --- steps and the trigger -----------------------------------------------------------------------------------------


@sync_step
def product2_page(deps: Deps, lag_seconds: float, run_id: str) -> dict[str, Any]:
    records = read_changed(deps, PRODUCT2, WATERMARK, product_columns(deps), None, lag_seconds)
    counts = sync_product_records(deps, records, run_id, full=False)
    return {"counts": counts, "position": position_after(records), "more": len(records) == deps.settings.sync_page_size}


@sync_step
def prices_page(deps: Deps, lag_seconds: float, run_id: str) -> dict[str, Any]:
    entries = read_changed(deps, "PricebookEntry", PRICE_WATERMARK, ["Product2Id"], STANDARD_PRICES, lag_seconds)
    ids = list(dict.fromkeys(str(e["Product2Id"]) for e in entries))
    counts = sync_product_records(deps, products_by_id(deps, ids), run_id, full=False)
    return {"counts": counts, "position": position_after(entries), "more": len(entries) == deps.settings.sync_page_size}


@sync_step
def books_page(deps: Deps, run_id: str) -> dict[str, Any]:
    sb = deps.books
    mark = books_watermark(sb.name)
    watermark, limit = deps.ledger.get_watermark(mark), deps.settings.sync_page_size
    items, position, more = sb.products_changed(watermark, limit, transform_context(deps))
    counts = sync_books_products(deps, items, run_id, full=False)
    return {"counts": counts, "position": position, "more": more, "watermark": mark}


@DBOS.workflow(name="poll_products")
def poll_products(lag_seconds: float) -> Outcome:
    run_id = DBOS.workflow_id or ""
    deps = current_deps()
    total: Counter[str] = Counter()
    pages = 0
    for step, mark in ((product2_page, WATERMARK), (prices_page, PRICE_WATERMARK)):
        while True:
            page = step(deps, lag_seconds, run_id)
            pages += 1
            total.update(page["counts"])
            if page["position"]:
                save_watermark(deps, mark, page["position"])
            if not page["more"]:
                break
    while True:
        page = books_page(deps, run_id)
        pages += 1
        total.update(page["counts"])
        if page["position"]:
            save_watermark(deps, page["watermark"], page["position"])
        if not page["more"]:
            break
    deps.ledger.trigger_checked(WATERMARK)  # every side read to the end: alive, changes or none (stalled alerts)
    return {"status": "failed" if total.get("failed") else "synced", "pages": pages, "counts": dict(total)}


def anything_changed(lag_seconds: float) -> bool:
    """The trigger's probe: what ``poll_products`` reads first on each side, asked for one row."""
    deps = current_deps()
    return (
        salesforce_changed(deps, PRODUCT2, WATERMARK, None, lag_seconds, include_deleted=True)
        or salesforce_changed(
            deps, "PricebookEntry", PRICE_WATERMARK, STANDARD_PRICES, lag_seconds, include_deleted=True
        )
        or books_changed(deps, books_watermark(deps.books.name), deps.books.products_changed)
    )


def poll(*, lag_seconds: float | None = None) -> list[WorkflowHandle[Outcome]]:
    lag = current().settings.poll_lag_seconds if lag_seconds is None else lag_seconds
    return [DBOS.start_workflow(poll_products, lag)]


@sync_step
def sync_one_step(deps: Deps, source_id: str, run_id: str) -> dict[str, int]:
    sb = deps.books
    if deps.ledger.lookup(sb.name, sb.product_object, source_id, SF, PRODUCT2) or not source_id.startswith("01t"):
        product = sb.read_product(source_id, transform_context(deps))
        return sync_books_products(deps, [(source_id, product)] if product else [], run_id, full=True)
    return sync_product_records(deps, products_by_id(deps, [source_id]), run_id, full=True)


@DBOS.workflow(name="sync_product")
def sync_product(source_id: str) -> Outcome:
    deps = current_deps()
    counts = sync_one_step(deps, source_id, DBOS.workflow_id or "")
    if not counts.get("failed"):
        resolve_failure(deps, FLOW, source_id)
    return {"status": "failed" if counts.get("failed") else "synced", "pages": 1, "counts": counts}


def replay(source_id: str) -> WorkflowHandle[Outcome]:
    return enqueue_record(
        sync_product,
        source_id,
        workflow_id=f"{FLOW}:{source_id}:replay-{uuid.uuid4().hex[:12]}",
        record_key=f"product:{source_id}",
        connection=ACCOUNTING,  # either side may change; the books are the stricter API
    )


register(
    Flow(
        name=FLOW,
        description="Product2 + standard price ⇄ the books' products, both ways",
        source=(CRM, "Product2"),
        watermark=WATERMARK,
        replay=replay,
        poll=poll,
        trigger=poll_products,
        probe=anything_changed,
    )
)
