"""KashFlow's half of invoice life (``systems.invoice_life``): edit an unpaid invoice, void (delete) one, credit notes,
every invoice with its payments, open items and the customer's own balance.

KashFlow's REST v2 "Credits" page (docs/vendors/kashflow-credit-notes.md) shows a credit note is an invoice with
negative amounts, whose credit is applied to an invoice with ``POST /internal/invoices/{invoiceid}/credits``. So a
credit note is made as an invoice with negated quantities, its ``CustomerReference`` = ``CN <invoice> <reference>``
(looked up before it is made), then its credit is applied to the invoice once (up to what the invoice still owes;
the GET lists only the credit left, so a repeated apply finds nothing left to apply). Where the internal endpoint
answers 404 the credit stays unallocated on the customer, who still owes that much less. KashFlow has no void: an
unpaid invoice is deleted, a paid one is credited instead (the flow's policy decides).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ledgerlink.mapping import TransformContext
from ledgerlink.model import CreditNote, Invoice, InvoiceLine, Payment
from ledgerlink.systems.accounting import apply_mapping, canonical_json, naming
from ledgerlink.systems.errors import PermanentError
from ledgerlink.systems.http import decimal_json
from ledgerlink.systems.invoice_life import LOCKED, BooksInvoice, MadeDocument, OpenItem
from ledgerlink.systems.kashflow.books import SYSTEM, _date
from ledgerlink.systems.kashflow.refunds import KashFlowRefunds, is_refund


def _lines(rows: list[dict[str, Any]] | None) -> list[InvoiceLine]:
    return [
        InvoiceLine(
            description=str(li.get("Description") or "-"),
            # A credit note's lines carry negative quantities; canonical lines keep quantities positive.
            quantity=abs(Decimal(str(li["Quantity"]))),
            unit_price=Decimal(str(li["Rate"])) * (-1 if Decimal(str(li["Quantity"])) < 0 else 1),
            tax_rate=Decimal(str(li.get("VATLevel") or 0)),
            product_code=li.get("ProductCode") or None,
            nominal_code=li.get("NominalCode"),
        )
        for li in rows or []
    ]


class KashFlowInvoiceLife(KashFlowRefunds):
    """The KashFlow adapter with invoice life and refunds: what ``plugin.build`` hands the engine."""

    credit_note_object = "CreditNote"

    def _money_moved(self, number: str) -> tuple[dict[str, Any] | None, bool]:
        self._recent.drop(f"invoice:{number}")  # read afresh: an edit or void decides on it
        row = self._invoice_row(number)
        if row is None:
            return None, False
        gross = Decimal(str(row.get("GrossAmount") or 0))
        due = Decimal(str(row.get("DueAmount", gross)))
        return row, Decimal(str(row.get("TotalPaidAmount") or 0)) > 0 or due != gross

    def get_invoice(self, invoice_id: str) -> Invoice | None:
        """As ``KashFlowBooks.get_invoice``, and a credit note (an invoice with negative quantities) reads too."""
        row = naming(f"Invoice {invoice_id}", lambda: self._invoice_row(invoice_id))
        return None if row is None else self._books_invoice(row, None).invoice

    def update_invoice(self, number: str, invoice: Invoice, ctx: TransformContext | None = None) -> Invoice:
        record = f"Invoice {number}"
        payload = apply_mapping(self._invoice_mapping, canonical_json(invoice), ctx, system=SYSTEM, record=record)
        payload.pop("CustomerCode", None)  # the invoice stays its customer's

        def put() -> Invoice:
            row, moved = self._money_moved(number)
            if row is None:
                raise PermanentError("is no longer in KashFlow", system=SYSTEM, record=record, field="Number")
            if moved:
                raise PermanentError(
                    "has payments or credits; KashFlow keeps it as it is", system=SYSTEM, code=LOCKED, record=record
                )
            with self._recent.writing(f"invoice:{number}"):
                self.client.update_invoice(number, payload)
            found = self.get_invoice(number)
            assert found is not None
            return found

        return naming(record, put)

    def void_invoice(self, number: str) -> bool:
        def delete() -> bool:
            row, moved = self._money_moved(number)
            if row is None:
                return True  # already gone: a repeated void
            if moved:
                return False
            with self._recent.writing(f"invoice:{number}"):
                self.client.request("DELETE", f"invoices/{number}")
            return True

        return naming(f"Invoice {number}", delete)

    # --- credit notes ------------------------------------------------------------------------------------

    credit_notes_are_invoices = True  # the history import brings them with the invoices

    @staticmethod
    def _note_reference(invoice_number: str, reference: str) -> str:
        return f"CN {invoice_number} {reference}"

    def _apply_credit(self, invoice_number: str, note_row: dict[str, Any]) -> None:
        try:
            credits = decimal_json(self.client.request("GET", f"internal/invoices/{invoice_number}/credits"))
        except PermanentError as exc:
            if exc.status == 404:
                return  # no credits endpoint: the credit stays on the customer, unallocated
            raise
        left = next((Decimal(str(c["Amount"])) for c in credits or [] if c.get("Id") == note_row["Id"]), Decimal(0))
        self._recent.drop(f"invoice:{invoice_number}")
        invoice = self._invoice_row(invoice_number) or {}
        due = Decimal(str(invoice.get("DueAmount") or 0))
        amount = min(left, due)
        if amount > 0:
            body = {"Id": note_row["Id"], "Amount": str(amount), "Type": "CreditNote"}
            self._recent.drop(f"invoice:{invoice_number}")  # its DueAmount drops
            self.client.request("POST", f"internal/invoices/{invoice_number}/credits", json=body)

    def create_credit_note(
        self, note: CreditNote, customer_id: str, ctx: TransformContext | None = None
    ) -> MadeDocument:
        record = f"Credit note {note.reference or ''} on invoice {note.invoice_number}".replace("  ", " ")
        reference = self._note_reference(note.invoice_number, note.reference or note.issue_date.isoformat())
        as_invoice = {
            "customer_code": customer_id,
            "issue_date": note.issue_date.isoformat(),
            "due_date": note.issue_date.isoformat(),
            "currency": note.currency,
            "lines": [line.model_dump(mode="json", exclude_none=True) for line in note.lines],
            "reference": reference,
        }
        payload = apply_mapping(self._invoice_mapping, as_invoice, ctx, system=SYSTEM, record=record)
        payload["CustomerCode"] = customer_id
        for line in payload.get("LineItems") or []:
            line["Quantity"] = -abs(line["Quantity"])  # a credit note is an invoice with negative amounts

        def post() -> MadeDocument:
            found = self.client.find_invoice_by_reference(customer_id, reference)
            created = found is None
            row = found if found is not None else self.client.create_invoice(payload)
            self._apply_credit(note.invoice_number, row)
            return MadeDocument(str(row["Number"]), created)

        return naming(record, post)

    def credit_notes(self, invoice_number: str) -> list[CreditNote]:
        invoice = self.client.get_invoice(invoice_number)
        if invoice is None:
            return []
        prefix = self._note_reference(invoice_number, "")
        out = []
        for row in self.client.list("invoices", {"customercode": invoice["CustomerCode"]}):
            reference = str(row.get("CustomerReference") or "")
            if not reference.startswith(prefix) or Decimal(str(row["GrossAmount"])) >= 0:
                continue
            full = self.client.get_invoice(str(row["Number"])) or row
            lines = [
                InvoiceLine(
                    description=str(li.get("Description") or "-"),
                    quantity=abs(Decimal(str(li["Quantity"]))),
                    unit_price=li["Rate"],
                    tax_rate=Decimal(str(li.get("VATLevel") or 0)),
                )
                for li in full.get("LineItems") or []
            ]
            out.append(
                CreditNote(
                    customer_code=str(full["CustomerCode"]),
                    invoice_number=invoice_number,
                    issue_date=_date(full["IssuedDate"]),
                    lines=lines or [InvoiceLine(description="Credit", quantity=Decimal(1), unit_price=Decimal(0))],
                    reference=reference[len(prefix) :] or None,
                    number=str(full["Number"]),
                    total_net=-Decimal(str(full["NetAmount"])),
                    total_tax=-Decimal(str(full["VATAmount"])),
                    total_gross=-Decimal(str(full["GrossAmount"])),
                )
            )
        return out

    # --- the whole ledger ------------------------------------------------------------------------------------

    def _books_invoice(self, row: dict[str, Any], ctx: TransformContext | None) -> BooksInvoice:
        number = str(row["Number"])
        payments = []
        for line in row.get("PaymentLines") or []:
            if is_refund(line):
                continue  # money paid back out of a credit note: in ``refunds`` below
            values = apply_mapping(
                self._payment_reader,
                self._payment_row(line, number),  # as ``payments`` reads them (the method's name too)
                ctx,
                system=SYSTEM,
                record=f"Payment {line.get('Id')}",
            )
            payments.append(Payment.model_validate(values))
        lines = _lines(row.get("LineItems")) or [
            InvoiceLine(description="-", quantity=Decimal(1), unit_price=Decimal(str(row["NetAmount"])))
        ]
        invoice = Invoice(
            customer_code=str(row["CustomerCode"]),
            issue_date=_date(row["IssuedDate"]),
            due_date=_date(row["DueDate"]),
            currency=str((row.get("Currency") or {}).get("Code") or "GBP"),
            lines=lines,
            reference=row.get("CustomerReference") or None,
            number=number,
            status=row.get("Status"),
            total_net=Decimal(str(row["NetAmount"])),
            total_tax=Decimal(str(row["VATAmount"])),
            total_gross=Decimal(str(row["GrossAmount"])),
            amount_paid=Decimal(str(row.get("TotalPaidAmount") or 0)),
        )
        credited = Decimal(str(row.get("CreditedAmount") or 0))
        gross = Decimal(str(row["GrossAmount"]))
        due = row.get("DueAmount")
        balance = Decimal(str(due)) if due is not None else gross - invoice.amount_paid - credited  # type: ignore[operator]
        return BooksInvoice(
            invoice, str(row["CustomerCode"]), payments, credited, balance, refunds=self.refunds_of(row)
        )

    def invoices_page(
        self, cursor: str | None, limit: int, ctx: TransformContext | None = None
    ) -> tuple[list[BooksInvoice], str | None, bool]:
        rows, nxt, more = self._all("invoices", cursor, limit)
        out = []
        for row in rows:
            # List rows are summaries (no LineItems or PaymentLines): each invoice is read whole, unless the row
            # confirms one read before (unchanged and unpaid since: ``_confirm``), as an import run again finds.
            self._confirm(row)
            full = self._invoice_row(str(row["Number"])) or row
            out.append(self._books_invoice(full, ctx))
        return out, nxt, more

    def books_invoice(self, number: str, ctx: TransformContext | None = None) -> BooksInvoice | None:
        self._recent.drop(f"invoice:{number}")  # read afresh: a change was just made to it
        row = naming(f"Invoice {number}", lambda: self._invoice_row(number))
        return None if row is None else self._books_invoice(row, ctx)

    def open_items(self) -> list[OpenItem]:
        out = []
        for row in self.client.list("invoices"):
            if str(row.get("Status") or "") == "Draft":
                continue
            gross = Decimal(str(row["GrossAmount"]))
            paid = Decimal(str(row.get("TotalPaidAmount") or 0))
            due = row.get("DueAmount")
            balance = Decimal(str(due)) if due is not None else gross - paid
            if balance == 0:
                continue
            due_date = _date(row["DueDate"])
            if row.get("OverdueDays") is not None:  # KashFlow counts days late by its own clock
                days = int(row["OverdueDays"])
            else:
                days = max(0, (dt.datetime.now(dt.UTC).date() - due_date).days)
            out.append(OpenItem(str(row["CustomerCode"]), str(row["Number"]), due_date, balance, days))
        return out

    def customer_balance(self, customer_id: str) -> Decimal:
        row = naming(f"Customer {customer_id}", lambda: self.client.get_customer(customer_id))
        return Decimal(str((row or {}).get("OutstandingBalance") or 0))
