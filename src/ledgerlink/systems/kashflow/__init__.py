"""KashFlow (REST v2): everything LedgerLink knows of it — the client and its sign-in, the canonical adapter, the
fields it holds, its mapping templates and schema, credentials and connection test. Registered by the entry point
``kashflow = "ledgerlink.systems.kashflow:SPEC"``."""

from ledgerlink.systems.kashflow.plugin import SPEC

__all__ = ["SPEC"]
