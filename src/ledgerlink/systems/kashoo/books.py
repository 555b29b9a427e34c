"""Kashoo as an ``AccountingSystem``: contacts, items, invoices and invoice payments, amounts in integer cents.

Idempotency rests on what Kashoo keeps, never on a client-chosen id (Kashoo's REST conventions say ids a client
supplies are ignored): a contact's and an item's ``code``, an invoice's ``poNumber`` (and ``memo``) carrying the
source reference, a payment's ``memo`` carrying the payment's reference. A create looks first only when an earlier
attempt may have made the record (``lookups``); collections are read a listing at a time, not a call per record.

Unverified reads get fallbacks: ``modifiedSince`` rejected or ignored switches to full listings with a content hash
per record (``systems.changefeed``); a missing ``records/{id}/pdf`` route makes ``invoice_pdf`` answer None, so the
flow renders the PDF itself.

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
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledgerlink.mapping import Mapping as MappingRules
from ledgerlink.mapping import TransformContext, load_mapping
from ledgerlink.model import Customer, Invoice, InvoiceLine, Payment, Product, from_cents, to_cents
from ledgerlink.store.claims import CreateClaims
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
from ledgerlink.systems.errors import ConnectorError, PermanentError
from ledgerlink.systems.http import decimal_json
from ledgerlink.systems.kashoo.client import KashooClient
from ledgerlink.systems.kashoo.fields import CAPABILITIES, CUSTOMER_FIELDS, PRODUCT_FIELDS
from ledgerlink.systems.lookups import CodeIndex, InvoiceIndex, ShortCache, create_once

log = logging.getLogger(__name__)
# A create looks in a listing at most this old: a contact or item an earlier attempt made (a retry, a replay, another
# worker) is in it. Older listings still answer finds, which are only a hint.
LOOK_BEFORE_CREATE = 2.0

SYSTEM = "kashoo"


@dataclass
class KashooOptions:
    tax_codes: Mapping[str, list[str]] = field(default_factory=dict)  # percentage -> Kashoo tax codes
    create_missing_taxes: bool = False  # else a rate the books lack is a refused record
    deposit_account: str | None = None  # the BANK account payments go into: id, number or name (else the only one)


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

    def __init__(
        self, client: KashooClient, options: KashooOptions | None = None, claims: CreateClaims | None = None
    ) -> None:
        self.client = client
        self.options = options or KashooOptions()
        self.claims = claims  # workers sharing a ledger: one create per new code among them
        self._taxes: list[dict[str, Any]] | None = None
        self._tax_lock = threading.Lock()
        self._listing_lock = threading.Lock()
        self._create_lock = threading.Lock()
        self._contacts = CodeIndex(lambda: self._listing("contacts"), lambda row: row.get("code"))
        self._items = CodeIndex(lambda: self._listing("items"), lambda row: row.get("code"))
        self._invoices = InvoiceIndex()
        self._recent = ShortCache()
        self._deposit: int | None = None
        self.feed = ChangeFeed(SYSTEM, "modifiedSince")
        self.pdf_route = True  # False once Kashoo answers that records/{id}/pdf does not exist

    def _listing(self, collection: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        return self.client.list(collection, params)

    # --- customers (Kashoo contacts) ---------------------------------------------------------------------

    def find_customer(self, code: str) -> str | None:
        found = naming(f"Customer {code}", lambda: self._contacts.get(code))
        return str(found) if found is not None else None

    def create_customer(self, customer: Customer, ctx: TransformContext | None = None) -> str:
        """The contact whose ``code`` is the customer's, made when there is none. Kashoo would take the same code
        twice, so the look before the POST uses a listing at most ``LOOK_BEFORE_CREATE`` seconds old (an earlier
        attempt, in this process or another, may have made it); after an attempt whose outcome is unknown the next
        look reads the listing again. Runs in one process make one code one at a time; workers sharing a ledger
        claim the code there first (``lookups.create_once``), as two looks at the same instant both miss."""
        record = f"Customer {customer.code}"
        payload = apply_mapping(self._contact_mapping, canonical_json(customer), ctx, system=SYSTEM, record=record)
        payload = _flat_address(payload)
        payload["code"] = customer.code.strip()

        def make() -> str:
            with self._contacts.lock_for(customer.code):
                found = self._contacts.get(customer.code, max_age=LOOK_BEFORE_CREATE)
                if found is not None:
                    return self._same_contact(found, customer, record)
                return create_once(
                    self.claims,
                    (SYSTEM, "contact"),
                    customer.code,
                    self._contacts,
                    post,
                    lambda contact_id: self._same_contact(contact_id, customer, record),
                )

        def post() -> int:
            try:
                contact, _ = self.client.create("contacts", payload)
            except ConnectorError as exc:
                if not isinstance(exc, PermanentError) or exc.status is None or exc.status >= 500:
                    self._contacts.forget()  # it may have been made: the retry looks again
                raise
            self._contacts.put(customer.code, int(contact["id"]))
            return int(contact["id"])

        return naming(record, make)

    def _same_contact(self, contact_id: int, customer: Customer, record: str) -> str:
        """A contact with this code exists: it is this customer if the names agree (a retried step, a parallel run
        for another deal of the same Account); another name means the code is someone else's."""
        contact = self.client.get("contacts", contact_id) or {}
        if str(contact.get("name") or "").strip().casefold() != customer.name.strip().casefold():
            raise PermanentError(
                f"customer code {customer.code!r} is already used by {contact.get('name')!r}",
                system=SYSTEM,
                code="DUPLICATE",
                field="code",
                record=record,
            )
        return str(contact_id)

    def customers_changed_since(
        self, watermark: str | None, ctx: TransformContext | None = None
    ) -> tuple[list[Customer], str | None]:
        """Contacts modified at or after the watermark (epoch ms), removed ones included (as archived).
        ``modified`` is strictly increasing, so the next watermark is the newest stamp plus one."""
        customers, newest = [], int(watermark or 0) - 1
        for row in self._since("contacts", watermark):
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
        found = naming(f"Product {code}", lambda: self._items.get(code))
        return str(found) if found is not None else None

    def create_product(self, product: Product, ctx: TransformContext | None = None) -> str:
        record = f"Product {product.code}"
        payload = apply_mapping(self._item_mapping, canonical_json(product), ctx, system=SYSTEM, record=record)
        payload.pop("taxRate", None)  # invoice lines name their taxes; an item's default taxes stay Kashoo's
        payload.pop("currency", None)

        def make() -> str:
            with self._items.lock_for(product.code):
                found = self._items.get(product.code, max_age=LOOK_BEFORE_CREATE)
                if found is not None:
                    return str(found)
                return create_once(self.claims, (SYSTEM, "item"), product.code, self._items, post, str)

        def post() -> int:
            try:
                item, _ = self.client.create("items", payload)
            except ConnectorError as exc:
                self._items.forget()  # made by an earlier attempt or by hand (a DUPLICATE code): look again
                if exc.code == "DUPLICATE" and (again := self._items.get(product.code)) is not None:
                    return again
                raise
            self._items.put(product.code, int(item["id"]))
            return int(item["id"])

        return naming(record, make)

    # --- taxes -------------------------------------------------------------------------------------------

    def _all_taxes(self) -> list[dict[str, Any]]:
        with self._tax_lock:  # one listing for all the runs that need it at once
            if self._taxes is None:
                self._taxes = [t for t in self.client.list("taxes") if not t.get("removed")]
            return self._taxes

    def _create_tax(self, key: str) -> int:
        """A tax for a missing rate, made once: runs in parallel wait for one another, and look again (by its code,
        which Kashoo keeps) after a fresh listing before making it."""
        with self._create_lock:
            for fresh in (False, True):  # another run may just have made it; else another process: list again
                if fresh:
                    self._taxes = None
                for tax in self._all_taxes():
                    if tax.get("code") == f"T{key}":
                        return int(tax["id"])
            tax, _ = self.client.create("taxes", {"name": f"Tax {key}%", "code": f"T{key}", "rate": key})
            self._all_taxes().append(tax)
            return int(tax["id"])

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
            ours = [t for t in matching if t.get("code") == f"T{key}"]  # one we made (found by its code)
            if len(matching) == 1 or ours:
                return [int((ours or matching)[0]["id"])]
            if not matching and self.options.create_missing_taxes:
                return [self._create_tax(key)]
        have = ", ".join(f"{t.get('code')} {t['rate']}%" for t in taxes) or "none"
        raise PermanentError(
            f"no Kashoo tax for a rate of {key}% (the books have: {have})",
            system=SYSTEM,
            code="UNKNOWN_TAX_RATE",
            field=field_name,
            record=record,
        )

    # --- invoices ----------------------------------------------------------------------------------------

    def _invoice_rows(self, contact: str | int | None = None) -> Iterator[dict[str, Any]]:
        """Active invoices (of one contact, if given: the filter is applied here too, in case Kashoo ignores it),
        each noted in the number index."""
        params = {"contact": str(contact)} if contact is not None else None
        for row in self.client.list("records/invoices", params):
            if row.get("removed") or (contact is not None and str(row.get("contact")) != str(contact)):
                continue
            self._invoices.note(row)
            yield row

    def find_invoice(self, customer_id: str, reference: str) -> CreatedInvoice | None:
        """The invoice whose ``poNumber`` is the source reference (Kashoo keeps it; the ``memo`` carries it too)."""

        def look() -> CreatedInvoice | None:
            for row in self._invoice_rows(customer_id):
                if reference in (row.get("poNumber"), row.get("memo")):
                    return _created(row, False)
            return None

        return naming(f"Invoice {reference}", look)

    def create_invoice(
        self, invoice: Invoice, customer_id: str, ctx: TransformContext | None = None, *, look_first: bool = True
    ) -> CreatedInvoice:
        """Look for the invoice by its reference only when an earlier attempt may have made it (``look_first``),
        then one POST. Kashoo would take the same ``poNumber`` twice, so the look is what makes a retry safe."""
        record = f"Invoice {invoice.reference or invoice.number or '(new)'}"
        payload = self._invoice_payload(invoice, customer_id, ctx, record)

        def create() -> CreatedInvoice:
            if look_first and invoice.reference and (found := self.find_invoice(customer_id, invoice.reference)):
                return found
            row, _ = self.client.create("records/invoices", payload)
            self._invoices.note(row)
            return _created(row, True)

        return naming(record, create)

    def _invoice_payload(
        self, invoice: Invoice, customer_id: str, ctx: TransformContext | None, record: str
    ) -> dict[str, Any]:
        """Everything is checked here, before the one POST: a refused line leaves nothing behind in Kashoo."""
        payload = apply_mapping(self._invoice_mapping, canonical_json(invoice), ctx, system=SYSTEM, record=record)
        payload.pop("amount", None)  # Kashoo computes totals from the lines
        payload["lines"] = payload.pop("lineItems", None) or []
        payload["contact"] = int(customer_id)
        for i, (line, out) in enumerate(zip(invoice.lines, payload["lines"], strict=True)):
            code = out.pop("code", None)
            out.pop("taxRate", None)
            out["taxes"] = self.tax_ids(line.tax_rate, field_name=f"lines[{i}].tax_rate", record=record)
            if code and (item := self.find_product(str(code))):
                out["item"] = int(item)
        return payload

    def _invoice_row(self, invoice_id: str) -> dict[str, Any] | None:
        """An invoice by its number (or its Kashoo id). Batch read: a miss lists every active invoice (a call per
        page) and keeps each row a short while (``lookups.SHORT_TTL``), so the runs that follow (payments, late
        notices) read none; our own writes and the payment feed drop the rows they change. A listing row without
        its lines is completed by one GET."""
        key, started = f"invoice:{invoice_id}", self._recent.now()
        if (cached := self._recent.get(key)) is None:
            with self._listing_lock:  # runs that miss at once share one listing
                if (cached := self._recent.get(key)) is None:
                    read_at, listed_rows = self._recent.now(), {}
                    for listed in self._invoice_rows():
                        listed_rows[str(listed["number"])] = listed
                        self._recent.put(f"invoice:{listed['number']}", listed, read_at)
                    cached = self._recent.get(key)
                    if cached is None and (stale := listed_rows.get(invoice_id)) is not None:
                        cached = self.client.get("records", stale["id"])  # written to while listed: read afresh
                        cached = None if cached is None or cached.get("removed") else cached
        row: dict[str, Any] | None = dict(cached) if cached is not None else None
        if row is None and invoice_id.isdigit() and len(invoice_id) > 6:  # Kashoo ids are long; numbers short
            row = self.client.get("records", invoice_id)
            if row is None or row.get("type") != "INVOICE" or row.get("removed"):
                return None
        if row is not None and row.get("lines") is None:
            row = self.client.get("records", row["id"])
        if row is not None:
            self._invoices.note(row)
            self._recent.put(f"invoice:{row['number']}", row, started)  # not if a write dropped it meanwhile
        return row

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
            for li in row.get("lines") or row.get("lineItems") or []
        ]
        gross = int(row.get("amount") or row.get("totalDue") or 0)
        net = (
            int(row["subTotal"])
            if row.get("subTotal") is not None
            else sum(int(li.get("amount") or 0) for li in row.get("lines") or [])
        )
        tax = int(row["taxTotal"]) if row.get("taxTotal") is not None else gross - net
        return Invoice(
            customer_code=str(row["contact"]),
            issue_date=dt.date.fromisoformat(row["date"]),
            due_date=dt.date.fromisoformat(row["dueDate"]),
            currency=str(row.get("currency") or "CAD"),
            lines=lines,
            reference=row.get("poNumber") or None,
            number=str(row["number"]),
            status=_status(row),
            total_net=from_cents(net),
            total_tax=from_cents(tax),
            total_gross=from_cents(gross),
            amount_paid=from_cents(gross - int(row.get("balanceDue", gross))),
        )

    def invoice_references(self) -> list[str]:
        """The source reference of every invoice in the books (the demo counts duplicates with it)."""
        return [str(row.get("poNumber") or f"#{row.get('number')}") for row in self._invoice_rows()]

    # --- payments ----------------------------------------------------------------------------------------

    def _deposit_account(self) -> int:
        """The BANK account payments go into, chosen in the connection's options (id, number or name) among the
        books' accounts; with no choice, the books' only bank account."""
        if self._deposit is None:
            banks = [a for a in self.client.list("accounts") if a.get("type") == "BANK" and not a.get("removed")]
            wanted = (self.options.deposit_account or "").strip().casefold()
            chosen = [
                a
                for a in banks
                if not wanted
                or wanted
                in (str(a.get("id")), str(a.get("number") or "").casefold(), str(a.get("name") or "").casefold())
            ]
            if len(chosen) != 1:
                have = ", ".join(f"{a.get('id')} {a.get('number')} {a.get('name')!r}" for a in banks) or "none"
                raise PermanentError(
                    f"choose the bank account payments go into (options.deposit_account); the books have: {have}",
                    system=SYSTEM,
                    field="deposit_account",
                )
            self._deposit = int(chosen[0]["id"])
        return self._deposit

    def _invoice_payments(self, row: dict[str, Any], *, fresh: bool = False) -> list[dict[str, Any]]:
        """The active payments on one invoice. ``fresh``: listed now by its contact (the invoice filter is ours);
        else, batch read: a miss lists every payment once and keeps them per invoice a short while."""
        key = f"payments:{row['id']}"
        # Every put says when its listing began (``read_at``): a listing begun before a payment was made, and
        # finished after, must not stand for the invoice's payments (its own run would miss the payment).
        if fresh:
            read_at = self._recent.now()
            rows = [
                {**p, "invoiceNumber": row["number"]}
                for p in self.client.list("records/invoicePayments", {"contact": row["contact"]})
                if str(p.get("invoice")) == str(row["id"]) and not p.get("removed")
            ]
            return list(self._recent.put(key, rows, read_at))
        if (cached := self._recent.get(key)) is None:
            with self._listing_lock:
                if (cached := self._recent.get(key)) is None:
                    read_at, by_invoice = self._recent.now(), dict[str, list[dict[str, Any]]]()
                    for p in self.client.list("records/invoicePayments"):
                        if not p.get("removed"):
                            by_invoice.setdefault(str(p.get("invoice")), []).append(p)
                    for invoice, found in by_invoice.items():
                        self._recent.put(f"payments:{invoice}", found, read_at)
                    # This invoice's answer is the listing's, kept or not (it is the freshest there is).
                    cached = self._recent.put(key, by_invoice.get(str(row["id"]), []), read_at)
        return [{**p, "invoiceNumber": row["number"]} for p in cached]

    def record_payment(self, invoice_id: str, payment: Payment, ctx: TransformContext | None = None) -> str:
        """Pay onto an invoice. The ``memo`` carries the payment's reference (or, with none, its amount and date):
        the invoice's payments are looked through for it first, so a repeated call returns the first payment."""
        record = f"Payment {payment.reference or ''} on invoice {invoice_id}".replace("  ", " ")
        memo = payment.reference or f"ledgerlink:{payment.amount}:{payment.paid_on.isoformat()}"

        def pay() -> str:
            row = self._invoice_row(invoice_id)
            if row is None:
                raise PermanentError(f"no invoice {invoice_id}", system=SYSTEM, field="invoice", record=record)
            for earlier in self._invoice_payments(row, fresh=True):
                if earlier.get("memo") == memo:
                    return str(earlier["id"])
            body = {
                "invoice": int(row["id"]),
                "amount": _cents(payment.amount, field_name="amount", record=record),
                "date": payment.paid_on.isoformat(),
                "memo": memo,
                "depositAccount": self._deposit_account(),
            }
            with self._recent.writing(f"invoice:{invoice_id}", f"invoice:{row['number']}", f"payments:{row['id']}"):
                created, _ = self.client.create("records/invoicePayments", body)
            return str(created["id"])

        return naming(record, pay)

    def payments(self, invoice_id: str, ctx: TransformContext | None = None) -> list[Payment]:
        def read() -> list[dict[str, Any]]:
            row = self._invoice_row(invoice_id)
            return self._invoice_payments(row) if row is not None else []

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
        out: list[Payment] = []
        numbers: dict[int, str] = {}
        newest = int(watermark or 0) - 1
        for row in self._since("records/invoicePayments", watermark):
            if len(out) >= limit:
                break
            newest = max(newest, int(row["modified"]))
            if row.get("removed"):
                continue
            invoice = int(row["invoice"])
            self._recent.drop(f"payments:{invoice}")  # a payment the runs will read: not from a kept listing
            if invoice not in numbers:
                numbers[invoice] = naming(f"invoice {invoice}", functools.partial(self._number_of, invoice))
            record = f"invoicePayment {row['id']}"
            values = apply_mapping(
                self._payment_reader, {**row, "invoiceNumber": numbers[invoice]}, ctx, system=SYSTEM, record=record
            )
            out.append(Payment.model_validate(values))
        return out, (str(newest + 1) if newest >= 0 else watermark)

    def _number_of(self, invoice: int) -> str:
        """An invoice's number by its id: from the index, else one listing (which notes every invoice)."""
        number = self._invoices.number_of(invoice)
        if number is None:
            for _row in self._invoice_rows():
                pass
            number = self._invoices.number_of(invoice)
        if number is not None:
            self._recent.drop(f"invoice:{number}")  # its balance changed
        return number or str(invoice)

    def _since(self, collection: str, watermark: str | None, limit: int | None = None) -> list[dict[str, Any]]:
        """Entities modified at or after the watermark (epoch ms), removed ones included, oldest first. When Kashoo
        rejects or ignores ``modifiedSince`` (no public source confirms it), the feed switches to full listings
        filtered here on ``modified`` (and, lacking that, on a content hash per record)."""
        since = int(watermark or 0)
        if not self.feed.listing:
            params = {"modifiedSince": str(since)}
            try:
                rows = (
                    list(
                        decimal_json(
                            self.client.request(
                                "GET", self.client.path(collection), params={**params, "limit": limit, "offset": 0}
                            )
                        )
                        or []
                    )
                    if limit
                    else list(self.client.list(collection, params))
                )
            except PermanentError as exc:
                if not self.feed.rejected(exc):
                    raise
                self.feed.switch(f"Kashoo rejected modifiedSince on {collection} ({exc.message})", rejected=True)
            else:
                if not any(int(r.get("modified") or since) < since for r in rows):
                    if since > 0:
                        self.feed.honoured()
                    return rows
                self.feed.switch(f"Kashoo ignored modifiedSince on {collection} (older records came back)")
        every = list(self.client.list(collection, {"includeRemoved": "true"}))
        if all(r.get("modified") is not None for r in every):
            rows = sorted((r for r in every if int(r["modified"]) >= since), key=lambda r: int(r["modified"]))
        else:
            rows, _more = self.feed.changed(collection, every, lambda r: str(r["id"]), len(every))
        return rows[:limit] if limit else rows

    def invoice_pdf(self, invoice_id: str) -> bytes | None:
        """Kashoo's PDF of the invoice, or None (the flow then renders one). ``records/{id}/pdf`` has no public
        source: if Kashoo answers that the route does not exist, this stops asking and says so once."""
        if not self.pdf_route:
            return None

        def read() -> bytes | None:
            known = self._invoices.get(invoice_id)
            record_id: int | str | None = known[0] if known else None
            if record_id is None:
                row = self._invoice_row(invoice_id)
                if row is None:
                    return None
                record_id = row["id"]
            try:
                return self.client.pdf(record_id, missing_ok=False)
            except PermanentError as exc:
                if exc.status not in (404, 405) or self._invoice_row(invoice_id) is None:
                    raise
                self.pdf_route = False
                log.warning(
                    "kashoo: no PDF route (records/{id}/pdf answered %s); LedgerLink renders invoice PDFs", exc.status
                )
                return None

        try:
            body = naming(f"Invoice {invoice_id}", read)
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise
        return body if body is not None and body.startswith(b"%PDF-") else None

    def unpaid_invoices(self) -> list[InvoiceDue]:
        """Invoices with a balance due. Kashoo reports no overdue status: days count from ``dueDate`` to today (UTC)."""
        today = dt.datetime.now(dt.UTC).date()
        out = []
        for row in self._invoice_rows():
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
                    currency=str(row.get("currency") or "CAD"),
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
        rows = self._since(collection, watermark, limit)
        stamps = [int(r["modified"]) for r in rows if r.get("modified") is not None]
        return rows, (str(max(stamps) + 1) if stamps else watermark)

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
