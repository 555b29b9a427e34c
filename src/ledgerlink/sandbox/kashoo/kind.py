"""The Kashoo sandbox's entry in the ``ledgerlink.sandboxes`` entry points."""

from decimal import Decimal

from ledgerlink.sandbox.kashoo import KashooSandboxConfig, create_app, credentials
from ledgerlink.sandbox.kind import BooksFacts, SandboxKind

_BUSINESS = "/api/businesses/{config.business_id}"

SANDBOX = SandboxKind(
    system="kashoo",
    config=KashooSandboxConfig,
    create_app=create_app,
    credentials=credentials,
    api_path="/api",
    books=BooksFacts(
        tax_rate=Decimal("13"),
        currency="CAD",
        expire_auth_path="/__admin/expire-tokens",
        collection_paths={
            "invoices": f"{_BUSINESS}/records/invoices",
            "customers": f"{_BUSINESS}/contacts",
            "payments": f"{_BUSINESS}/records/invoicePayments",
        },
    ),
)
