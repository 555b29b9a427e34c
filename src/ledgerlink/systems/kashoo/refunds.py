"""Kashoo's refunds (``systems.refunds``): money paid back out of a credit note.

Kashoo's help records a refund as a negative invoice paid from a bank account; its published API names no refund
record (docs/vendors/kashoo-refunds.md), and the credit notes LedgerLink makes are ``records/creditNotes`` (not
published either). The connector pays a refund out of a credit note through ``records/refunds`` in the shape of an
invoice payment (``creditNote``, ``amount`` in cents, ``date``, ``memo`` carrying the refund's reference, ``account``
the bank account paid from). Where the business answers 404 there the record fails saying what a person does instead
(code ``systems.refunds.UNAVAILABLE``); reads then find no refunds.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ledgerlink.mapping import TransformContext
from ledgerlink.model import Refund, SystemRef, from_cents
from ledgerlink.systems.accounting import naming
from ledgerlink.systems.errors import PermanentError
from ledgerlink.systems.invoice_life import MadeDocument
from ledgerlink.systems.kashoo.books import SYSTEM, KashooBooks, _cents
from ledgerlink.systems.refunds import UNAVAILABLE

REFUNDS = "records/refunds"
REFUND_OBJECT = "refund"


class KashooRefunds(KashooBooks):
    refund_object = REFUND_OBJECT

    def _credit_note(self, number: str, record: str) -> dict[str, Any]:
        for row in self.client.list("records/creditNotes"):
            if str(row.get("number")) == number and not row.get("removed"):
                return dict(row)
        raise PermanentError(f"no credit note {number}", system=SYSTEM, field="creditNote", record=record)

    def _refund_rows(self, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Refunds (filtered by ``params``, and here again); none where the business serves no refunds."""
        try:
            rows = [dict(r) for r in self.client.list(REFUNDS, params) if not r.get("removed")]
        except PermanentError as exc:
            if exc.status == 404:
                return []
            raise
        return [r for r in rows if all(str(r.get(k)) == str(v) for k, v in (params or {}).items())]

    def refundable(self, credit_note_number: str) -> Decimal:
        record = f"Credit note {credit_note_number}"

        def owed() -> Decimal:
            note = self._credit_note(credit_note_number, record)
            invoice = self.client.get("records", note["invoice"]) or {}
            refunded = sum(int(r["amount"]) for r in self._refund_rows({"creditNote": note["id"]}))
            left = int(note["amount"]) - refunded  # the note's own credit not yet refunded
            in_credit = max(0, -int(invoice.get("balanceDue") or 0))  # the invoice's negative balance: owed back
            return from_cents(max(0, min(left, in_credit)))

        return naming(record, owed)

    def _refund(self, row: dict[str, Any], note: dict[str, Any], invoice_number: str | None) -> Refund:
        return Refund(
            credit_note_number=str(note["number"]),
            invoice_number=invoice_number,
            amount=from_cents(int(row["amount"])),
            currency=str(row.get("currency") or note.get("currency") or "CAD"),
            paid_on=dt.date.fromisoformat(str(row["date"])),
            reference=row.get("memo") or None,
            refs=[SystemRef(system=SYSTEM, object=REFUND_OBJECT, id=str(row["id"]))],
        )

    def refunds(self, credit_note_number: str) -> list[Refund]:
        record = f"Credit note {credit_note_number}"

        def read() -> list[Refund]:
            note = self._credit_note(credit_note_number, record)
            invoice = self.client.get("records", note["invoice"]) or {}
            rows = self._refund_rows({"creditNote": note["id"]})
            return [self._refund(r, note, str(invoice.get("number") or "") or None) for r in rows]

        return naming(record, read)

    def refunds_by_invoice(self, invoice_ids: set[int]) -> dict[int, list[Refund]]:
        """The refunds paid out of credit notes on these invoices (one listing of refunds and of credit notes)."""
        rows = [r for r in self._refund_rows() if int(r.get("invoice") or 0) in invoice_ids]
        if not rows:
            return {}
        notes = {int(n["id"]): dict(n) for n in self.client.list("records/creditNotes")}
        out: dict[int, list[Refund]] = {}
        for row in rows:
            note = notes.get(int(row["creditNote"]))
            if note is not None:
                out.setdefault(int(row["invoice"]), []).append(self._refund(row, note, None))
        return out

    def record_refund(
        self, refund: Refund, ctx: TransformContext | None = None, *, look_first: bool = True
    ) -> MadeDocument:
        number = refund.credit_note_number
        record = f"Refund {refund.reference or ''} on credit note {number}".replace("  ", " ")
        memo = refund.reference or f"ledgerlink:refund:{refund.amount}:{refund.paid_on.isoformat()}"

        def post() -> MadeDocument:
            note = self._credit_note(number, record)
            try:
                if look_first:
                    for row in self.client.list(REFUNDS, {"creditNote": note["id"]}):
                        if row.get("memo") == memo and not row.get("removed") and row.get("creditNote") == note["id"]:
                            return MadeDocument(str(row["id"]), False)
                body = {
                    "creditNote": int(note["id"]),
                    "amount": _cents(refund.amount, field_name="amount", record=record),
                    "date": refund.paid_on.isoformat(),
                    "memo": memo,
                    "account": self._deposit_account(),
                }
                # Its invoice's balanceDue rises: no listing begun while the write is in flight is kept.
                with self._recent.writing(f"invoice:{note['invoice']}"):
                    made, _ = self.client.create(REFUNDS, body)
            except PermanentError as exc:
                if exc.status == 404:
                    raise PermanentError(
                        f"this Kashoo business offers no refunds through its API: record the refund of "
                        f"{refund.amount} on credit note {number} in Kashoo, then replay",
                        system=SYSTEM,
                        code=UNAVAILABLE,
                        record=record,
                    ) from exc
                raise
            return MadeDocument(str(made["id"]), True)

        return naming(record, post)
