"""KashFlow REST v2 connector: the two-step login, paging, and idempotent customer and invoice writes."""

from ledgerlink.connectors.kashflow.client import KashFlowClient, KashFlowSettings

__all__ = ["KashFlowClient", "KashFlowSettings"]
