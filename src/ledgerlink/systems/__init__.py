"""The systems LedgerLink connects: one plugin package each (``systems/<name>/``), registered by the entry point
group ``ledgerlink.systems``. This package holds what they share: the plugin's declaration (``spec``), the registry,
the accounting protocol every books plugin implements, errors, HTTP plumbing and the rate limiter."""
