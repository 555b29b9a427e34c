"""Kashoo's half of invoice life (``systems.invoice_life``): edit an unpaid invoice, void (remove) one, credit notes,
every invoice with its payments, open items and a contact's balance.

Kashoo documents records with ``removed`` (a soft delete), ``balanceDue`` and ``readOnly`` (a record with payments
keeps its lines), but no credit-note record type and no contact balance (docs/vendors/kashoo-credit-notes.md). The
connector uses ``records/creditNotes`` in the shape of its other records; where the business answers 404 there, the
record fails with a message saying so. A contact's balance is the sum of its invoices' ``balanceDue``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ledgerlink.mapping import TransformContext
from ledgerlink.model import CreditNote, Invoice, InvoiceLine, Payment, Refund, from_cents
from ledgerlink.systems.accounting import apply_mapping, naming
from ledgerlink.systems.errors import PermanentError
from ledgerlink.systems.invoice_life import LOCKED, BooksInvoice, MadeDocument, OpenItem
from ledgerlink.systems.kashoo.books import SYSTEM, _status
from ledgerlink.systems.kashoo.refunds import KashooRefunds

CREDIT_NOTES = "records/creditNotes"


class KashooInvoiceLife(KashooRefunds):
    """The Kashoo adapter with invoice life and refunds: what ``plugin.build`` hands the engine."""

    credit_note_object = "creditNote"
    credit_notes_are_invoices = False  # records/creditNotes of their own

    def _rates(self) -> dict[int, Decimal]:
        return {int(t["id"]): Decimal(str(t["rate"])) for t in self._all_taxes()}

    def _lines(self, rows: list[dict[str, Any]], rates: dict[int, Decimal]) -> list[InvoiceLine]:
        return [
            InvoiceLine(
                description=str(li.get("description") or "-"),
                quantity=li["quantity"],
                unit_price=from_cents(int(li["unitPrice"])),
                tax_rate=sum((rates.get(int(t), Decimal(0)) for t in li.get("taxes") or []), Decimal(0)),
            )
            for li in rows
        ]

    @staticmethod
    def _moved(row: dict[str, Any]) -> bool:
        return bool(row.get("readOnly")) or int(row.get("balanceDue", 0)) != int(row.get("amount", 0))

    def _fresh_row(self, number: str) -> dict[str, Any] | None:
        """The invoice as Kashoo has it now (an edit or a void decides on its payments): found through the
        short-lived rows, then read by id."""
        row = self._invoice_row(number)
        if row is None:
            return None
        fresh = self.client.get("records", row["id"])
        if fresh is None or fresh.get("removed"):
            self._recent.drop(f"invoice:{number}", f"invoice:{row['number']}")
            return None
        return dict(fresh)

    def update_invoice(self, number: str, invoice: Invoice, ctx: TransformContext | None = None) -> Invoice:
        record = f"Invoice {number}"

        def put() -> Invoice:
            row = self._fresh_row(number)
            if row is None:
                raise PermanentError("is no longer in Kashoo", system=SYSTEM, record=record, field="number")
            if self._moved(row):
                raise PermanentError(
                    "has payments or credits; Kashoo keeps its lines", system=SYSTEM, code=LOCKED, record=record
                )
            payload = self._invoice_payload(invoice, str(row["contact"]), ctx, record)
            for key in ("id", "contact", "number", "poNumber"):
                payload.pop(key, None)
            with self._recent.writing(f"invoice:{number}", f"invoice:{row['number']}"):
                self.client.update("records/invoices", row["id"], payload)
            found = self.get_invoice(str(row["number"]))
            assert found is not None
            return found

        return naming(record, put)

    def void_invoice(self, number: str) -> bool:
        def remove() -> bool:
            row = self._fresh_row(number)
            if row is None:
                return True
            if self._moved(row):
                return False
            with self._recent.writing(f"invoice:{number}", f"invoice:{row['number']}"):
                self.client.update("records/invoices", row["id"], {"removed": True})
            return True

        return naming(f"Invoice {number}", remove)

    def _find_credit_note(self, contact: int, reference: str) -> dict[str, Any] | None:
        for row in self.client.list(CREDIT_NOTES, {"contact": contact}):
            if row.get("poNumber") == reference and not row.get("removed"):
                return dict(row)
        return None

    def create_credit_note(
        self, note: CreditNote, customer_id: str, ctx: TransformContext | None = None
    ) -> MadeDocument:
        record = f"Credit note {note.reference or ''} on invoice {note.invoice_number}".replace("  ", " ")

        def post() -> MadeDocument:
            row = self._invoice_row(note.invoice_number)
            if row is None:
                raise PermanentError(f"no invoice {note.invoice_number}", system=SYSTEM, field="invoice", record=record)
            as_invoice = Invoice(
                customer_code=str(row["contact"]),
                issue_date=note.issue_date,
                due_date=note.issue_date,
                currency=note.currency,
                lines=note.lines,
                reference=note.reference,
            )
            payload = self._invoice_payload(as_invoice, str(row["contact"]), ctx, record)
            body = {
                "invoice": int(row["id"]),
                "date": note.issue_date.isoformat(),
                "lines": payload["lines"],
                "poNumber": note.reference,
                "memo": note.reason,
            }
            try:
                found = self._find_credit_note(int(row["contact"]), note.reference) if note.reference else None
                if found is not None:
                    return MadeDocument(str(found["number"]), False)
                with self._recent.writing(f"invoice:{note.invoice_number}", f"invoice:{row['number']}"):
                    made, _ = self.client.create(CREDIT_NOTES, body)  # its balanceDue drops
            except PermanentError as exc:
                if exc.status == 404:
                    raise PermanentError(
                        "this Kashoo business offers no credit notes through its API: issue the credit note in "
                        "Kashoo, then replay",
                        system=SYSTEM,
                        code="CreditNotesUnavailable",
                        record=record,
                    ) from exc
                raise
            return MadeDocument(str(made["number"]), True)

        return naming(record, post)

    def credit_notes(self, invoice_number: str) -> list[CreditNote]:
        row = self._invoice_row(invoice_number)
        if row is None:
            return []
        rates = self._rates()
        return [
            CreditNote(
                customer_code=str(cn["contact"]),
                invoice_number=str(row["number"]),
                issue_date=dt.date.fromisoformat(cn["date"]),
                currency=str(cn.get("currency") or "CAD"),
                lines=self._lines(cn["lines"], rates),
                reference=cn.get("poNumber") or None,
                number=str(cn["number"]),
                total_net=from_cents(int(cn["subTotal"])),
                total_tax=from_cents(int(cn["taxTotal"])),
                total_gross=from_cents(int(cn["amount"])),
            )
            for cn in self.client.list(CREDIT_NOTES, {"contact": row["contact"]})
            if cn["invoice"] == row["id"] and not cn.get("removed")
        ]

    def invoices_page(
        self, cursor: str | None, limit: int, ctx: TransformContext | None = None
    ) -> tuple[list[BooksInvoice], str | None, bool]:
        offset = int(cursor or 0)
        rows = [r for r in self.client.list("records/invoices") if not r.get("removed")][offset : offset + limit + 1]
        more = len(rows) > limit
        rows = rows[:limit]
        wanted = {int(r["id"]) for r in rows}
        paid: dict[int, list[dict[str, Any]]] = {}
        for p in self.client.list("records/invoicePayments"):
            if int(p["invoice"]) in wanted and not p.get("removed"):
                paid.setdefault(int(p["invoice"]), []).append(p)
        rates = self._rates()
        # Refunds out of credit notes on these invoices: read once for a page with paid or credited invoices (a
        # refund leaves no trace on the invoice row when it pays back all of a note's credit).
        moved = {int(r["id"]) for r in rows if int(r["id"]) in paid or int(r["amount"]) != int(r["balanceDue"])}
        refunds = self.refunds_by_invoice(moved) if moved else {}
        out = [
            self._books_invoice(row, paid.get(int(row["id"]), []), rates, ctx, refunds.get(int(row["id"]), []))
            for row in rows
        ]
        return out, (str(offset + len(rows)) if more else str(offset)), more

    def _books_invoice(
        self,
        row: dict[str, Any],
        paid: list[dict[str, Any]],
        rates: dict[int, Decimal],
        ctx: TransformContext | None,
        refunds: list[Refund],
    ) -> BooksInvoice:
        payments = [
            Payment.model_validate(
                apply_mapping(
                    self._payment_reader,
                    {**p, "invoiceNumber": row["number"]},
                    ctx,
                    system=SYSTEM,
                    record=f"invoicePayment {p['id']}",
                )
            )
            for p in paid
        ]
        amount_paid = sum((p.amount for p in payments), Decimal(0))
        gross, balance = from_cents(int(row["amount"])), from_cents(int(row["balanceDue"]))
        invoice = Invoice(
            customer_code=str(row["contact"]),
            issue_date=dt.date.fromisoformat(row["date"]),
            due_date=dt.date.fromisoformat(row["dueDate"]),
            currency=str(row.get("currency") or "CAD"),
            lines=self._lines(row["lines"], rates),
            reference=row.get("poNumber") or None,
            number=str(row["number"]),
            status=_status(row),
            total_net=from_cents(int(row["subTotal"])),
            total_tax=from_cents(int(row["taxTotal"])),
            total_gross=gross,
            amount_paid=amount_paid,
        )
        refunded = [r.model_copy(update={"invoice_number": str(row["number"])}) for r in refunds]
        credited = gross - amount_paid - balance + sum((r.amount for r in refunded), Decimal(0))
        return BooksInvoice(invoice, str(row["contact"]), payments, credited, balance, refunds=refunded)

    def books_invoice(self, number: str, ctx: TransformContext | None = None) -> BooksInvoice | None:
        def read() -> BooksInvoice | None:
            row = self._fresh_row(number)
            if row is None:
                return None
            paid = [
                p
                for p in self.client.list("records/invoicePayments")
                if int(p["invoice"]) == int(row["id"]) and not p.get("removed")
            ]
            moved = bool(paid) or int(row["amount"]) != int(row["balanceDue"])
            refunds = self.refunds_by_invoice({int(row["id"])}).get(int(row["id"]), []) if moved else []
            return self._books_invoice(row, paid, self._rates(), ctx, refunds)

        return naming(f"Invoice {number}", read)

    def open_items(self) -> list[OpenItem]:
        today = dt.datetime.now(dt.UTC).date()  # Kashoo reports no lateness: days from dueDate to today (UTC)
        out = []
        for row in self.client.list("records/invoices"):
            if row.get("removed") or int(row.get("balanceDue", 0)) == 0:
                continue
            due = dt.date.fromisoformat(row["dueDate"])
            balance = from_cents(int(row["balanceDue"]))
            out.append(OpenItem(str(row["contact"]), str(row["number"]), due, balance, max(0, (today - due).days)))
        return out

    def customer_balance(self, customer_id: str) -> Decimal:
        rows = self.client.list("records/invoices", {"contact": customer_id})
        return sum((from_cents(int(r["balanceDue"])) for r in rows if not r.get("removed")), Decimal(0))
