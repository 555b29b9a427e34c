"""The KashFlow sandbox's entry in the ``ledgerlink.sandboxes`` entry points."""

from decimal import Decimal

from ledgerlink.sandbox.kashflow import KashFlowSandboxConfig, create_app, credentials
from ledgerlink.sandbox.kind import BooksFacts, SandboxKind

SANDBOX = SandboxKind(
    system="kashflow",
    config=KashFlowSandboxConfig,
    create_app=create_app,
    credentials=credentials,
    api_path="/v2",
    books=BooksFacts(
        tax_rate=Decimal("20"),
        currency="GBP",
        expire_auth_path="/__admin/expire-sessions",
        collection_paths={
            "invoices": "/v2/invoices",
            "customers": "/v2/customers",
            "payments": "/v2/invoices/bulk/payments",
        },
        # The sandbox account's own payment method ids (KashFlowSandboxConfig.payment_methods), by name.
        options={
            "payment_methods": {"Bank transfer": 409844, "Cheque": 409845, "Card": 409846, "Cash": 409847},
            "default_payment_method": "Bank transfer",
        },
    ),
)
