"""The use cases, each a short durable workflow. Importing this package registers them with DBOS."""

from ledgerlink.flows import opportunity_to_invoice  # noqa: F401
