"""The use cases, each a short durable workflow. Importing this package registers them with DBOS."""

from ledgerlink.flows import (  # noqa: F401
    customer_sync,
    invoice_pdf,
    invoicing,
    late_payment,
    opportunity_to_invoice,
    order_to_invoice,
    payment_sync,
    product_sync,
    reconciliation,
)
