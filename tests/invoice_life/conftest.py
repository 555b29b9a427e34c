"""LedgerLink against the Salesforce sandbox and a books sandbox over HTTP, for the invoice's whole life: changes,
voids and credit notes, payments both ways, history, balances and reconciliation."""

from __future__ import annotations

from tests.flows_payments.conftest import BooksEnv, books_env, kashflow_env, result

__all__ = ["BooksEnv", "books_env", "kashflow_env", "result"]
