"""Documents LedgerLink makes itself when a system has none to give (an invoice PDF)."""
