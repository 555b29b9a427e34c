"""The Kashoo sandbox's state: store, clock, tokens, id and timestamp sequences, and the seeded business."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from ledgerlink.sandbox.kashflow.docstore import DocStore, SandboxClock
from ledgerlink.sandbox.kashoo.config import KashooSandboxConfig

CONTACT, ITEM, ACCOUNT, TAX, INVOICE, PAYMENT = "contact", "item", "account", "tax", "invoice", "invoicePayment"
CREDIT_NOTE = "creditNote"  # credit_notes.py: behind the behaviour switch
REFUND = "refund"  # refunds.py: behind the behaviour switch
KINDS = (CONTACT, ITEM, ACCOUNT, TAX, INVOICE, PAYMENT, CREDIT_NOTE, REFUND)
FIRST_ID = 1_000_001
DEFAULT_BEHAVIOUR = {"change_feed": "honoured", "pdf_route": "present", "credit_notes": "served", "refunds": "served"}
BEHAVIOUR_CHOICES = {
    "change_feed": ("honoured", "ignored", "rejected"),
    "pdf_route": ("present", "missing"),
    "credit_notes": ("served", "missing"),
    "refunds": ("served", "missing"),
}

SEED_ACCOUNTS = [
    ("sales", "4000", "Sales revenue", "REVENUE"),
    ("receivable", "1200", "Accounts receivable", "ACCOUNTS_RECEIVABLE"),
    ("bank", "1000", "Bank", "BANK"),
    ("tax", "2200", "Sales tax payable", "TAX_PAYABLE"),
]
SEED_TAXES = [("GST", "GST", "5"), ("HST", "HST (Ontario)", "13"), ("PST", "PST (BC)", "7")]


@dataclass
class KashooState:
    config: KashooSandboxConfig
    store: DocStore
    clock: SandboxClock
    tokens: dict[str, float] = field(default_factory=dict)  # authenticationCode -> expiry (epoch ms)
    last_stamp: int = 0
    # Switches for what no Kashoo source confirms (``/__admin/behaviour``): ``change_feed`` honoured | ignored |
    # rejected (``modifiedSince``), ``pdf_route`` present | missing (``records/{id}/pdf``), ``credit_notes`` served |
    # missing (``records/creditNotes``), ``refunds`` served | missing (``records/refunds``).
    behaviour: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_BEHAVIOUR))

    def now_ms(self) -> int:
        return int(self.clock.now().timestamp() * 1000)

    def today(self) -> str:
        return self.clock.now().date().isoformat()

    def stamp(self) -> int:
        """A ``modified`` value: epoch ms, strictly increasing, so every write gets its own watermark."""
        with self.store.lock:
            self.last_stamp = max(self.now_ms(), self.last_stamp + 1)
            return self.last_stamp

    def find_any(self, entity_id: int) -> tuple[str, dict[str, Any]] | None:
        for kind in KINDS:
            doc = self.store.get(kind, str(entity_id))
            if doc is not None:
                return kind, doc
        return None

    def new_id(self) -> int:
        # Ids are unique across kinds (client-supplied ids are ignored).
        while True:
            candidate = self.store.next_id("id", FIRST_ID)
            if self.find_any(candidate) is None:
                return candidate

    def seeded(self, role: str) -> int:
        """The id of a seeded account (``sales``, ``receivable``, ``bank``, ``tax``)."""
        for doc in self.store.all(ACCOUNT):
            if doc.get("_role") == role:
                return int(doc["id"])
        raise LookupError(role)

    def seed(self) -> None:
        with self.store.tx():
            self.last_stamp = max(
                (int(d.get("modified", 0)) for kind in KINDS for d in self.store.all(kind)), default=0
            )
            if self.store.count(ACCOUNT) == 0:
                for role, number, name, kind in SEED_ACCOUNTS:
                    self._put(
                        ACCOUNT,
                        {
                            "_role": role,
                            "number": number,
                            "name": name,
                            "type": kind,
                            "currency": self.config.base_currency,
                        },
                    )
            if self.store.count(TAX) == 0:
                for code, name, rate in SEED_TAXES:
                    self._put(TAX, {"code": code, "name": name, "rate": rate, "account": self.seeded("tax")})

    def _put(self, kind: str, fields: dict[str, Any]) -> None:
        eid = self.new_id()
        doc = {"id": eid, **fields, "removed": False, "modified": self.stamp(), "_seq": eid}
        self.store.put(kind, str(eid), doc)


def ks(request: Request) -> KashooState:
    state: KashooState = request.app.state.kashoo
    return state
