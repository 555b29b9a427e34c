"""Kashoo REST connector: token auth, business scope, limit/offset paging, idempotent creates by client id."""

from ledgerlink.connectors.kashoo.client import KashooClient, KashooSettings
from ledgerlink.connectors.kashoo.ids import stable_id

__all__ = ["KashooClient", "KashooSettings", "stable_id"]
