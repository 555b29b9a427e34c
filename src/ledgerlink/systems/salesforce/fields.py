"""The canonical fields Salesforce holds (flat names, ``model.fields``): what customer and product sync compare."""

from ledgerlink.model.fields import BILLING, SHIPPING

# An Account has no e-mail, VAT number, terms or archive flag in a standard org.
CUSTOMER_FIELDS = frozenset({"name", "phone", "website", *BILLING, *SHIPPING, "contacts"})
# Product2 with its standard price; the code is the link key and never changes.
PRODUCT_FIELDS = frozenset({"name", "description", "unit_price", "active"})
