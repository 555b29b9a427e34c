"""KashFlow's refunds (``systems.refunds``): money paid back out of a credit note.

KashFlow's help (docs/vendors/kashflow-refunds.md) records a refund as a payment on the credit note — a credit note is
an invoice with negative amounts, and "a negative payment will be added to the note" — with a date, amount, bank
account, method and note. Through REST v2 that is a one-item ``BulkPayment`` (the documented payment route) of a
negative ``Amount`` on the credit note's number, its ``Note`` carrying the refund's reference (how a repeated call
finds the first refund among the note's ``PaymentLines``). The REST shape is inferred, not published: where the books
refuse a negative amount the record fails saying what a person does instead (code ``systems.refunds.UNAVAILABLE``).

Refunds are negative payment lines, so the payment readers (``payments``, the payment feed, the history import)
leave them out: they are never a canonical ``Payment``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledgerlink.mapping import TransformContext
from ledgerlink.model import Refund, SystemRef, quantize_money
from ledgerlink.systems.accounting import naming
from ledgerlink.systems.errors import PermanentError
from ledgerlink.systems.invoice_life import MadeDocument
from ledgerlink.systems.kashflow.books import SYSTEM, KashFlowBooks, _date
from ledgerlink.systems.refunds import UNAVAILABLE

REFUND_OBJECT = "Refund"


def is_refund(line: dict[str, Any]) -> bool:
    """A payment line paying money back (a negative amount on a credit note)."""
    return Decimal(str(line.get("Amount") or 0)) < 0


class KashFlowRefunds(KashFlowBooks):
    refund_object = REFUND_OBJECT

    def _note_row(self, number: str, record: str) -> dict[str, Any]:
        self._recent.drop(f"invoice:{number}")  # what is owed back decides: read it afresh
        row = self._invoice_row(number)
        if row is None or Decimal(str(row.get("GrossAmount") or 0)) >= 0:
            raise PermanentError(f"no credit note {number}", system=SYSTEM, field="credit_note_number", record=record)
        return row

    def refundable(self, credit_note_number: str) -> Decimal:
        record = f"Credit note {credit_note_number}"
        row = naming(record, lambda: self._note_row(credit_note_number, record))
        due = Decimal(str(row.get("DueAmount") or 0))  # on a credit note: minus the credit not used nor refunded
        return max(Decimal(0), -due)

    def _refund(self, line: dict[str, Any], row: dict[str, Any]) -> Refund:
        reference = str(row.get("CustomerReference") or "")
        parts = reference.split(" ")  # "CN <invoice> <reference>": the invoice the note credits
        return Refund(
            credit_note_number=str(row["Number"]),
            invoice_number=parts[1] if len(parts) > 2 and parts[0] == "CN" else None,
            amount=-Decimal(str(line["Amount"])),
            currency=str((row.get("Currency") or {}).get("Code") or "GBP"),
            paid_on=_date(line["Date"]),
            method=self._method_names().get(int(line["Method"])) if line.get("Method") is not None else None,
            reference=line.get("Note") or None,
            refs=[SystemRef(system=SYSTEM, object=REFUND_OBJECT, id=str(line["Id"]))],
        )

    def refunds_of(self, row: dict[str, Any]) -> list[Refund]:
        return [self._refund(line, row) for line in row.get("PaymentLines") or [] if is_refund(line)]

    def refunds(self, credit_note_number: str) -> list[Refund]:
        row = naming(f"Credit note {credit_note_number}", lambda: self._invoice_row(credit_note_number))
        return self.refunds_of(row) if row is not None else []

    def record_refund(
        self, refund: Refund, ctx: TransformContext | None = None, *, look_first: bool = True
    ) -> MadeDocument:
        number = refund.credit_note_number
        record = f"Refund {refund.reference or ''} on credit note {number}".replace("  ", " ")
        if refund.amount != quantize_money(refund.amount):
            raise PermanentError(
                f"{refund.amount} has fractions of a penny", system=SYSTEM, field="Amount", record=record
            )
        note = refund.reference or f"ledgerlink:refund:{refund.amount}:{refund.paid_on.isoformat()}"

        def pay() -> MadeDocument:
            row = self._note_row(number, record)
            if look_first:
                for line in row.get("PaymentLines") or []:
                    if is_refund(line) and line.get("Note") == note:
                        return MadeDocument(str(line["Id"]), False)
            owed = max(Decimal(0), -Decimal(str(row.get("DueAmount") or 0)))
            if refund.amount > owed:
                raise PermanentError(
                    f"{refund.amount} is more than the {owed} owed back on it",
                    system=SYSTEM,
                    field="Amount",
                    record=record,
                )
            try:
                made = self._pay_one(number, -refund.amount, refund.paid_on, note, refund.method, record)
            except PermanentError as exc:
                if exc.status == 400 and (exc.field or "").endswith("Amount"):
                    # Within what is owed back, so the books refuse a negative payment: no refunds through the API.
                    raise PermanentError(
                        f"KashFlow refused the refund of {refund.amount} through its API ({exc}): record it on credit "
                        f'note {number} in KashFlow (Refund, "I\'ve paid the refund"), then replay',
                        system=SYSTEM,
                        code=UNAVAILABLE,
                        field="Amount",
                        record=record,
                    ) from exc
                raise
            return MadeDocument(made, True)

        return naming(record, pay)
