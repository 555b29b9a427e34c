"""LedgerLink: a self-hosted integration engine between Salesforce and small-business accounting."""

__version__ = "0.1.0"
