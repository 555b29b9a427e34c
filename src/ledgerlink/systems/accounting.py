"""What a flow needs from an accounting system, in canonical terms: one protocol every accounting plugin
(``systems/<name>/``) implements, mapping through its declarative templates and calling its own client; flows never
see payloads or URLs. ``tests/contract`` is the conformance kit every registered accounting system passes.

Ids: ``find_customer``/``create_customer`` return the system's customer id (a code, or the vendor's record id),
which ``find_invoice``/``create_invoice`` take as ``customer_id``. An invoice is named by ``CreatedInvoice.number``
(what people see and the ledger stores); ``get_invoice``, ``payments`` and ``record_payment`` accept that number or
``CreatedInvoice.id``.

Two-way sync reads pages of changes (``customers_changed``: a watermark the system chooses the form of), every
record (``customers_all``: a cursor), one record, and updates one record with the whole mapped record, fields the
previous version had and the new one lacks set to null (clearing a field in one system clears it in the other).
An update returns the record as the books answered it: the version the ledger remembers, so the change it causes
is recognised as our own.

Errors: ``PermanentError`` with ``.record`` (e.g. "Invoice 006…") and ``.field`` for input the system refuses,
``TransientError`` for what may succeed later. Every create is idempotent: repeating it returns the first record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from ledgerlink.mapping import Mapping, MappingError, TransformContext
from ledgerlink.model import Customer, Invoice, Payment, Product
from ledgerlink.systems.errors import ConnectorError, PermanentError
from ledgerlink.systems.spec import Capabilities

T = TypeVar("T")
Page = tuple[list[tuple[str, Any]], str | None, bool]  # ((id, canonical) …, next watermark/cursor, more to read)


@dataclass(frozen=True)
class CreatedInvoice:
    number: str
    status: str
    created: bool  # False when an earlier attempt had already created it
    id: str = ""  # the system's record id, when it differs from the number


@dataclass(frozen=True)
class InvoiceDue:
    """An issued invoice with money still owed, as the books see it now."""

    number: str
    due_date: dt.date
    balance: Decimal
    days_overdue: int  # 0 until the due date has passed (by the books' own clock where they report it)
    currency: str = ""  # the invoice's currency code, as its list row gives it


class AccountingSystem(Protocol):
    name: str  # the system's registry name, which the ledger keys its records by
    customer_object: str  # the vendor's names for its objects, as the ledger and the audit log show them
    invoice_object: str
    product_object: str
    capabilities: Capabilities
    customer_fields: frozenset[str]  # the canonical fields (``model.fields`` flat names) the books hold
    product_fields: frozenset[str]

    def find_customer(self, code: str) -> str | None: ...
    def create_customer(self, customer: Customer, ctx: TransformContext | None = None) -> str: ...
    def find_product(self, code: str) -> str | None: ...
    def create_product(self, product: Product, ctx: TransformContext | None = None) -> str: ...
    def find_invoice(self, customer_id: str, reference: str) -> CreatedInvoice | None: ...
    def create_invoice(
        self, invoice: Invoice, customer_id: str, ctx: TransformContext | None = None, *, look_first: bool = True
    ) -> CreatedInvoice:
        """Create the invoice, or return the one already made for ``invoice.reference``. ``look_first=False``: the
        caller knows no earlier attempt made it (a system that must look it up to know may skip that call)."""
        ...

    def get_invoice(self, invoice_id: str) -> Invoice | None: ...
    def record_payment(self, invoice_id: str, payment: Payment, ctx: TransformContext | None = None) -> str: ...
    def payments(self, invoice_id: str, ctx: TransformContext | None = None) -> list[Payment]: ...
    def customers_changed_since(
        self, watermark: str | None, ctx: TransformContext | None = None
    ) -> tuple[list[Customer], str | None]: ...
    def invoice_references(self) -> list[str]: ...
    def payments_changed_since(
        self, watermark: str | None, limit: int = 200, ctx: TransformContext | None = None
    ) -> tuple[list[Payment], str | None]: ...
    def invoice_pdf(self, invoice_id: str) -> bytes | None: ...
    def unpaid_invoices(self) -> list[InvoiceDue]: ...
    def api_calls(self) -> int: ...
    def close(self) -> None: ...

    # --- two-way sync ------------------------------------------------------------------------------------
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


def canonical_json(model: Customer | Invoice | Product | Payment) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


def apply_mapping(
    mapping: Mapping, data: dict[str, Any], ctx: TransformContext | None, *, system: str, record: str
) -> dict[str, Any]:
    """Map through a template; a refused value becomes a PermanentError naming the record and the field."""
    try:
        return mapping.apply(data, ctx).values
    except MappingError as exc:
        raise PermanentError(exc.message, system=system, field=exc.field, record=record) from exc


def naming(record: str, action: Callable[[], T]) -> T:
    """Run ``action``; a connector error that does not say which record it concerns gets ``record``."""
    try:
        return action()
    except ConnectorError as exc:
        if exc.record is None:
            exc.record = record
        raise


def with_nulls(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``after`` with every field ``before`` had and ``after`` lacks set to null: an update that clears them."""
    return {**{k: None for k in before if k not in after}, **after}
