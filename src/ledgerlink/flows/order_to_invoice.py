"""Order "Activated" → sales invoice with line items: the Order-based alternative to ``opportunity_to_invoice``.

Steps: read the Order with its Account and OrderItems → map to a canonical Invoice (template
``salesforce/order_to_canonical``) → find or create the customer and products → find or create the invoice →
write the invoice number and status back to the Order. Everything after the read is ``flows/invoicing``, shared
with the Opportunity flow; the invoice's ``CustomerReference`` carries the Order id.

Off by default (``FlowSettings.order_to_invoice``): turn it on for projects that invoice from Orders. A project
whose Orders come from won Opportunities should run only one of the two flows, or the same deal is invoiced twice.
No PDF is chained: ``invoice_pdf`` attaches files to Opportunities.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any, TypedDict, cast

from dbos import DBOS, WorkflowHandle

from ledgerlink.engine.flows import ACCOUNTING, Flow, register
from ledgerlink.engine.polling import drain, record_handles
from ledgerlink.engine.retry import durable_step
from ledgerlink.engine.runtime import CRM, REALTIME_PRIORITY, current, wait_for
from ledgerlink.flows import _ledger_steps as ledger_steps
from ledgerlink.flows import invoicing
from ledgerlink.flows._probes import salesforce_changed
from ledgerlink.flows.deps import Deps, current_deps
from ledgerlink.flows.invoicing import INVOICE_NUMBER_FIELD, INVOICE_STATUS_FIELD

FLOW = "order_to_invoice"

ORDER_SELECT = (
    "SELECT Id, OrderNumber, Status, EffectiveDate, TotalAmount, Description, AccountId, SystemModstamp, "
    f"{INVOICE_NUMBER_FIELD}, {INVOICE_STATUS_FIELD}, "
    "Account.Id, Account.Name, Account.ExternalID__c, Account.BillingCountry, "
    "(SELECT Id, Quantity, UnitPrice, TotalPrice, Description, Product2Id, Product2.Name, Product2.ProductCode, "
    "Product2.Family FROM OrderItems) "
    "FROM Order"
)

SOURCE = invoicing.InvoiceSource(
    flow=FLOW,
    sobject="Order",
    template="salesforce/order_to_canonical",
    lines="OrderItems",
    soql=ORDER_SELECT,
    number_field=INVOICE_NUMBER_FIELD,
    status_field=INVOICE_STATUS_FIELD,
    outcome_key="order",
)


class Outcome(TypedDict, total=False):
    order: str
    status: str  # invoiced | already_invoiced | skipped | failed
    invoice_number: str
    customer: str
    created: bool
    error: str
    field: str | None


@DBOS.workflow(name=FLOW)
def order_to_invoice(order_id: str) -> Outcome:
    return cast(Outcome, invoicing.invoice_records(SOURCE, [order_id])[0])


@DBOS.workflow(name=f"{FLOW}_batch")
def order_to_invoice_batch(order_ids: list[str]) -> list[Outcome]:
    """Many Orders of one shard in one run: the polling trigger's runs."""
    return cast(list[Outcome], invoicing.invoice_records(SOURCE, order_ids))


def workflow_id(order_id: str, version: str) -> str:
    """One run per (order, modification), as for opportunities; the ledger keeps repeated runs idempotent."""
    return f"{FLOW}:{order_id}:{version}"


def enqueue(order_id: str, version: str, priority: int = REALTIME_PRIORITY) -> WorkflowHandle[Outcome]:
    return invoicing.enqueue_run(order_to_invoice, FLOW, order_id, workflow_id(order_id, version), priority)


WATERMARK = "salesforce.Order.activated"
ACTIVATED = "Status = 'Activated'"
POLL_PAGE = 2000


@durable_step
def read_activated_page(deps: Deps, lag_seconds: float) -> dict[str, Any]:
    """The next page of Orders activated (or edited while active) after the watermark, oldest first; those whose
    invoice number is already written back are left out of ``records`` but move ``position`` on."""
    return invoicing.read_page(deps, SOURCE, WATERMARK, ACTIVATED, lag_seconds, POLL_PAGE)


@DBOS.workflow(name="poll_activated_orders")
def poll_activated_orders(lag_seconds: float) -> dict[str, list[str]]:
    """The polling trigger, durable like the Opportunity one. Returns the runs it started, with their Order ids."""
    deps = current_deps()
    read = functools.partial(read_activated_page, deps)
    save = functools.partial(ledger_steps.save_watermark, deps, WATERMARK)
    return drain(FLOW, read, save, lag_seconds, POLL_PAGE)


def poll(*, lag_seconds: float | None = None) -> list[WorkflowHandle[Outcome]]:
    """Run the polling trigger now and return a handle per Order it handed on."""
    lag = current().settings.poll_lag_seconds if lag_seconds is None else lag_seconds
    return record_handles(wait_for(DBOS.start_workflow(poll_activated_orders, lag)))


def replay(order_id: str) -> WorkflowHandle[Outcome]:
    """Run the current mapping and code again for one Order (idempotent: the ledger remembers what exists)."""
    return enqueue(order_id, f"replay-{uuid.uuid4().hex[:12]}")


register(
    Flow(
        name=FLOW,
        batch=order_to_invoice_batch,
        writes_to=ACCOUNTING,
        description="Order Activated → sales invoice, number written back (instead of Opportunities; off by default)",
        source=(CRM, "Order"),
        watermark=WATERMARK,
        replay=replay,
        pending=lambda deps, limit: invoicing.pending(deps, SOURCE, WATERMARK, "Status = 'Activated'", limit),
        preview=lambda deps, ids: invoicing.preview(deps, SOURCE, ids),
        poll=poll,
        trigger=poll_activated_orders,
        probe=lambda lag: salesforce_changed(current_deps(), SOURCE.sobject, WATERMARK, ACTIVATED, lag),
        enabled=lambda settings: settings.order_to_invoice,
    )
)
