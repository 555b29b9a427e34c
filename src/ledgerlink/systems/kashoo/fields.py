"""What Kashoo holds and can do, in canonical terms."""

from ledgerlink.model.fields import BILLING
from ledgerlink.systems.spec import Capabilities

# Kashoo keeps one flat address and no people on a contact.
CUSTOMER_FIELDS = frozenset(
    {"name", "email", "phone", "website", "vat_number", "currency", "payment_terms_days", "archived", *BILLING}
)
PRODUCT_FIELDS = frozenset({"name", "description", "unit_price", "active"})

CAPABILITIES = Capabilities(
    invoice_pdf=True,
    payment_listing=True,
    change_feed=True,
    idempotent_create_by_key=True,
)
