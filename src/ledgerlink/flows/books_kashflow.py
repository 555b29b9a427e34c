"""KashFlow as an ``AccountingSystem``: customers by code, invoices by number, payments on invoices.

KashFlow creates carry no idempotency key, so every create looks first (customer by code, invoice by
``CustomerReference``, payment by its ``Note``) and, after a transient failure, looks again before repeating.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ledgerlink.connectors.errors import PermanentError
from ledgerlink.connectors.kashflow import KashFlowClient
from ledgerlink.flows.accounting import (
    CreatedInvoice,
    InvoiceDue,
    apply_mapping,
    canonical_json,
    create_once,
    naming,
)
from ledgerlink.mapping import Mapping as MappingRules
from ledgerlink.mapping import TransformContext, load_mapping
from ledgerlink.model import Customer, Invoice, InvoiceLine, Payment, Product, quantize_money

SYSTEM = "kashflow"
# KashFlow numbers payment methods per account; these are the defaults of a new account (the picklist in
# kashflow/payment_to_canonical reads them back).
PAYMENT_METHODS = {"cash": 1, "cheque": 2, "credit card": 3, "debit card": 4, "bank transfer": 5, "direct debit": 6}
DEFAULT_METHOD = 5


def _date(value: Any) -> dt.date:
    return dt.datetime.fromisoformat(str(value).replace(" ", "T")).date()


def _created(row: dict[str, Any], created: bool) -> CreatedInvoice:
    return CreatedInvoice(number=str(row["Number"]), status=str(row.get("Status") or ""), created=created)


class KashFlowBooks:
    name = "kashflow"
    customer_object = "Customer"
    invoice_object = "Invoice"
    product_object = "Product"

    # Mappings are read per use (the loader caches them by file and modification time), so an edit made in
    # the console applies to the next record without a restart.
    @property
    def _customer_mapping(self) -> MappingRules:
        return load_mapping("kashflow/customer_from_canonical")

    @property
    def _customer_reader(self) -> MappingRules:
        return load_mapping("kashflow/customer_to_canonical")

    @property
    def _invoice_mapping(self) -> MappingRules:
        return load_mapping("kashflow/invoice_from_canonical")

    @property
    def _product_mapping(self) -> MappingRules:
        return load_mapping("kashflow/product_from_canonical")

    @property
    def _payment_reader(self) -> MappingRules:
        return load_mapping("kashflow/payment_to_canonical")

    def __init__(self, client: KashFlowClient) -> None:
        self.client = client
        self._bank_account: int | None = None

    # --- products ----------------------------------------------------------------------------------------

    def find_product(self, code: str) -> str | None:
        found = self.client.get_product(code)
        return str(found["Code"]) if found else None

    def create_product(self, product: Product, ctx: TransformContext | None = None) -> str:
        record = f"Product {product.code}"
        payload = apply_mapping(self._product_mapping, canonical_json(product), ctx, system=SYSTEM, record=record)

        def post() -> str:
            try:
                return str(self.client.create_product(payload).get("Code") or product.code)
            except PermanentError as exc:
                # Another run created it a moment ago (runs go in parallel): the same product, so use it.
                if exc.code == "DuplicateProductCode" and (found := self.find_product(product.code)):
                    return found
                raise

        return naming(record, lambda: create_once(post, lambda: self.find_product(product.code)))

    # --- customers ---------------------------------------------------------------------------------------

    def find_customer(self, code: str) -> str | None:
        found = self.client.get_customer(code)
        return str(found["Code"]) if found else None

    def create_customer(self, customer: Customer, ctx: TransformContext | None = None) -> str:
        record = f"Customer {customer.code}"
        payload = apply_mapping(self._customer_mapping, canonical_json(customer), ctx, system=SYSTEM, record=record)

        def same_customer() -> str | None:
            found = self.client.get_customer(customer.code)
            if found is None:
                return None
            if str(found.get("Name") or "").strip().casefold() != customer.name.strip().casefold():
                raise PermanentError(
                    f"customer code {customer.code!r} is already used by {found.get('Name')!r}",
                    system=SYSTEM,
                    code="DuplicateCustomerCode",
                    field="Code",
                    record=record,
                )
            return str(found["Code"])  # a parallel run for another deal of the same account got there first

        def post() -> str:
            try:
                return str(self.client.create_customer(payload).get("Code") or customer.code)
            except PermanentError as exc:
                if exc.code == "DuplicateCustomerCode" and (found := same_customer()):
                    return found
                raise

        return naming(record, lambda: create_once(post, same_customer))

    def customers_changed_since(
        self, watermark: str | None, ctx: TransformContext | None = None
    ) -> tuple[list[Customer], str | None]:
        """Customers changed at or after the watermark ("<LastUpdatedDate>|<codes seen at that second>").

        KashFlow's ``updatedsince`` is inclusive at one-second precision, so the watermark also names the codes
        already returned at its second, which the next read skips (unless they changed again).
        """
        since, _, seen_text = (watermark or "").partition("|")
        seen = set(filter(None, seen_text.split(",")))
        params: dict[str, Any] = {"sortby": "LastUpdatedDate", "order": "Asc"}
        if since:
            params["updatedsince"] = since
        customers: list[Customer] = []
        last, at_last = since, set(seen)
        for row in self.client.list("customers", params):
            stamp, code = str(row.get("LastUpdatedDate") or ""), str(row["Code"])
            if stamp == since and code in seen:
                continue
            record = f"Customer {code}"
            values = apply_mapping(self._customer_reader, row, ctx, system=SYSTEM, record=record)
            customers.append(Customer.model_validate(values))
            if stamp != last:
                last, at_last = stamp, set()
            at_last.add(code)
        if not last:
            return customers, watermark
        return customers, f"{last}|{','.join(sorted(at_last))}"

    # --- invoices ----------------------------------------------------------------------------------------

    def find_invoice(self, customer_id: str, reference: str) -> CreatedInvoice | None:
        row = self.client.find_invoice_by_reference(customer_id, reference)
        return _created(row, False) if row is not None else None

    def create_invoice(
        self, invoice: Invoice, customer_id: str, ctx: TransformContext | None = None, *, look_first: bool = True
    ) -> CreatedInvoice:
        record = f"Invoice {invoice.reference or invoice.number or '(new)'}"
        payload = apply_mapping(self._invoice_mapping, canonical_json(invoice), ctx, system=SYSTEM, record=record)
        payload["CustomerCode"] = customer_id

        def find() -> CreatedInvoice | None:
            return self.find_invoice(customer_id, invoice.reference) if invoice.reference else None

        def create() -> CreatedInvoice:
            # Look first: a second call for the same source reference must return the first invoice (KashFlow
            # takes the same reference twice). The flows skip the look when the ledger says none was tried.
            found = find() if look_first else None
            if found is not None:
                return found
            return create_once(lambda: _created(self.client.create_invoice(payload), True), find)

        return naming(record, create)

    def get_invoice(self, invoice_id: str) -> Invoice | None:
        row = naming(f"Invoice {invoice_id}", lambda: self.client.get_invoice(invoice_id))
        if row is None:
            return None
        lines = [
            InvoiceLine(
                description=str(li.get("Description") or "-"),
                quantity=li["Quantity"],
                unit_price=li["Rate"],
                tax_rate=Decimal(str(li.get("VATLevel") or 0)),
                product_code=li.get("ProductCode") or None,
                nominal_code=li.get("NominalCode"),
            )
            for li in row.get("LineItems") or []
        ]
        return Invoice(
            customer_code=str(row["CustomerCode"]),
            issue_date=_date(row["IssuedDate"]),
            due_date=_date(row["DueDate"]),
            currency=str((row.get("Currency") or {}).get("Code") or "GBP"),
            lines=lines,
            reference=row.get("CustomerReference") or None,
            number=str(row["Number"]),
            status=row.get("Status"),
            total_net=Decimal(row["NetAmount"]),
            total_tax=Decimal(row["VATAmount"]),
            total_gross=Decimal(row["GrossAmount"]),
            amount_paid=Decimal(row.get("TotalPaidAmount") or 0),
        )

    def invoice_references(self) -> list[str]:
        """The source reference of every invoice in the books (the demo counts duplicates with it)."""
        return [str(row.get("CustomerReference") or f"#{row.get('Number')}") for row in self.client.list("invoices")]

    # --- payments ----------------------------------------------------------------------------------------

    def _bank(self) -> int:
        if self._bank_account is None:
            accounts = self.client.bank_accounts()
            if not accounts:
                raise PermanentError("the KashFlow account has no bank account to pay into", system=SYSTEM)
            self._bank_account = int(accounts[0]["Id"])
        return self._bank_account

    def record_payment(self, invoice_id: str, payment: Payment, ctx: TransformContext | None = None) -> str:
        """Pay ``payment.amount`` onto invoice ``invoice_id``; the payment's reference (or its amount and date)
        goes into the ``Note``, which is how a repeated call finds the first payment instead of paying twice."""
        record = f"Payment {payment.reference or ''} on invoice {invoice_id}".replace("  ", " ")
        if payment.amount != quantize_money(payment.amount):
            raise PermanentError(
                f"{payment.amount} has fractions of a penny", system=SYSTEM, field="Amount", record=record
            )
        note = payment.reference or f"ledgerlink:{payment.amount}:{payment.paid_on.isoformat()}"

        def find() -> str | None:
            for row in self.client.list_payments(invoice_id):
                if row.get("Note") == note:
                    return str(row["Id"])
            return None

        def pay() -> str:
            found = find()
            if found is not None:
                return found
            payload = {
                "Amount": str(payment.amount),
                "Date": payment.paid_on.isoformat(),
                "Method": PAYMENT_METHODS.get((payment.method or "").strip().lower(), DEFAULT_METHOD),
                "AccountId": self._bank(),
                "Note": note,
            }
            return create_once(lambda: str(self.client.add_payment(invoice_id, payload)["Id"]), find)

        return naming(record, pay)

    def payments(self, invoice_id: str, ctx: TransformContext | None = None) -> list[Payment]:
        rows = naming(f"Invoice {invoice_id}", lambda: self.client.list_payments(invoice_id))
        out = []
        for row in rows:
            values = apply_mapping(
                self._payment_reader,
                {**row, "InvoiceNumber": invoice_id},
                ctx,
                system=SYSTEM,
                record=f"Payment {row.get('Id')}",
            )
            out.append(Payment.model_validate(values))
        return out

    def payments_changed_since(
        self, watermark: str | None, limit: int = 200, ctx: TransformContext | None = None
    ) -> tuple[list[Payment], str | None]:
        """At most ``limit`` payments recorded at or after the watermark ("<CreatedDate>|<ids seen at that second>"),
        oldest first, and the watermark to pass next time.

        ``/invoices/bulk/payments?updatedsince=`` is inclusive at one-second precision, so, as for customers, the
        watermark names the payment ids already returned at its second; the next read skips them.
        """
        since, _, seen_text = (watermark or "").partition("|")
        seen = set(filter(None, seen_text.split(",")))
        params: dict[str, Any] = {"sortby": "CreatedDate", "order": "Asc"}
        if since:
            params["updatedsince"] = since
        out: list[Payment] = []
        last, at_last = since, set(seen)
        for row in self.client.list("invoices/bulk/payments", params):
            stamp, payment_id = str(row.get("CreatedDate") or ""), str(row["Id"])
            if stamp == since and payment_id in seen:
                continue
            if len(out) >= limit:
                break
            record = f"Payment {payment_id} on invoice {row.get('InvoiceNumber')}"
            values = apply_mapping(self._payment_reader, row, ctx, system=SYSTEM, record=record)
            out.append(Payment.model_validate(values))
            if stamp != last:
                last, at_last = stamp, set()
            at_last.add(payment_id)
        if not last:
            return out, watermark
        return out, f"{last}|{','.join(sorted(at_last))}"

    def invoice_pdf(self, invoice_id: str) -> bytes | None:
        """KashFlow's own PDF of the invoice; None when it has none to give."""
        try:
            body = naming(f"Invoice {invoice_id}", lambda: self.client.invoice_pdf(invoice_id))
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise
        return body if body.startswith(b"%PDF-") else None

    def unpaid_invoices(self) -> list[InvoiceDue]:
        """Issued invoices with money owed. KashFlow says which are ``Overdue`` (by its clock) and by how many days."""
        today = dt.datetime.now(dt.UTC).date()
        out = []
        for row in self.client.list("invoices", {"status": "Unpaid,PartPaid,Overdue"}):
            status = str(row.get("Status") or "")
            if status not in ("Unpaid", "PartPaid", "Overdue"):
                continue
            due_date = _date(row["DueDate"])
            if status != "Overdue":
                days = 0
            elif row.get("OverdueDays") is not None:
                days = int(row["OverdueDays"])
            else:
                days = max(1, (today - due_date).days)
            balance = Decimal(
                str(row.get("DueAmount") or Decimal(row["GrossAmount"]) - Decimal(row["TotalPaidAmount"]))
            )
            out.append(InvoiceDue(number=str(row["Number"]), due_date=due_date, balance=balance, days_overdue=days))
        return out

    def api_calls(self) -> int:
        return self.client.calls_made

    def close(self) -> None:
        self.client.close()
