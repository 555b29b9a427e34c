"""Every flow by name, with what the engine, CLI and console need to drive it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dbos import WorkflowHandle

from ledgerlink.engine.runtime import FlowSettings
from ledgerlink.flows import customer_sync, invoice_pdf, late_payment, payment_sync, product_sync, reconciliation
from ledgerlink.flows import opportunity_to_invoice as o2i
from ledgerlink.flows import order_to_invoice as ord2i


@dataclass(frozen=True)
class FlowEntry:
    name: str
    description: str
    source: tuple[str, str]  # (system, object) the flow reads
    watermark: str  # the ledger watermark its polling trigger keeps
    replay: Callable[[str], WorkflowHandle[Any]]  # fresh run for one source record
    poll: Callable[..., list[WorkflowHandle[Any]]]  # run the trigger now; returns the started runs
    # The trigger workflow a worker starts on its own schedule (argument: the poll lag in seconds); None for
    # flows started otherwise (reconciliation runs on its DBOS cron schedule).
    trigger: Callable[[float], Any] | None = None
    period_seconds: float | None = None  # how often; None = every polling interval
    enabled: Callable[[FlowSettings], bool] = lambda _settings: True


FLOWS: dict[str, FlowEntry] = {
    o2i.FLOW: FlowEntry(
        name=o2i.FLOW,
        description="Opportunity Closed Won → sales invoice, number written back",
        source=("salesforce", "Opportunity"),
        watermark=o2i.WATERMARK,
        replay=o2i.replay,
        poll=o2i.poll_won,
        trigger=o2i.poll_won_opportunities,
    ),
    ord2i.FLOW: FlowEntry(
        name=ord2i.FLOW,
        description="Order Activated → sales invoice, number written back (instead of Opportunities; off by default)",
        source=("salesforce", "Order"),
        watermark=ord2i.WATERMARK,
        replay=ord2i.replay,
        poll=ord2i.poll,
        trigger=ord2i.poll_activated_orders,
        enabled=lambda settings: settings.order_to_invoice,
    ),
    payment_sync.FLOW: FlowEntry(
        name=payment_sync.FLOW,
        description="Payment recorded in the books → Opportunity paid fields + one Payment__c per payment",
        source=("accounting", payment_sync.PAYMENT_OBJECT),
        watermark=payment_sync.WATERMARK,
        replay=payment_sync.replay,
        poll=payment_sync.poll,
        trigger=payment_sync.poll_payments,
        enabled=lambda settings: settings.payment_sync,
    ),
    invoice_pdf.FLOW: FlowEntry(
        name=invoice_pdf.FLOW,
        description="Invoice PDF (the books', else rendered) → a file on the Opportunity, once",
        source=("salesforce", "Opportunity"),
        watermark=invoice_pdf.WATERMARK,
        replay=invoice_pdf.replay,
        poll=invoice_pdf.poll,
        trigger=invoice_pdf.poll_invoiced_opportunities,
        enabled=lambda settings: settings.invoice_pdf,
    ),
    late_payment.FLOW: FlowEntry(
        name=late_payment.FLOW,
        description="Invoice overdue by late_payment_days → a Case on the Account, once; closed when paid",
        source=("accounting", "Invoice"),
        watermark=late_payment.WATERMARK,
        replay=late_payment.replay,
        poll=late_payment.poll,
        trigger=late_payment.check_late_payments,
        period_seconds=3600,
        enabled=lambda settings: settings.late_payment,
    ),
    customer_sync.FLOW: FlowEntry(
        name=customer_sync.FLOW,
        description="Accounts + Contacts ⇄ the books' customers both ways: field owner, priority, last writer",
        source=("salesforce", "Account"),
        watermark=customer_sync.WATERMARK,
        replay=customer_sync.replay,
        poll=customer_sync.poll,
        trigger=customer_sync.poll_customers,
    ),
    product_sync.FLOW: FlowEntry(
        name=product_sync.FLOW,
        description="Product2 + standard price ⇄ the books' products, both ways",
        source=("salesforce", "Product2"),
        watermark=product_sync.WATERMARK,
        replay=product_sync.replay,
        poll=product_sync.poll,
        trigger=product_sync.poll_products,
    ),
    reconciliation.FLOW: FlowEntry(
        name=reconciliation.FLOW,
        description="Nightly full comparison of customers and products; repairs drift, reports it",
        source=("salesforce", "Account"),
        watermark=reconciliation.WATERMARK,
        replay=reconciliation.replay,
        poll=reconciliation.poll,
    ),
}


def get_flow(name: str) -> FlowEntry:
    try:
        return FLOWS[name]
    except KeyError:
        raise KeyError(f"no flow named {name!r}; flows: {', '.join(sorted(FLOWS))}") from None
