"""The sandbox's state: configuration, document store, clock, sessions; plus the seeded chart of accounts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from ledgerlink.sandbox.kashflow.config import KashFlowSandboxConfig
from ledgerlink.sandbox.kashflow.docstore import DocStore, SandboxClock

CUSTOMER, INVOICE, PRODUCT, NOMINAL, BANK, BANK_TX = "customer", "invoice", "product", "nominal", "bank", "banktx"
BULK_PAYMENT = "bulkpayment"
SEED_BANK_ID = 55166  # KashFlow numbers bank accounts per account (an invoice example shows AccountId 55166)
DEFAULT_BEHAVIOUR = {"change_feed": "honoured", "pdf_route": "present", "credit_notes": "served", "refunds": "served"}
BEHAVIOUR_CHOICES = {
    "change_feed": ("honoured", "ignored", "rejected"),
    "pdf_route": ("present", "missing"),
    "credit_notes": ("served", "missing"),
    "refunds": ("served", "missing"),
}

# A small realistic UK chart (KashFlow's defaults use these codes).
SEED_NOMINALS: list[tuple[int, str, str]] = [
    (1100, "Debtors Control Account", "Asset"),
    (1200, "Bank Current Account", "Bank"),
    (2100, "Creditors Control Account", "Liability"),
    (2200, "VAT on Sales", "Liability"),
    (2201, "VAT on Purchases", "Liability"),
    (3000, "Capital", "Equity"),
    (4000, "Sales", "Income"),
    (4010, "Sales - Services", "Income"),
    (4900, "Other Income", "Income"),
    (5000, "Cost of Sales", "Expense"),
    (7500, "Office Costs", "Expense"),
]


@dataclass
class AuthState:
    temporary: dict[str, dict[str, Any]] = field(default_factory=dict)  # token -> {positions, expires}
    sessions: dict[str, float] = field(default_factory=dict)  # token -> last used (sandbox epoch seconds)
    failures: int = 0
    locked_until: float | None = None


@dataclass
class KashFlowState:
    config: KashFlowSandboxConfig
    store: DocStore
    clock: SandboxClock
    auth: AuthState = field(default_factory=AuthState)
    # Switches for what no KashFlow source confirms (``/__admin/behaviour``): ``change_feed`` honoured | ignored |
    # rejected (``updatedsince``), ``pdf_route`` present | missing (``/invoices/{n}/pdf``), ``credit_notes`` served |
    # missing (``/internal/invoices/{id}/credits``), ``refunds`` served | missing (a credit note's negative payment).
    behaviour: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_BEHAVIOUR))

    def now_iso(self) -> str:
        return self.clock.now().replace(tzinfo=None).isoformat()

    def seed(self) -> None:
        with self.store.tx():
            if self.store.count(NOMINAL) == 0:
                for code, name, kind in SEED_NOMINALS:
                    nid = self.store.next_id(NOMINAL)
                    self.store.put(NOMINAL, str(code), {"Id": nid, "Code": code, "Name": name, "Type": kind})
            if self.store.count(BANK) == 0:
                bid = SEED_BANK_ID
                self.store.put(
                    BANK,
                    str(bid),
                    {
                        "Id": bid,
                        "Code": 1200,
                        "Name": "Current Account",
                        "AccountNumber": "12345678",
                        "SortCode": "40-11-62",
                        "NominalCode": 1200,
                        "Currency": {"Code": self.config.base_currency},
                        "IsDefault": True,
                    },
                )


def kf(request: Request) -> KashFlowState:
    state: KashFlowState = request.app.state.kf
    return state
