"""The scenario tests reuse the two-way sync environment (Salesforce and KashFlow sandboxes, LedgerLink on DBOS)."""

from tests.sync.conftest import env  # noqa: F401  (a fixture, used by name)
