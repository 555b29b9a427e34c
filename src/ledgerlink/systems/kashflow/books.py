"""KashFlow as an ``AccountingSystem``: customers by code, invoices by number, payments on invoices.

KashFlow creates carry no idempotency key, so a create that may repeat an earlier attempt looks first (customer by
code, invoice by ``CustomerReference``, payment by its ``Note``). Retries are the engine's: a transient failure is
raised, and the retried step looks before it creates again.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ledgerlink.mapping import Mapping as MappingRules
from ledgerlink.mapping import TransformContext, load_mapping
from ledgerlink.model import Customer, Invoice, InvoiceLine, Payment, Product, quantize_money
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
from ledgerlink.systems.kashflow.client import KashFlowClient
from ledgerlink.systems.kashflow.fields import CAPABILITIES, CUSTOMER_FIELDS, PRODUCT_FIELDS

SYSTEM = "kashflow"
# KashFlow numbers payment methods per account; these are the defaults of a new account (the picklist in
# kashflow/payment_to_canonical reads them back).
PAYMENT_METHODS = {"cash": 1, "cheque": 2, "credit card": 3, "debit card": 4, "bank transfer": 5, "direct debit": 6}
DEFAULT_METHOD = 5


def _date(value: Any) -> dt.date:
    return dt.datetime.fromisoformat(str(value).replace(" ", "T")).date()


def _created(row: dict[str, Any], created: bool) -> CreatedInvoice:
    return CreatedInvoice(number=str(row["Number"]), status=str(row.get("Status") or ""), created=created)


def _kf_stamp(value: Any) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(str(value).replace(" ", "T"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class KashFlowBooks:
    name = SYSTEM
    customer_object = "Customer"
    invoice_object = "Invoice"
    product_object = "Product"
    capabilities = CAPABILITIES
    customer_fields = CUSTOMER_FIELDS
    product_fields = PRODUCT_FIELDS

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

        return naming(record, post)

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

        return naming(record, post)

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
            return _created(self.client.create_invoice(payload), True)

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
            return str(self.client.add_payment(invoice_id, payload)["Id"])

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

    # --- two-way sync: pages of changes, one record, updates ---------------------------------------------

    def customer_owners(self) -> dict[str, str]:
        return load_mapping("kashflow/customer_to_canonical").owners

    def product_owners(self) -> dict[str, str]:
        return load_mapping("kashflow/product_to_canonical").owners

    # --- reading ---------------------------------------------------------------------------------------------

    def _customer(self, row: dict[str, Any], ctx: TransformContext | None) -> Customer:
        reader = load_mapping("kashflow/customer_to_canonical")
        values = apply_mapping(reader, row, ctx, system=SYSTEM, record=f"Customer {row.get('Code')}")
        return Customer.model_validate(values)

    def _product(self, row: dict[str, Any], ctx: TransformContext | None) -> Product:
        reader = load_mapping("kashflow/product_to_canonical")
        values = apply_mapping(reader, row, ctx, system=SYSTEM, record=f"Product {row.get('Code')}")
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
        return apply_mapping(load_mapping(name), canonical_json(model), ctx, system=SYSTEM, record=record)

    def update_customer(
        self, customer_id: str, before: Customer, after: Customer, ctx: TransformContext | None
    ) -> Customer:
        name = "kashflow/customer_from_canonical"
        payload = with_nulls(self._payload(name, before, ctx), self._payload(name, after, ctx))
        payload.pop("Code", None)  # a KashFlow customer's code never changes
        row = naming(f"Customer {customer_id}", lambda: self.client.update_customer(customer_id, payload))
        return self._customer(row, ctx) if row else (self.read_customer(customer_id, ctx) or after)

    def update_product(self, product_id: str, before: Product, after: Product, ctx: TransformContext | None) -> Product:
        name = "kashflow/product_from_canonical"
        payload = with_nulls(self._payload(name, before, ctx), self._payload(name, after, ctx))
        for key in ("Code", "NominalCode"):
            payload.pop(key, None)
        nominal = int(ctx.default_nominal_code if ctx else 4000)

        def put() -> dict[str, Any]:
            return dict(decimal_json(self.client.request("PUT", f"products/{nominal}/{product_id}", json=payload)))

        return self._product(naming(f"Product {product_id}", put), ctx)
