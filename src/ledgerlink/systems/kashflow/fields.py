"""What KashFlow holds and can do, in canonical terms."""

from ledgerlink.model.fields import BILLING, SHIPPING
from ledgerlink.systems.spec import Capabilities

CUSTOMER_FIELDS = frozenset(
    {"name", "email", "phone", "website", "vat_number", "currency", "payment_terms_days", "archived"}
    | {*BILLING, *SHIPPING, "contacts"}
)
# The product code is the link key and never changes.
PRODUCT_FIELDS = frozenset({"name", "description", "unit_price", "active", "tax_rate"})

CAPABILITIES = Capabilities(
    invoice_pdf=True,
    payment_listing=True,
    change_feed=True,
    custom_fields=True,
    idempotent_create_by_key=True,  # customers by code, invoices by CustomerReference, payments by Note
    contacts_on_customer=True,
    shipping_address=True,
)
