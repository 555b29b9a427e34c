"""What LedgerLink last billed for a deal, kept in the ledger: the books' invoice now standing for it, a fingerprint
of the lines it was billed for, their net by tax rate, and what happened to it (open, voided, credited).

The invoice-change flow compares a deal with this, not with the books' invoice: after a credit note the invoice
itself is unchanged, and only the state knows the deal is already squared. Kept as a ledger key/value entry (the
watermark table: name → text), one per deal and books system, written after each change in the books is made; a
crash in between is caught by the books' own keys (each credit note and new invoice carries a reference derived
from the deal and the fingerprint it was made for, looked up before it is made again).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from ledgerlink.model import InvoiceLine, quantize_money
from ledgerlink.store import Ledger
from ledgerlink.store.ledger import content_hash

OPEN, VOIDED, CREDITED = "open", "voided", "credited"


@dataclass
class Billed:
    invoice: str  # the books' invoice number standing for the deal
    fingerprint: str  # of the lines billed (quantity, unit price, tax rate)
    nets: dict[str, str]  # net billed by tax rate ("20" → "100.00"), after credits and extra invoices
    status: str = OPEN
    documents: list[str] = field(default_factory=list)  # credit notes and extra invoices made for the deal
    rewon: int = 0  # times the deal was won again after its invoice was voided or credited (each a new invoice)

    def gross(self) -> Decimal:
        return sum((quantize_money(Decimal(n) * (1 + Decimal(r) / 100)) for r, n in self.nets.items()), Decimal(0))


def fingerprint(lines: list[InvoiceLine]) -> str:
    """The lines as money sees them (descriptions and product codes are the books' to reword)."""
    key = sorted(
        (str(li.quantity.normalize()), str(li.unit_price.normalize()), str(li.tax_rate.normalize())) for li in lines
    )
    return content_hash({"lines": key})


def nets_by_rate(lines: list[InvoiceLine]) -> dict[str, str]:
    out: dict[str, Decimal] = {}
    for line in lines:
        rate = str(line.tax_rate.normalize())
        out[rate] = out.get(rate, Decimal(0)) + line.net
    return {rate: str(quantize_money(net)) for rate, net in sorted(out.items())}


def _key(books: str, deal: str) -> str:
    return f"invoice_life/{books}/{deal}"


def load(ledger: Ledger, books: str, deal: str) -> Billed | None:
    text = ledger.get_watermark(_key(books, deal))
    return Billed(**json.loads(text)) if text else None


def load_many(ledger: Ledger, books: str, deals: list[str]) -> dict[str, Billed]:
    """``load`` for many deals in one query: the state of each that has one."""
    keys = {_key(books, deal): deal for deal in deals}
    return {keys[key]: Billed(**json.loads(text)) for key, text in ledger.get_watermarks(keys).items()}


def save(ledger: Ledger, books: str, deal: str, billed: Billed) -> None:
    ledger.set_watermark(_key(books, deal), json.dumps(asdict(billed), sort_keys=True))


def save_new(ledger: Ledger, books: str, billed: dict[str, Billed]) -> None:
    """``save`` for the deals of a batch whose invoices were just made, in one transaction; a deal that already
    has a state keeps it (its history of credits and reissues is the invoice-change flow's)."""
    keys = {_key(books, deal): state for deal, state in billed.items()}
    have = ledger.get_watermarks(keys)
    ledger.set_watermarks({k: json.dumps(asdict(b), sort_keys=True) for k, b in keys.items() if k not in have})


def _document_key(books: str, number: str) -> str:
    return f"invoice_life/{books}/document/{number}"


def note_document(ledger: Ledger, books: str, number: str, deal: str) -> None:
    """Remember the deal a credit note or extra invoice was made for (the ledger links a deal to one invoice)."""
    ledger.set_watermark(_document_key(books, number), deal)


def deals_of(ledger: Ledger, books: str, numbers: list[str]) -> dict[str, str]:
    """The deal each of these documents was made for, where ``note_document`` knows one."""
    keys = {_document_key(books, n): n for n in numbers}
    return {keys[key]: deal for key, deal in ledger.get_watermarks(keys).items() if deal}
