"""The canonical model: the only shapes flows and mappings pass between systems."""

from ledgerlink.model.entities import (
    Address,
    Contact,
    Customer,
    Invoice,
    InvoiceLine,
    Payment,
    Product,
    SystemRef,
)
from ledgerlink.model.money import Money, from_cents, quantize_money, to_cents

__all__ = [
    "Address",
    "Contact",
    "Customer",
    "Invoice",
    "InvoiceLine",
    "Money",
    "Payment",
    "Product",
    "SystemRef",
    "from_cents",
    "quantize_money",
    "to_cents",
]
