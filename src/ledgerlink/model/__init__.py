"""The canonical model: the only shapes flows and mappings pass between systems."""

from ledgerlink.model.entities import (
    Address,
    Contact,
    CreditNote,
    Customer,
    Invoice,
    InvoiceLine,
    Payment,
    Product,
    Refund,
    SystemRef,
)
from ledgerlink.model.money import Money, from_cents, quantize_money, to_cents

__all__ = [
    "Address",
    "Contact",
    "CreditNote",
    "Customer",
    "Invoice",
    "InvoiceLine",
    "Money",
    "Payment",
    "Product",
    "Refund",
    "SystemRef",
    "from_cents",
    "quantize_money",
    "to_cents",
]
