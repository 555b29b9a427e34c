"""What a flow's steps work with, handed to them explicitly: the ledger, the CRM's client, the books and the flows'
settings. A workflow takes them from the running engine once (``deps()``) and passes them on, so a step can be
called with in-process fakes (an ``httpx.MockTransport``, a sandbox's ASGI app) as well as with the real thing."""

from __future__ import annotations

from dataclasses import dataclass

from ledgerlink.engine.runtime import FlowSettings, current
from ledgerlink.store import Ledger
from ledgerlink.systems.accounting import AccountingSystem
from ledgerlink.systems.salesforce.client import SalesforceClient


@dataclass(frozen=True)
class Deps:
    ledger: Ledger
    crm: SalesforceClient
    books: AccountingSystem
    settings: FlowSettings


def current_deps(flow: str | None = None) -> Deps:
    """The running engine's dependencies (a workflow calls this once and hands them to its steps); with ``flow``,
    the settings carry that flow's own overrides from the settings file."""
    rt = current()
    return Deps(ledger=rt.ledger, crm=rt.crm, books=rt.books, settings=rt.settings.for_flow(flow))
