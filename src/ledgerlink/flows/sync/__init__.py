"""Two-way sync building blocks shared by the customer and product flows and the reconciliation job:
field projections (``fields``), conflict rules (``conflicts``), golden-record matching (``matching``), the last
synced state kept in the ledger (``state``) and the accounting side's sync operations (``books``)."""
