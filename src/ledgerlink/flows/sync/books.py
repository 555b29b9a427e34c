"""The accounting side of two-way sync: read a page of changes, read one record, update one record — in canonical
terms, through the same templates as the adapters. Kept beside the adapters (``books_kashflow``, ``books_kashoo``)
rather than in them: creates and look-ups stay theirs, this adds what only sync needs.

Updates send the whole mapped record, with every field the previous version had and the new one lacks set to
null, so that clearing a field in one system clears it in the other. Each update returns the record as the books
answered it: that is the version the ledger remembers, so the change it causes is recognised as our own.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any, Protocol

from ledgerlink.connectors._http import decimal_json
from ledgerlink.flows.accounting import AccountingSystem, apply_mapping, canonical_json, naming
from ledgerlink.flows.books_kashflow import KashFlowBooks
from ledgerlink.flows.books_kashoo import KashooBooks, _flat_address, _nested_address
from ledgerlink.flows.sync import fields
from ledgerlink.mapping import Mapping, TransformContext, load_mapping
from ledgerlink.model import Customer, Product

Page = tuple[list[tuple[str, Any]], str | None, bool]  # ((id, canonical) …, next watermark/cursor, more to read)


def _mapping(name: str) -> Mapping:
    # No cache here: the loader keeps compiled mappings by file and modification time, so an edit in the
    # console (or on disk) reaches the next record without a restart.
    return load_mapping(name)


def _with_nulls(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {**{k: None for k in before if k not in after}, **after}


class SyncBooks(Protocol):
    system: str
    customer_object: str
    product_object: str
    customer_fields: frozenset[str]
    product_fields: frozenset[str]

    @property
    def books(self) -> AccountingSystem: ...

    def customer_owners(self) -> dict[str, str]: ...
    def product_owners(self) -> dict[str, str]: ...
    def customers_changed(self, watermark: str | None, limit: int, ctx: TransformContext | None) -> Page: ...
    def customers_all(self, cursor: str | None, limit: int, ctx: TransformContext | None) -> Page: ...
    def read_customer(self, customer_id: str, ctx: TransformContext | None) -> Customer | None: ...
    def update_customer(
        self, customer_id: str, before: Customer, after: Customer, ctx: TransformContext | None
    ) -> Customer: ...
    def products_changed(self, watermark: str | None, limit: int, ctx: TransformContext | None) -> Page: ...
    def products_all(self, cursor: str | None, limit: int, ctx: TransformContext | None) -> Page: ...
    def read_product(self, product_id: str, ctx: TransformContext | None) -> Product | None: ...
    def update_product(
        self, product_id: str, before: Product, after: Product, ctx: TransformContext | None
    ) -> Product: ...


def _kf_stamp(value: Any) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(str(value).replace(" ", "T"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class KashFlowSync:
    system = "kashflow"
    customer_object = "Customer"
    product_object = "Product"
    customer_fields = fields.KASHFLOW_CUSTOMER
    product_fields = fields.KASHFLOW_PRODUCT

    def __init__(self, books: KashFlowBooks) -> None:
        self.books = books
        self.client = books.client

    def customer_owners(self) -> dict[str, str]:
        return _mapping("kashflow/customer_to_canonical").owners

    def product_owners(self) -> dict[str, str]:
        return _mapping("kashflow/product_to_canonical").owners

    # --- reading ---------------------------------------------------------------------------------------------

    def _customer(self, row: dict[str, Any], ctx: TransformContext | None) -> Customer:
        reader = _mapping("kashflow/customer_to_canonical")
        values = apply_mapping(reader, row, ctx, system=self.system, record=f"Customer {row.get('Code')}")
        return Customer.model_validate(values)

    def _product(self, row: dict[str, Any], ctx: TransformContext | None) -> Product:
        reader = _mapping("kashflow/product_to_canonical")
        values = apply_mapping(reader, row, ctx, system=self.system, record=f"Product {row.get('Code')}")
        # The template has no modification time; last-writer-wins needs one.
        return Product.model_validate({**values, "modified_at": _kf_stamp(row.get("LastUpdatedDate"))})

    def _changed(self, path: str, watermark: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None, bool]:
        """Rows changed at or after the watermark ("<LastUpdatedDate>|<codes seen at that second>"), oldest first,
        at most ``limit`` new ones. ``updatedsince`` is inclusive at one-second precision, and a record may change
        again within the second it was seen: rows seen at that second are read again (the ledger's versions make
        that cheap) unless there are too many of them to make progress."""
        since, _, seen_text = (watermark or "").partition("|")
        seen = set(filter(None, seen_text.split(",")))
        params: dict[str, Any] = {"sortby": "LastUpdatedDate", "order": "Asc", "perpage": limit}
        if since:
            params["updatedsince"] = since
        rows: list[dict[str, Any]] = []
        fresh = 0
        last, at_last = since, set(seen)
        for row in self.client.list(path, params):
            stamp, code = str(row.get("LastUpdatedDate") or ""), str(row["Code"])
            again = stamp == since and code in seen
            if again and len(seen) >= limit:
                continue
            if not again:
                if fresh == limit:
                    return rows, f"{last}|{','.join(sorted(at_last))}", True
                fresh += 1
            rows.append(row)
            if stamp != last:
                last, at_last = stamp, set()
            at_last.add(code)
        return rows, (f"{last}|{','.join(sorted(at_last))}" if last else watermark), False

    def _all(self, path: str, cursor: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None, bool]:
        page = int(cursor or 1)
        rows: list[dict[str, Any]] = []
        for row in self.client.list(path, {"page": page, "perpage": limit, "sortby": "Id"}):
            rows.append(row)
            if len(rows) == limit:
                break
        more = len(rows) == limit
        return rows, (str(page + 1) if more else None), more

    def customers_changed(self, watermark: str | None, limit: int, ctx: TransformContext | None) -> Page:
        rows, mark, more = self._changed("customers", watermark, limit)
        return [(str(r["Code"]), self._customer(r, ctx)) for r in rows], mark, more

    def customers_all(self, cursor: str | None, limit: int, ctx: TransformContext | None) -> Page:
        rows, nxt, more = self._all("customers", cursor, limit)
        return [(str(r["Code"]), self._customer(r, ctx)) for r in rows], nxt, more

    def read_customer(self, customer_id: str, ctx: TransformContext | None) -> Customer | None:
        row = naming(f"Customer {customer_id}", lambda: self.client.get_customer(customer_id))
        return self._customer(row, ctx) if row else None

    def products_changed(self, watermark: str | None, limit: int, ctx: TransformContext | None) -> Page:
        rows, mark, more = self._changed("products", watermark, limit)
        return [(str(r["Code"]), self._product(r, ctx)) for r in rows], mark, more

    def products_all(self, cursor: str | None, limit: int, ctx: TransformContext | None) -> Page:
        rows, nxt, more = self._all("products", cursor, limit)
        return [(str(r["Code"]), self._product(r, ctx)) for r in rows], nxt, more

    def read_product(self, product_id: str, ctx: TransformContext | None) -> Product | None:
        row = naming(f"Product {product_id}", lambda: self.client.get_product(product_id))
        return self._product(row, ctx) if row else None

    # --- writing ---------------------------------------------------------------------------------------------

    def _payload(self, name: str, model: Customer | Product, ctx: TransformContext | None) -> dict[str, Any]:
        record = f"{type(model).__name__} {model.code}"
        return apply_mapping(_mapping(name), canonical_json(model), ctx, system=self.system, record=record)

    def update_customer(
        self, customer_id: str, before: Customer, after: Customer, ctx: TransformContext | None
    ) -> Customer:
        name = "kashflow/customer_from_canonical"
        payload = _with_nulls(self._payload(name, before, ctx), self._payload(name, after, ctx))
        payload.pop("Code", None)  # a KashFlow customer's code never changes
        row = naming(f"Customer {customer_id}", lambda: self.client.update_customer(customer_id, payload))
        return self._customer(row, ctx) if row else (self.read_customer(customer_id, ctx) or after)

    def update_product(self, product_id: str, before: Product, after: Product, ctx: TransformContext | None) -> Product:
        name = "kashflow/product_from_canonical"
        payload = _with_nulls(self._payload(name, before, ctx), self._payload(name, after, ctx))
        for key in ("Code", "NominalCode"):
            payload.pop(key, None)
        nominal = int(ctx.default_nominal_code if ctx else 4000)

        def put() -> dict[str, Any]:
            return dict(decimal_json(self.client.request("PUT", f"products/{nominal}/{product_id}", json=payload)))

        return self._product(naming(f"Product {product_id}", put), ctx)


def _kashoo_stamp(value: Any) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(int(value) / 1000, tz=dt.UTC) if value is not None else None


class KashooSync:
    system = "kashoo"
    customer_object = "contact"
    product_object = "item"
    customer_fields = fields.KASHOO_CONTACT
    product_fields = fields.KASHOO_ITEM

    def __init__(self, books: KashooBooks) -> None:
        self.books = books
        self.client = books.client

    def customer_owners(self) -> dict[str, str]:
        return _mapping("kashoo/contact_to_canonical").owners

    def product_owners(self) -> dict[str, str]:
        return _mapping("kashoo/item_to_canonical").owners

    def _page(self, collection: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        response = self.client.request("GET", self.client.path(collection), params=params)
        return list(json.loads(response.content or b"[]", parse_float=Decimal))

    def _customer(self, row: dict[str, Any], ctx: TransformContext | None) -> Customer:
        reader = _mapping("kashoo/contact_to_canonical")
        values = apply_mapping(reader, _nested_address(row), ctx, system=self.system, record=f"contact {row['id']}")
        return Customer.model_validate({**values, "modified_at": _kashoo_stamp(row.get("modified"))})

    def _product(self, row: dict[str, Any], ctx: TransformContext | None) -> Product:
        reader = _mapping("kashoo/item_to_canonical")
        values = apply_mapping(reader, row, ctx, system=self.system, record=f"item {row['id']}")
        values.pop("tax_rate", None)  # items carry tax ids, not a rate
        return Product.model_validate({**values, "modified_at": _kashoo_stamp(row.get("modified"))})

    def _changed(self, collection: str, watermark: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        # ``modified`` is strictly increasing and removals are included: the next watermark is the newest + 1.
        rows = self._page(collection, {"modifiedSince": watermark or "0", "limit": limit, "offset": 0})
        if not rows:
            return rows, watermark
        return rows, str(max(int(r["modified"]) for r in rows) + 1)

    def customers_changed(self, watermark: str | None, limit: int, ctx: TransformContext | None) -> Page:
        rows, mark = self._changed("contacts", watermark, limit)
        people = [(str(r["id"]), self._customer(r, ctx)) for r in rows if r.get("customer") is not False]
        return people, mark, len(rows) == limit

    def customers_all(self, cursor: str | None, limit: int, ctx: TransformContext | None) -> Page:
        offset = int(cursor or 0)
        rows = self._page("contacts", {"includeRemoved": "true", "limit": limit, "offset": offset})
        more = len(rows) == limit
        people = [(str(r["id"]), self._customer(r, ctx)) for r in rows if r.get("customer") is not False]
        return people, (str(offset + len(rows)) if more else None), more

    def read_customer(self, customer_id: str, ctx: TransformContext | None) -> Customer | None:
        row = naming(f"contact {customer_id}", lambda: self.client.get("contacts", customer_id))
        return self._customer(row, ctx) if row else None

    def products_changed(self, watermark: str | None, limit: int, ctx: TransformContext | None) -> Page:
        rows, mark = self._changed("items", watermark, limit)
        return [(str(r["id"]), self._product(r, ctx)) for r in rows], mark, len(rows) == limit

    def products_all(self, cursor: str | None, limit: int, ctx: TransformContext | None) -> Page:
        offset = int(cursor or 0)
        rows = self._page("items", {"includeRemoved": "true", "limit": limit, "offset": offset})
        more = len(rows) == limit
        return [(str(r["id"]), self._product(r, ctx)) for r in rows], (str(offset + len(rows)) if more else None), more

    def read_product(self, product_id: str, ctx: TransformContext | None) -> Product | None:
        row = naming(f"item {product_id}", lambda: self.client.get("items", product_id))
        return self._product(row, ctx) if row else None

    def _contact_payload(self, customer: Customer, ctx: TransformContext | None) -> dict[str, Any]:
        record = f"Customer {customer.code}"
        mapping = _mapping("kashoo/contact_from_canonical")
        payload = _flat_address(
            apply_mapping(mapping, canonical_json(customer), ctx, system=self.system, record=record)
        )
        payload.pop("code", None)  # Kashoo contacts have no code: the id carries it
        return payload

    def update_customer(
        self, customer_id: str, before: Customer, after: Customer, ctx: TransformContext | None
    ) -> Customer:
        payload = _with_nulls(self._contact_payload(before, ctx), self._contact_payload(after, ctx))
        row = naming(f"contact {customer_id}", lambda: self.client.update("contacts", customer_id, payload))
        return self._customer(row, ctx)

    def _item_payload(self, product: Product, ctx: TransformContext | None) -> dict[str, Any]:
        mapping = _mapping("kashoo/item_from_canonical")
        record = f"Product {product.code}"
        payload = apply_mapping(mapping, canonical_json(product), ctx, system=self.system, record=record)
        payload.pop("taxRate", None)
        payload.pop("currency", None)
        return payload

    def update_product(self, product_id: str, before: Product, after: Product, ctx: TransformContext | None) -> Product:
        payload = _with_nulls(self._item_payload(before, ctx), self._item_payload(after, ctx))
        row = naming(f"item {product_id}", lambda: self.client.update("items", product_id, payload))
        return self._product(row, ctx)


def sync_books(books: AccountingSystem) -> SyncBooks:
    if isinstance(books, KashFlowBooks):
        return KashFlowSync(books)
    if isinstance(books, KashooBooks):
        return KashooSync(books)
    raise TypeError(f"two-way sync does not know {type(books).__name__}")
