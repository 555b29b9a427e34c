"""Kashoo (REST): everything LedgerLink knows of it — the client and its token, the canonical adapter, the fields
it holds, its mapping templates and schema, credentials, options and connection test. Registered by the entry point
``kashoo = "ledgerlink.systems.kashoo:SPEC"``."""

from ledgerlink.systems.kashoo.plugin import SPEC

__all__ = ["SPEC"]
