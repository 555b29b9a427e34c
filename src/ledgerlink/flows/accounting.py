"""What a flow needs from an accounting system, in canonical terms. One adapter per system maps through the
declarative templates and calls that system's connector; flows never see payloads or URLs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ledgerlink.connectors.errors import PermanentError
from ledgerlink.connectors.kashflow import KashFlowClient
from ledgerlink.mapping import TransformContext, load_mapping
from ledgerlink.model import Customer, Invoice, Product


@dataclass(frozen=True)
class CreatedInvoice:
    number: str
    status: str
    created: bool  # False when an earlier attempt had already created it


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
        self, invoice: Invoice, customer_id: str, ctx: TransformContext | None = None
    ) -> CreatedInvoice: ...
    def invoice_references(self) -> list[str]: ...
    def api_calls(self) -> int: ...
    def close(self) -> None: ...


def _canonical_json(model: Customer | Invoice | Product) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


class KashFlowBooks:
    name = "kashflow"
    customer_object = "Customer"
    invoice_object = "Invoice"
    product_object = "Product"

    def __init__(self, client: KashFlowClient) -> None:
        self.client = client
        self._customer_mapping = load_mapping("kashflow/customer_from_canonical")
        self._invoice_mapping = load_mapping("kashflow/invoice_from_canonical")
        self._product_mapping = load_mapping("kashflow/product_from_canonical")

    def find_product(self, code: str) -> str | None:
        found = self.client.get_product(code)
        return str(found["Code"]) if found else None

    def create_product(self, product: Product, ctx: TransformContext | None = None) -> str:
        payload = self._product_mapping.apply(_canonical_json(product), ctx).values
        try:
            return str(self.client.create_product(payload).get("Code") or product.code)
        except PermanentError as exc:
            # Another run created it a moment ago (runs go in parallel): the same product, so use it.
            if exc.code == "DuplicateProductCode" and (found := self.find_product(product.code)):
                return found
            raise

    def find_customer(self, code: str) -> str | None:
        found = self.client.get_customer(code)
        return str(found["Code"]) if found else None

    def create_customer(self, customer: Customer, ctx: TransformContext | None = None) -> str:
        payload = self._customer_mapping.apply(_canonical_json(customer), ctx).values
        try:
            created = self.client.create_customer(payload)
        except PermanentError as exc:
            # A parallel run for another deal of the same account got there first.
            if exc.code == "DuplicateCustomerCode" and (found := self.find_customer(customer.code)):
                return found
            raise
        return str(created.get("Code") or customer.code)

    def find_invoice(self, customer_id: str, reference: str) -> CreatedInvoice | None:
        row = self.client.find_invoice_by_reference(customer_id, reference)
        if row is None:
            return None
        return CreatedInvoice(number=str(row["Number"]), status=str(row.get("Status") or ""), created=False)

    def create_invoice(self, invoice: Invoice, customer_id: str, ctx: TransformContext | None = None) -> CreatedInvoice:
        payload = self._invoice_mapping.apply(_canonical_json(invoice), ctx).values
        payload["CustomerCode"] = customer_id
        created = self.client.create_invoice(payload)
        return CreatedInvoice(number=str(created["Number"]), status=str(created.get("Status") or ""), created=True)

    def invoice_references(self) -> list[str]:
        """The source reference of every invoice in the books (the demo counts duplicates with it)."""
        return [str(row.get("CustomerReference") or f"#{row.get('Number')}") for row in self.client.list("invoices")]

    def api_calls(self) -> int:
        return self.client.calls_made

    def close(self) -> None:
        self.client.close()
