"""Kashoo as an ``AccountingSystem``: contacts, items, invoices and invoice payments, amounts in integer cents.

Idempotency comes from client-chosen ids (``connectors.kashoo.ids.stable_id``): a contact's id derives from the
customer code, an item's from the product code, an invoice's from its source reference, a payment's from the
invoice and the payment's reference. Kashoo answers a repeated create with the first record, unchanged.

Taxes: a canonical line carries a percentage; Kashoo wants tax ids. ``tax_codes`` maps a percentage to the
codes of the taxes that make it up (``{"12": ["GST", "PST"]}``); otherwise the one tax with exactly that rate is
used, and 0 means no tax. A rate the books lack is refused, naming the line, unless ``create_missing_taxes``.

The kashoo templates (and the mapping schema) describe a nested ``address``/``shippingAddress`` and invoice
``lineItems``; the API takes a flat address (``addressLine1`` … ``country``) and ``lines``. The adapter bridges
the two below, so the templates stay as users know them.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledgerlink.mapping import Mapping as MappingRules
from ledgerlink.mapping import TransformContext, load_mapping
from ledgerlink.model import Customer, Invoice, InvoiceLine, Payment, Product, from_cents, to_cents
from ledgerlink.systems.accounting import (
    CreatedInvoice,
    InvoiceDue,
    Page,
    apply_mapping,
    canonical_json,
    naming,
    with_nulls,
)
from ledgerlink.systems.errors import PermanentError
from ledgerlink.systems.http import decimal_json
from ledgerlink.systems.kashoo.client import KashooClient
from ledgerlink.systems.kashoo.fields import CAPABILITIES, CUSTOMER_FIELDS, PRODUCT_FIELDS
from ledgerlink.systems.kashoo.ids import stable_id

SYSTEM = "kashoo"


@dataclass
class KashooOptions:
    tax_codes: Mapping[str, list[str]] = field(default_factory=dict)  # percentage -> Kashoo tax codes
    create_missing_taxes: bool = False  # else a rate the books lack is a refused record


def _status(row: dict[str, Any]) -> str:
    if row.get("removed"):
        return "Removed"
    balance, total = int(row.get("balanceDue", 0)), int(row.get("amount", 0))
    if balance == 0:
        return "Paid"
    return "PartPaid" if balance < total else "Unpaid"


def _created(row: dict[str, Any], created: bool) -> CreatedInvoice:
    return CreatedInvoice(number=str(row["number"]), status=_status(row), created=created, id=str(row["id"]))


def _flat_address(payload: dict[str, Any]) -> dict[str, Any]:
    """The template's nested billing address as Kashoo's flat contact fields (Kashoo keeps one address)."""
    address = payload.pop("address", None) or {}
    payload.pop("shippingAddress", None)
    lines = [part.strip() for part in str(address.get("street") or "").splitlines() if part.strip()]
    flat = {
        "addressLine1": lines[0] if lines else None,
        "addressLine2": ", ".join(lines[1:]) or None,
        "city": address.get("city"),
        "province": address.get("region"),
        "postalCode": address.get("postalCode"),
        "country": address.get("country"),
    }
    return {**payload, **{k: v for k, v in flat.items() if v is not None}}


def _nested_address(row: dict[str, Any]) -> dict[str, Any]:
    """A Kashoo contact with its flat address nested the way kashoo/contact_to_canonical reads it."""
    street = "\n".join(str(row[k]) for k in ("addressLine1", "addressLine2") if row.get(k))
    address = {
        "street": street or None,
        "city": row.get("city"),
        "region": row.get("province"),
        "postalCode": row.get("postalCode"),
        "country": row.get("country"),
    }
    return {**row, "address": {k: v for k, v in address.items() if v is not None}}


def _cents(amount: Decimal, *, field_name: str, record: str) -> int:
    try:
        return to_cents(amount)
    except ValueError as exc:
        raise PermanentError(str(exc), system=SYSTEM, field=field_name, record=record) from exc


def _kashoo_stamp(value: Any) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(int(value) / 1000, tz=dt.UTC) if value is not None else None


class KashooBooks:
    name = SYSTEM
    customer_object = "contact"
    invoice_object = "invoice"
    product_object = "item"
    capabilities = CAPABILITIES
    customer_fields = CUSTOMER_FIELDS
    product_fields = PRODUCT_FIELDS

    # Mappings are read per use (the loader caches them by file and modification time), so an edit made in
    # the console applies to the next record without a restart.
    @property
    def _contact_mapping(self) -> MappingRules:
        return load_mapping("kashoo/contact_from_canonical")

    @property
    def _contact_reader(self) -> MappingRules:
        return load_mapping("kashoo/contact_to_canonical")

    @property
    def _item_mapping(self) -> MappingRules:
        return load_mapping("kashoo/item_from_canonical")

    @property
    def _invoice_mapping(self) -> MappingRules:
        return load_mapping("kashoo/invoice_from_canonical")

    @property
    def _payment_reader(self) -> MappingRules:
        return load_mapping("kashoo/invoice_payment_to_canonical")

    def __init__(self, client: KashooClient, options: KashooOptions | None = None) -> None:
        self.client = client
        self.options = options or KashooOptions()
        self._taxes: list[dict[str, Any]] | None = None
        self._items: dict[str, int | None] = {}

    # --- customers (Kashoo contacts) ---------------------------------------------------------------------

    @staticmethod
    def contact_id(code: str) -> int:
        # Codes match ignoring case, as in KashFlow: "acme" and "ACME" are one customer.
        return stable_id("contact", code.strip().casefold())

    def find_customer(self, code: str) -> str | None:
        found = naming(f"Customer {code}", lambda: self.client.get("contacts", self.contact_id(code)))
        return str(found["id"]) if found and not found.get("removed") else None

    def create_customer(self, customer: Customer, ctx: TransformContext | None = None) -> str:
        record = f"Customer {customer.code}"
        payload = apply_mapping(self._contact_mapping, canonical_json(customer), ctx, system=SYSTEM, record=record)
        payload = _flat_address(payload)
        payload.pop("code", None)  # Kashoo contacts have no code: the id carries it
        payload["id"] = self.contact_id(customer.code)
        contact, created = naming(record, lambda: self.client.create("contacts", payload))
        if not created and str(contact.get("name") or "").strip().casefold() != customer.name.strip().casefold():
            raise PermanentError(
                f"customer code {customer.code!r} is already used by {contact.get('name')!r}",
                system=SYSTEM,
                code="DUPLICATE",
                field="code",
                record=record,
            )
        if contact.get("removed"):
            contact = naming(record, lambda: self.client.update("contacts", contact["id"], {"removed": False}))
        return str(contact["id"])

    def customers_changed_since(
        self, watermark: str | None, ctx: TransformContext | None = None
    ) -> tuple[list[Customer], str | None]:
        """Contacts modified at or after the watermark (epoch ms), removed ones included (as archived).
        ``modified`` is strictly increasing, so the next watermark is the newest stamp plus one."""
        params = {"modifiedSince": watermark or "0"}
        customers, newest = [], int(watermark or 0) - 1
        for row in self.client.list("contacts", params):
            if row.get("customer") is False:
                continue  # a vendor
            values = apply_mapping(
                self._contact_reader, _nested_address(row), ctx, system=SYSTEM, record=f"contact {row['id']}"
            )
            customers.append(Customer.model_validate(values))
            newest = max(newest, int(row["modified"]))
        return customers, (str(newest + 1) if newest >= 0 else watermark)

    # --- products (Kashoo items) -------------------------------------------------------------------------

    def find_product(self, code: str) -> str | None:
        if code not in self._items:
            self._items[code] = naming(f"Product {code}", lambda: self._lookup_item(code))
        found = self._items[code]
        return str(found) if found is not None else None

    def _lookup_item(self, code: str) -> int | None:
        by_id = self.client.get("items", stable_id("item", code))
        if by_id is not None and not by_id.get("removed"):
            return int(by_id["id"])
        # Items made by people in Kashoo have Kashoo's ids: find them by code.
        for item in self.client.list("items"):
            if item.get("code") == code:
                return int(item["id"])
        return None

    def create_product(self, product: Product, ctx: TransformContext | None = None) -> str:
        record = f"Product {product.code}"
        payload = apply_mapping(self._item_mapping, canonical_json(product), ctx, system=SYSTEM, record=record)
        payload.pop("taxRate", None)  # invoice lines name their taxes; an item's default taxes stay Kashoo's
        payload.pop("currency", None)
        payload["id"] = stable_id("item", product.code)
        try:
            item, _ = naming(record, lambda: self.client.create("items", payload))
        except PermanentError as exc:
            # Someone made an item with this code by hand: that is the product.
            if exc.code == "DUPLICATE" and (found := self.find_product(product.code)):
                return found
            raise
        self._items[product.code] = int(item["id"])
        return str(item["id"])

    # --- taxes -------------------------------------------------------------------------------------------

    def _all_taxes(self) -> list[dict[str, Any]]:
        if self._taxes is None:
            self._taxes = [t for t in self.client.list("taxes") if not t.get("removed")]
        return self._taxes

    def tax_ids(self, rate: Decimal, *, field_name: str, record: str) -> list[int]:
        if rate == 0:
            return []
        taxes = self._all_taxes()
        key = format(rate.normalize(), "f")
        if key in self.options.tax_codes:
            codes = self.options.tax_codes[key]
            found = [t for t in taxes if t.get("code") in codes]
            if len(found) == len(codes):
                return [int(t["id"]) for t in found]
        else:
            matching = [t for t in taxes if Decimal(str(t["rate"])) == rate]
            if len(matching) == 1:
                return [int(matching[0]["id"])]
            if not matching and self.options.create_missing_taxes:
                tax, _ = self.client.create(
                    "taxes", {"id": stable_id("tax", key), "name": f"Tax {key}%", "code": f"T{key}", "rate": key}
                )
                self._taxes = None
                return [int(tax["id"])]
        have = ", ".join(f"{t.get('code')} {t['rate']}%" for t in taxes) or "none"
        raise PermanentError(
            f"no Kashoo tax for a rate of {key}% (the books have: {have})",
            system=SYSTEM,
            code="UNKNOWN_TAX_RATE",
            field=field_name,
            record=record,
        )

    # --- invoices ----------------------------------------------------------------------------------------

    @staticmethod
    def invoice_record_id(reference: str) -> int:
        return stable_id("invoice", reference)

    def find_invoice(self, customer_id: str, reference: str) -> CreatedInvoice | None:
        row = naming(f"Invoice {reference}", lambda: self.client.get("records", self.invoice_record_id(reference)))
        if row is None or row.get("removed") or row.get("type") != "INVOICE":
            return None
        return _created(row, False)

    def create_invoice(
        self, invoice: Invoice, customer_id: str, ctx: TransformContext | None = None, *, look_first: bool = True
    ) -> CreatedInvoice:
        # The record id derives from the reference, so a second create returns the first: no look needed.
        record = f"Invoice {invoice.reference or invoice.number or '(new)'}"
        payload = self._invoice_payload(invoice, customer_id, ctx, record)
        row, created = naming(record, lambda: self.client.create("records/invoices", payload))
        return _created(row, created)

    def _invoice_payload(
        self, invoice: Invoice, customer_id: str, ctx: TransformContext | None, record: str
    ) -> dict[str, Any]:
        """Everything is checked here, before the one POST: a refused line leaves nothing behind in Kashoo."""
        payload = apply_mapping(self._invoice_mapping, canonical_json(invoice), ctx, system=SYSTEM, record=record)
        payload.pop("amount", None)  # Kashoo computes totals from the lines
        payload["lines"] = payload.pop("lineItems", None) or []
        payload["contact"] = int(customer_id)
        # No source reference: nothing to derive an id from, so the create is not idempotent (a random id).
        payload["id"] = (
            self.invoice_record_id(invoice.reference) if invoice.reference else stable_id("invoice", str(uuid.uuid4()))
        )
        for i, (line, out) in enumerate(zip(invoice.lines, payload["lines"], strict=True)):
            code = out.pop("code", None)
            out.pop("taxRate", None)
            out["taxes"] = self.tax_ids(line.tax_rate, field_name=f"lines[{i}].tax_rate", record=record)
            if code and (item := self.find_product(str(code))):
                out["item"] = int(item)
        return payload

    def _invoice_row(self, invoice_id: str) -> dict[str, Any] | None:
        """An invoice by its Kashoo id, or else by its number."""
        if invoice_id.isdigit():
            row = self.client.get("records", invoice_id)
            if row is not None and row.get("type") == "INVOICE":
                return row
        for row in self.client.list("records/invoices", {"includeRemoved": "false"}):
            if str(row.get("number")) == invoice_id:
                return row
        return None

    def get_invoice(self, invoice_id: str) -> Invoice | None:
        row = naming(f"Invoice {invoice_id}", lambda: self._invoice_row(invoice_id))
        if row is None:
            return None
        rates = {int(t["id"]): Decimal(str(t["rate"])) for t in self._all_taxes()}
        lines = [
            InvoiceLine(
                description=str(li.get("description") or "-"),
                quantity=li["quantity"],
                unit_price=from_cents(int(li["unitPrice"])),
                tax_rate=sum((rates.get(int(t), Decimal(0)) for t in li.get("taxes") or []), Decimal(0)),
            )
            for li in row["lines"]
        ]
        return Invoice(
            customer_code=str(row["contact"]),
            issue_date=dt.date.fromisoformat(row["date"]),
            due_date=dt.date.fromisoformat(row["dueDate"]),
            currency=str(row.get("currency") or "CAD"),
            lines=lines,
            reference=row.get("poNumber") or None,
            number=str(row["number"]),
            status=_status(row),
            total_net=from_cents(int(row["subTotal"])),
            total_tax=from_cents(int(row["taxTotal"])),
            total_gross=from_cents(int(row["amount"])),
            amount_paid=from_cents(int(row["amount"]) - int(row["balanceDue"])),
        )

    def invoice_references(self) -> list[str]:
        """The source reference of every invoice in the books (the demo counts duplicates with it)."""
        return [str(row.get("poNumber") or f"#{row.get('number')}") for row in self.client.list("records/invoices")]

    # --- payments ----------------------------------------------------------------------------------------

    def record_payment(self, invoice_id: str, payment: Payment, ctx: TransformContext | None = None) -> str:
        """Pay onto an invoice; the payment's id derives from the invoice and the payment's reference (or, with
        no reference, its amount and date), so a repeated call returns the first payment."""
        record = f"Payment {payment.reference or ''} on invoice {invoice_id}".replace("  ", " ")

        def pay() -> str:
            row = self._invoice_row(invoice_id)
            if row is None:
                raise PermanentError(f"no invoice {invoice_id}", system=SYSTEM, field="invoice", record=record)
            key = payment.reference or f"{payment.amount}:{payment.paid_on.isoformat()}"
            body = {
                "id": stable_id("invoicePayment", f"{row['id']}:{key}"),
                "invoice": int(row["id"]),
                "amount": _cents(payment.amount, field_name="amount", record=record),
                "date": payment.paid_on.isoformat(),
                "memo": payment.reference,
            }
            created, _ = self.client.create("records/invoicePayments", body)
            return str(created["id"])

        return naming(record, pay)

    def payments(self, invoice_id: str, ctx: TransformContext | None = None) -> list[Payment]:
        def read() -> list[dict[str, Any]]:
            row = self._invoice_row(invoice_id)
            if row is None:
                return []
            rows = self.client.list("records/invoicePayments", {"contact": row["contact"]})
            return [{**p, "invoiceNumber": row["number"]} for p in rows if p["invoice"] == row["id"]]

        out = []
        for row in naming(f"Invoice {invoice_id}", read):
            values = apply_mapping(self._payment_reader, row, ctx, system=SYSTEM, record=f"invoicePayment {row['id']}")
            out.append(Payment.model_validate(values))
        return out

    def payments_changed_since(
        self, watermark: str | None, limit: int = 200, ctx: TransformContext | None = None
    ) -> tuple[list[Payment], str | None]:
        """At most ``limit`` invoice payments modified at or after the watermark (epoch ms), oldest first.
        ``modified`` is strictly increasing, so the next watermark is the newest stamp read plus one.
        Removed payments are passed over (un-paying an invoice in Salesforce is not this flow's job)."""
        params = {"modifiedSince": watermark or "0"}
        out: list[Payment] = []
        numbers: dict[int, str] = {}
        newest = int(watermark or 0) - 1
        for row in self.client.list("records/invoicePayments", params):
            if len(out) >= limit:
                break
            newest = max(newest, int(row["modified"]))
            if row.get("removed"):
                continue
            invoice = int(row["invoice"])
            if invoice not in numbers:
                found = naming(f"invoice {invoice}", functools.partial(self.client.get, "records", invoice))
                numbers[invoice] = str(found["number"]) if found else str(invoice)
            record = f"invoicePayment {row['id']}"
            values = apply_mapping(
                self._payment_reader, {**row, "invoiceNumber": numbers[invoice]}, ctx, system=SYSTEM, record=record
            )
            out.append(Payment.model_validate(values))
        return out, (str(newest + 1) if newest >= 0 else watermark)

    def invoice_pdf(self, invoice_id: str) -> bytes | None:
        def read() -> bytes | None:
            row = self._invoice_row(invoice_id)
            return self.client.pdf(row["id"]) if row is not None else None

        body = naming(f"Invoice {invoice_id}", read)
        return body if body is not None and body.startswith(b"%PDF-") else None

    def unpaid_invoices(self) -> list[InvoiceDue]:
        """Invoices with a balance due. Kashoo reports no overdue status: days count from ``dueDate`` to today (UTC)."""
        today = dt.datetime.now(dt.UTC).date()
        out = []
        for row in self.client.list("records/invoices"):
            balance = int(row.get("balanceDue") or 0)
            if row.get("removed") or balance <= 0:
                continue
            due_date = dt.date.fromisoformat(row["dueDate"])
            out.append(
                InvoiceDue(
                    number=str(row["number"]),
                    due_date=due_date,
                    balance=from_cents(balance),
                    days_overdue=max(0, (today - due_date).days),
                )
            )
        return out

    def api_calls(self) -> int:
        return self.client.calls_made

    def close(self) -> None:
        self.client.close()

    # --- two-way sync: pages of changes, one record, updates ---------------------------------------------

    def customer_owners(self) -> dict[str, str]:
        return load_mapping("kashoo/contact_to_canonical").owners

    def product_owners(self) -> dict[str, str]:
        return load_mapping("kashoo/item_to_canonical").owners

    def _page(self, collection: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        response = self.client.request("GET", self.client.path(collection), params=params)
        return list(decimal_json(response) or [])

    def _customer(self, row: dict[str, Any], ctx: TransformContext | None) -> Customer:
        reader = load_mapping("kashoo/contact_to_canonical")
        values = apply_mapping(reader, _nested_address(row), ctx, system=SYSTEM, record=f"contact {row['id']}")
        return Customer.model_validate({**values, "modified_at": _kashoo_stamp(row.get("modified"))})

    def _product(self, row: dict[str, Any], ctx: TransformContext | None) -> Product:
        reader = load_mapping("kashoo/item_to_canonical")
        values = apply_mapping(reader, row, ctx, system=SYSTEM, record=f"item {row['id']}")
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
        mapping = load_mapping("kashoo/contact_from_canonical")
        payload = _flat_address(apply_mapping(mapping, canonical_json(customer), ctx, system=SYSTEM, record=record))
        payload.pop("code", None)  # Kashoo contacts have no code: the id carries it
        return payload

    def update_customer(
        self, customer_id: str, before: Customer, after: Customer, ctx: TransformContext | None
    ) -> Customer:
        payload = with_nulls(self._contact_payload(before, ctx), self._contact_payload(after, ctx))
        row = naming(f"contact {customer_id}", lambda: self.client.update("contacts", customer_id, payload))
        return self._customer(row, ctx)

    def _item_payload(self, product: Product, ctx: TransformContext | None) -> dict[str, Any]:
        mapping = load_mapping("kashoo/item_from_canonical")
        record = f"Product {product.code}"
        payload = apply_mapping(mapping, canonical_json(product), ctx, system=SYSTEM, record=record)
        payload.pop("taxRate", None)
        payload.pop("currency", None)
        return payload

    def update_product(self, product_id: str, before: Product, after: Product, ctx: TransformContext | None) -> Product:
        payload = with_nulls(self._item_payload(before, ctx), self._item_payload(after, ctx))
        row = naming(f"item {product_id}", lambda: self.client.update("items", product_id, payload))
        return self._product(row, ctx)
