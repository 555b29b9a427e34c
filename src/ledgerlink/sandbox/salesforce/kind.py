"""The Salesforce sandbox's entry in the ``ledgerlink.sandboxes`` entry points."""

from ledgerlink.sandbox.kind import SandboxKind
from ledgerlink.sandbox.salesforce import SalesforceSandboxConfig, create_app, credentials

SANDBOX = SandboxKind(
    system="salesforce", config=SalesforceSandboxConfig, create_app=create_app, credentials=credentials
)
