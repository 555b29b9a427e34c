"""KashFlow as an ``AccountingSystem``: customers by code, invoices by number, payments as bulk payments.

KashFlow creates carry no idempotency key; records are found again by what KashFlow keeps: a customer's or a
product's ``Code`` (unique: a second create is refused, and the adapter then reads the first), an invoice's
``CustomerReference`` (looked up only when an earlier attempt may have made it), a payment item's ``Note``.
Customers and products are found from one listing per run (``systems.lookups``), not a call each.

Payments go through ``/invoices/bulk/payments`` (a ``BulkPayment``, the documented route), into the bank account
and with the method chosen in the connection's options among the books' own (``/bankaccounts``; method ids are the
account's). Rows are read with their keys spelled as documented (``systems.tolerant``). Unverified reads have
fallbacks: ``updatedsince`` rejected or ignored switches to full listings with a content hash per record; the PDF is
the invoice's documented ``Permalink`` document (``/invoices/{n}/pdf`` only when there is none).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
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
from ledgerlink.systems.changefeed import ChangeFeed
from ledgerlink.systems.errors import PermanentError
from ledgerlink.systems.http import decimal_json
from ledgerlink.systems.kashflow.client import KashFlowClient
from ledgerlink.systems.kashflow.fields import CAPABILITIES, CUSTOMER_FIELDS, PRODUCT_FIELDS
from ledgerlink.systems.lookups import CodeIndex, InvoiceIndex, ShortCache
from ledgerlink.systems.tolerant import documented_keys, spellings

SYSTEM = "kashflow"
MAX_PER_PAGE = 500  # the most rows a KashFlow listing serves a page
# Keys as KashFlow's examples spell them (customer example: VATNumber, PaymentTerms {Days, Type}, contacts'
# Firstname and Telephone); rows are read with any casing of these.
DOCUMENTED = spellings(
    "VATNumber", "PaymentTerms", "Days", "Type", "Firstname", "LastName", "Telephone", "Mobile", "Email", "Contacts"
)
CONTACT_ALIASES = {"TelephoneNumber": "Telephone", "MobileNumber": "Mobile"}


@dataclass
class KashFlowOptions:
    """Chosen in the connection's options, among what the books hold."""

    bank_account: str | None = None  # id, code or name of the bank account payments go into (else the only one)
    payment_methods: dict[str, int] = field(default_factory=dict)  # method name -> the account's method id
    default_payment_method: str | None = None  # the name used when a payment names none (else the only one)


def _customer_row(row: dict[str, Any]) -> dict[str, Any]:
    """A customer row with documented key spellings; ``PaymentTerms`` as a bare number of days becomes ``{Days}``."""
    out = dict(documented_keys(row, DOCUMENTED))
    out["Contacts"] = [documented_keys(c, DOCUMENTED, CONTACT_ALIASES) for c in out.get("Contacts") or []]
    terms = out.get("PaymentTerms")
    if terms is not None and not isinstance(terms, dict):
        out["PaymentTerms"] = {"Days": terms}
    return out


def _date(value: Any) -> dt.date:
    return dt.datetime.fromisoformat(str(value).replace(" ", "T")).date()


def _created(row: dict[str, Any], created: bool) -> CreatedInvoice:
    return CreatedInvoice(number=str(row["Number"]), status=str(row.get("Status") or ""), created=created)


def _older(value: Any, since: str) -> bool:
    stamp, cutoff = _kf_stamp(value), _kf_stamp(since)
    return stamp is not None and cutoff is not None and stamp.replace(microsecond=0) < cutoff.replace(microsecond=0)


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

    def __init__(self, client: KashFlowClient, options: KashFlowOptions | None = None) -> None:
        self.client = client
        self.options = options or KashFlowOptions()
        self._bank_account: int | None = None
        self._customers = CodeIndex(lambda: self._every("customers"), lambda row: row.get("Code"))
        self._products = CodeIndex(lambda: self._every("products"), lambda row: row.get("Code"))
        self._invoices = InvoiceIndex("Id", "Number", "CustomerId")
        self._permalinks: dict[str, str] = {}  # invoice number -> its permalink document, from the create
        self._full: dict[str, dict[str, Any]] = {}  # invoice number -> the last full row seen (see _confirm)
        self._recent = ShortCache()
        self.feed = ChangeFeed(SYSTEM, "updatedsince")

    def _every(self, path: str) -> Iterator[dict[str, Any]]:
        return self.client.list(path, {"perpage": MAX_PER_PAGE})

    def _rows_since(
        self, path: str, since: str, params: dict[str, Any], stamp: str = "LastUpdatedDate"
    ) -> Iterator[dict[str, Any]]:
        """Rows whose ``stamp`` is at or after ``since``, oldest first. No KashFlow source shows ``updatedsince``
        or sorting by a date: once KashFlow rejects the parameter (400) or ignores it (older rows come back),
        this feed reads full listings instead, filtered on the stamp here, or by a content hash per record where
        rows carry no stamp. The switch is logged once (``self.feed.mode``/``reason``)."""
        if not self.feed.listing:
            query = {**params, "sortby": stamp, "order": "Asc"}
            if since:
                query["updatedsince"] = since
            try:
                for row in self.client.list(path, query):
                    if since and _older(row.get(stamp), since):
                        self.feed.switch(f"KashFlow ignored updatedsince on /{path} (older rows came back)")
                        break
                    yield row
                else:
                    if since:
                        self.feed.honoured()
                    return
            except PermanentError as exc:
                if not self.feed.rejected(exc):
                    raise
                self.feed.switch(f"KashFlow rejected updatedsince on /{path}: {exc.message}", rejected=True)
        every = list(self.client.list(path, {"perpage": MAX_PER_PAGE}))
        if all(row.get(stamp) for row in every):
            kept = [row for row in every if not since or not _older(row.get(stamp), since)]
            yield from sorted(kept, key=lambda row: (_kf_stamp(row[stamp]), row.get("Id") or row.get("Number") or 0))
        else:
            key = lambda row: str(row.get("Code") or row.get("Number") or row.get("Id"))  # noqa: E731
            yield from self.feed.changed(path, every, key, len(every))[0]

    # --- products ----------------------------------------------------------------------------------------

    def find_product(self, code: str) -> str | None:
        found = naming(f"Product {code}", lambda: self._products.get(code))
        return self._products.spelled(code) if found is not None else None

    def create_product(self, product: Product, ctx: TransformContext | None = None) -> str:
        record = f"Product {product.code}"
        payload = apply_mapping(self._product_mapping, canonical_json(product), ctx, system=SYSTEM, record=record)

        def post() -> str:
            try:
                made = self.client.create_product(payload)
            except PermanentError as exc:
                # Another run created it a moment ago (runs go in parallel): the same product, so use it.
                if exc.code == "DuplicateProductCode" and self.client.get_product(product.code) is not None:
                    return product.code
                raise
            self._products.put(product.code, int(made.get("Id") or 0))
            return str(made.get("Code") or product.code)

        return naming(record, post)

    # --- customers ---------------------------------------------------------------------------------------

    def find_customer(self, code: str) -> str | None:
        """From one listing of the customers per run (a miss is trusted for seconds); KashFlow refuses a second
        customer with the same code, so a miss that is out of date costs only a refused create."""
        found = naming(f"Customer {code}", lambda: self._customers.get(code))
        return self._customers.spelled(code) if found is not None else None  # as the books spell it

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
                made = self.client.create_customer(payload)
            except PermanentError as exc:
                if exc.code == "DuplicateCustomerCode" and (found := same_customer()):
                    return found
                raise
            code = str(made.get("Code") or customer.code)
            self._customers.put(code, int(made.get("Id") or 0))
            return code

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
        customers: list[Customer] = []
        last, at_last = since, set(seen)
        for row in self._rows_since("customers", since, {}):
            stamp, code = str(row.get("LastUpdatedDate") or ""), str(row["Code"])
            if stamp == since and code in seen:
                continue
            record = f"Customer {code}"
            values = apply_mapping(self._customer_reader, _customer_row(row), ctx, system=SYSTEM, record=record)
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
            row = self.client.create_invoice(payload)
            self._keep_full(row)
            return _created(row, True)

        return naming(record, create)

    def _keep_full(self, row: dict[str, Any]) -> None:
        """Remember a full invoice row (as created or read): its permalink, and the row itself for a listing to
        confirm later (``_confirm``)."""
        number = str(row.get("Number"))
        if row.get("Permalink"):
            self._permalinks[number] = str(row["Permalink"])
        if len(self._full) > 5000:  # bounded
            self._full.clear()
        self._full[number] = row

    def _confirm(self, summary: dict[str, Any]) -> None:
        """A list row (a summary: no lines, no payments) confirms a full row read before when its
        ``LastUpdatedDate``, gross and paid amounts are the same (nothing was edited or paid since): the full
        row, with the summary's own fields (status, amounts due, overdue days) laid over it, is reused."""
        number = str(summary.get("Number"))
        full = self._full.get(number)
        same = ("LastUpdatedDate", "GrossAmount", "TotalPaidAmount")  # unchanged, unpaid since, by either sign
        if full is None or any(str(full.get(k)) != str(summary.get(k)) for k in same):
            return
        fresh = {k: v for k, v in summary.items() if v is not None and k not in ("LineItems", "PaymentLines")}
        self._recent.put(f"invoice:{number}", {**full, **fresh})

    def _invoice_row(self, number: str) -> dict[str, Any] | None:
        """``GET /invoices/{number}`` (with its ``PaymentLines``). The steps and runs that follow reuse a row read
        or confirmed moments ago (``lookups.SHORT_TTL``); our own writes and the payment feed drop it."""
        if (cached := self._recent.get(f"invoice:{number}")) is not None:
            return dict(cached)
        read_at = self._recent.now()
        row = self.client.get_invoice(number)
        if row is not None:
            self._recent.put(f"invoice:{number}", row, read_at)  # not if our own write dropped it meanwhile
            self._keep_full(row)
        return row

    def get_invoice(self, invoice_id: str) -> Invoice | None:
        row = naming(f"Invoice {invoice_id}", lambda: self._invoice_row(invoice_id))
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
        """The bank account payments go into, chosen in the connection's options (id, code or name) among the
        books' ``/bankaccounts``; with no choice, the books' only bank account."""
        if self._bank_account is None:
            accounts = self.client.bank_accounts()
            wanted = (self.options.bank_account or "").strip().casefold()
            names = ("Id", "Code", "Name", "AccountNumber")
            chosen = [a for a in accounts if not wanted or wanted in {str(a.get(k) or "").casefold() for k in names}]
            if len(chosen) != 1:
                have = ", ".join(f"{a.get('Id')} {a.get('Name')!r}" for a in accounts) or "none"
                raise PermanentError(
                    f"choose the bank account payments go into (options.bank_account); the books have: {have}",
                    system=SYSTEM,
                    field="bank_account",
                )
            self._bank_account = int(chosen[0]["Id"])
        return self._bank_account

    def _method(self, name: str | None, record: str) -> int:
        """The account's own method id for a payment's method, from the connection's options (KashFlow numbers
        payment methods per account, and its REST API lists none)."""
        methods = {k.strip().casefold(): v for k, v in self.options.payment_methods.items()}
        for wanted in (name, self.options.default_payment_method):
            if wanted and wanted.strip().casefold() in methods:
                return int(methods[wanted.strip().casefold()])
        if len(set(methods.values())) == 1:
            return int(next(iter(methods.values())))
        raise PermanentError(
            f"no KashFlow payment method for {name or 'a payment without one'!r}: set options.payment_methods "
            f"(name -> the account's method id) and options.default_payment_method",
            system=SYSTEM,
            field="Method",
            record=record,
        )

    def _method_names(self) -> dict[int, str]:
        return {int(v): k for k, v in self.options.payment_methods.items()}

    def _payment_row(self, row: dict[str, Any], number: str) -> dict[str, Any]:
        name = self._method_names().get(int(row["Method"])) if row.get("Method") is not None else None
        return {**row, "InvoiceNumber": number, **({"MethodName": name} if name else {})}

    def record_payment(self, invoice_id: str, payment: Payment, ctx: TransformContext | None = None) -> str:
        """Pay ``payment.amount`` onto invoice ``invoice_id`` as a one-item ``BulkPayment``; the payment's reference
        (or its amount and date) goes into the item's ``Note``, which is how a repeated call finds the first
        payment (in the invoice's ``PaymentLines``) instead of paying twice."""
        record = f"Payment {payment.reference or ''} on invoice {invoice_id}".replace("  ", " ")
        if payment.amount != quantize_money(payment.amount):
            raise PermanentError(
                f"{payment.amount} has fractions of a penny", system=SYSTEM, field="Amount", record=record
            )
        note = payment.reference or f"ledgerlink:{payment.amount}:{payment.paid_on.isoformat()}"

        def pay() -> str:
            self._recent.drop(f"invoice:{invoice_id}")
            row = self._invoice_row(invoice_id)
            if row is None:
                raise PermanentError(f"no invoice {invoice_id}", system=SYSTEM, field="ObjectNumber", record=record)
            for line in row.get("PaymentLines") or []:
                if line.get("Note") == note:
                    return str(line["Id"])
            return self._pay_one(invoice_id, payment.amount, payment.paid_on, note, payment.method, record)

        return naming(record, pay)

    def _pay_one(
        self, number: str, amount: Decimal, paid_on: dt.date, note: str, method: str | None, record: str
    ) -> str:
        """POST one item as a ``BulkPayment`` onto invoice (or credit note) ``number``; a negative amount pays money
        back. Returns the item's id; a refusal names the item's own field ("Amount", not "PaymentItems[1].Amount")."""
        bulk = {
            "Date": paid_on.isoformat(),
            "Comment": note,
            "AccountId": self._bank(),
            "Method": self._method(method, record),
            "Reconciled": False,
            "PaymentItems": [{"ObjectNumber": int(number), "Amount": str(amount), "Note": note}],
        }
        try:
            # No listing begun while the payment is in flight is kept (it may hold the invoice as it was before).
            with self._recent.writing(f"invoice:{number}"):
                made = self.client.add_bulk_payment(bulk)
        except PermanentError as exc:
            if exc.field:
                exc.field = exc.field.removeprefix("PaymentItems[1].")
            raise
        return str((made.get("PaymentItems") or [{}])[0].get("Id"))

    def payments(self, invoice_id: str, ctx: TransformContext | None = None) -> list[Payment]:
        """The invoice's ``PaymentLines`` (documented on ``GET /invoices/{number}``)."""
        row = naming(f"Invoice {invoice_id}", lambda: self._invoice_row(invoice_id))
        out = []
        for line in (row or {}).get("PaymentLines") or []:
            if Decimal(str(line.get("Amount") or 0)) < 0:
                continue  # a refund out of a credit note (kashflow/refunds.py), not a payment
            values = apply_mapping(
                self._payment_reader,
                self._payment_row(line, invoice_id),
                ctx,
                system=SYSTEM,
                record=f"Payment {line.get('Id')}",
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
        out: list[Payment] = []
        last, at_last = since, set(seen)
        for row in self._payment_items(since):
            stamp, payment_id = str(row.get("CreatedDate") or ""), str(row["Id"])
            if stamp == since and payment_id in seen:
                continue
            if len(out) >= limit:
                break
            if Decimal(str(row.get("Amount") or 0)) >= 0:  # a negative item is a refund (kashflow/refunds.py)
                record = f"Payment {payment_id} on invoice {row.get('InvoiceNumber')}"
                values = apply_mapping(self._payment_reader, row, ctx, system=SYSTEM, record=record)
                out.append(Payment.model_validate(values))
            if stamp != last:
                last, at_last = stamp, set()
            at_last.add(payment_id)
        if not last:
            return out, watermark
        return out, f"{last}|{','.join(sorted(at_last))}"

    def _payment_items(self, since: str) -> Iterator[dict[str, Any]]:
        """Each item of the bulk payments made at or after ``since``, as a payment line: its bulk's method, bank
        account and date, ``InvoiceNumber`` from ``ObjectNumber``."""
        for bulk in self._rows_since("invoices/bulk/payments", since, {}, stamp="CreatedDate"):
            for item in bulk.get("PaymentItems") or []:
                line = {
                    "Id": item.get("Id"),
                    "Amount": item.get("Amount"),
                    "Date": item.get("PaidDate") or bulk.get("Date"),
                    "Method": bulk.get("Method"),
                    "AccountId": bulk.get("AccountId"),
                    "Note": item.get("Note"),
                    "CreatedDate": bulk.get("CreatedDate"),
                }
                self._recent.drop(f"invoice:{item.get('ObjectNumber')}")  # paid since: read it afresh
                yield self._payment_row(line, str(item.get("ObjectNumber")))

    def invoice_pdf(self, invoice_id: str) -> bytes | None:
        """KashFlow's PDF of the invoice: its ``Permalink`` document (documented; known from the create, else one
        read of the invoice). ``/invoices/{n}/pdf`` (unverified) only for an invoice without a permalink; None when
        neither gives a PDF (the flow then renders one)."""

        def read() -> bytes | None:
            link = self._permalinks.get(invoice_id)
            if link is None:
                row = self._invoice_row(invoice_id)
                if row is None:
                    return None
                link = row.get("Permalink")
            if link:
                return self.client.document(str(link))
            return self.client.invoice_pdf(invoice_id)

        try:
            body = naming(f"Invoice {invoice_id}", read)
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise
        return body if body is not None and body.startswith(b"%PDF-") else None

    def unpaid_invoices(self) -> list[InvoiceDue]:
        """Issued invoices with money owed. KashFlow says which are ``Overdue`` (by its clock) and by how many days."""
        today = dt.datetime.now(dt.UTC).date()
        out = []
        for row in self.client.list("invoices", {"perpage": MAX_PER_PAGE}):
            self._confirm(row)
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
            currency = str((row.get("Currency") or {}).get("Code") or "GBP")
            out.append(
                InvoiceDue(
                    number=str(row["Number"]), due_date=due_date, balance=balance, days_overdue=days, currency=currency
                )
            )
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

    def _customer(
        self, row: dict[str, Any], ctx: TransformContext | None, reader: MappingRules | None = None
    ) -> Customer:
        """``reader``: the mapping, loaded once for a page of rows (an edit applies from the next page on)."""
        reader = reader or self._customer_reader
        values = apply_mapping(reader, _customer_row(row), ctx, system=SYSTEM, record=f"Customer {row.get('Code')}")
        return Customer.model_validate(values)

    def _customer_page(self, rows: list[dict[str, Any]], ctx: TransformContext | None) -> list[tuple[str, Customer]]:
        reader = self._customer_reader  # once a page: looked up per row, it was a fifth of the mapping
        return [(str(r["Code"]), self._customer(r, ctx, reader)) for r in rows]

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
        rows: list[dict[str, Any]] = []
        fresh = 0
        last, at_last = since, set(seen)
        # One listing page holds the rows seen again at the watermark's second and a page of new ones (KashFlow
        # serves up to 500 a page): a page of ``limit`` would need a second listing call for nearly every page.
        per_page = max(limit, min(limit + len(seen), MAX_PER_PAGE))
        for row in self._rows_since(path, since, {"perpage": per_page}):
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
            if fresh == limit and stamp != since:
                # Oldest first: no row after this one is seen again, so the page is this. Stopping here spares a
                # listing call made only to find one more row (a page then may come back empty at the very end).
                return rows, f"{last}|{','.join(sorted(at_last))}", True
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
        return self._customer_page(rows, ctx), mark, more

    def customers_all(self, cursor: str | None, limit: int, ctx: TransformContext | None) -> Page:
        rows, nxt, more = self._all("customers", cursor, limit)
        return self._customer_page(rows, ctx), nxt, more

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
