"""What a flow needs from an accounting system, in canonical terms. One adapter per system (``books_kashflow``,
``books_kashoo``) maps through the declarative templates and calls that system's connector; flows never see
payloads or URLs.

Ids: ``find_customer``/``create_customer`` return the system's customer id (KashFlow: the code; Kashoo: the contact
id), which ``find_invoice``/``create_invoice`` take as ``customer_id``. An invoice is named by ``CreatedInvoice.number``
(what people see and the ledger stores); ``get_invoice``, ``payments`` and ``record_payment`` accept that number or
``CreatedInvoice.id``.

Errors: ``PermanentError`` with ``.record`` (e.g. "Invoice 006…") and ``.field`` for input the system refuses,
``TransientError`` for what may succeed later. Every create is idempotent: repeating it returns the first record.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from ledgerlink.connectors.errors import ConnectorError, PermanentError, TransientError
from ledgerlink.mapping import Mapping, MappingError, TransformContext
from ledgerlink.model import Customer, Invoice, Payment, Product

T = TypeVar("T")


@dataclass(frozen=True)
class CreatedInvoice:
    number: str
    status: str
    created: bool  # False when an earlier attempt had already created it
    id: str = ""  # the system's record id when it differs from the number (Kashoo)


@dataclass(frozen=True)
class InvoiceDue:
    """An issued invoice with money still owed, as the books see it now."""

    number: str
    due_date: dt.date
    balance: Decimal
    days_overdue: int  # 0 until the due date has passed (by the books' own clock where they report it)


class AccountingSystem(Protocol):
    name: str  # "kashflow" | "kashoo"
    customer_object: str
    invoice_object: str
    product_object: str

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


def create_once(
    post: Callable[[], T], find: Callable[[], T | None], *, attempts: int = 4, base_delay: float = 0.2
) -> T:
    """Create a record whose create is not idempotent on the server, surviving lost replies and 5xx: after a
    transient failure, look for what the failed attempt may have made before trying again."""
    delay = base_delay
    for attempt in range(attempts):
        try:
            return post()
        except TransientError as exc:
            if attempt == attempts - 1:
                raise
            time.sleep(exc.retry_after if exc.retry_after is not None and exc.retry_after < 30 else delay)
            delay = min(delay * 2, 5.0)
            found = find()
            if found is not None:
                return found
    raise AssertionError("unreachable")
