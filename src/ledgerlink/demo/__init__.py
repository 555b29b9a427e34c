"""`ledgerlink demo`: sandboxes, realistic data, the main flow, and a summary you can check."""
