"""Opportunity "Closed Won" → sales invoice with line items.

Steps: read the opportunity with its account and line items → map to a canonical Invoice (template
``salesforce/opportunity_to_canonical``) → find or create the customer → find or create the invoice →
write the invoice number and status back to the opportunity. The steps after the read are shared with
``order_to_invoice`` (``flows/invoicing``); each is checkpointed by DBOS and each write is idempotent through the
ledger (and, for a crash between create and ledger write, through the invoice's ``CustomerReference``, which
carries the opportunity id).
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
from ledgerlink.flows import invoice_pdf, invoicing
from ledgerlink.flows._probes import salesforce_changed
from ledgerlink.flows.deps import Deps, current_deps
from ledgerlink.flows.invoicing import ACCOUNT_SOQL as ACCOUNT_SOQL  # re-exported: the console's preview reads it
from ledgerlink.flows.invoicing import INVOICE_NUMBER_FIELD as INVOICE_NUMBER_FIELD
from ledgerlink.flows.invoicing import INVOICE_STATUS_FIELD as INVOICE_STATUS_FIELD
from ledgerlink.flows.invoicing import PRODUCT_SOQL as PRODUCT_SOQL

FLOW = "opportunity_to_invoice"

# What an invoice is made from (and what the invoice-change flow compares): the deal, its Account, its lines.
OPPORTUNITY_COLUMNS = [
    *("Id", "Name", "StageName", "IsWon", "Amount", "CloseDate", "Description", "AccountId", "SystemModstamp"),
    *(INVOICE_NUMBER_FIELD, INVOICE_STATUS_FIELD, "Account.Id", "Account.Name", "Account.ExternalID__c"),
    "(SELECT Id, Quantity, UnitPrice, TotalPrice, Description, Product2Id, Product2.Name, Product2.ProductCode "
    "FROM OpportunityLineItems)",
]
OPPORTUNITY_SELECT = f"SELECT {', '.join(OPPORTUNITY_COLUMNS)} FROM Opportunity"
OPPORTUNITY_SOQL = OPPORTUNITY_SELECT + " WHERE Id = '{id}'"  # one record (the console's preview reads it)

SOURCE = invoicing.InvoiceSource(
    flow=FLOW,
    sobject="Opportunity",
    template="salesforce/opportunity_to_canonical",
    lines="OpportunityLineItems",
    soql=OPPORTUNITY_SELECT,
    number_field=INVOICE_NUMBER_FIELD,
    status_field=INVOICE_STATUS_FIELD,
    outcome_key="opportunity",
)

_step = durable_step


class Outcome(TypedDict, total=False):
    opportunity: str
    status: str  # invoiced | already_invoiced | skipped | failed
    invoice_number: str
    customer: str
    created: bool
    error: str
    field: str | None


# --- the workflows (the steps are invoicing's) --------------------------------------------------------------


@DBOS.workflow(name=FLOW)
def opportunity_to_invoice(opportunity_id: str) -> Outcome:
    # The invoice's PDF is attached to the deal once the invoice exists (its own run, once).
    return cast(Outcome, invoicing.invoice_records(SOURCE, [opportunity_id], invoice_pdf.after_invoice)[0])


@DBOS.workflow(name=f"{FLOW}_batch")
def opportunity_to_invoice_batch(opportunity_ids: list[str]) -> list[Outcome]:
    """Many opportunities of one shard in one run: the change-event trigger's runs, so a burst of deals costs a
    few checkpoints per batch instead of per deal."""
    return cast(list[Outcome], invoicing.invoice_records(SOURCE, opportunity_ids, invoice_pdf.after_invoice))


def workflow_id(opportunity_id: str, version: str) -> str:
    """One run per (opportunity, modification): a later edit may need a new run; the ledger keeps it idempotent."""
    return f"{FLOW}:{opportunity_id}:{version}"


def enqueue(opportunity_id: str, version: str, priority: int = REALTIME_PRIORITY) -> WorkflowHandle[Outcome]:
    return invoicing.enqueue_run(
        opportunity_to_invoice, FLOW, opportunity_id, workflow_id(opportunity_id, version), priority
    )


WATERMARK = "salesforce.Opportunity.won"
WON = "IsWon = true"  # the deals this flow invoices (its trigger, pending list and probe read the same)
POLL_PAGE = 2000


@_step
def read_won_page(deps: Deps, lag_seconds: float) -> dict[str, Any]:
    """The next page of opportunities won (or edited while won) after the watermark, oldest first.

    Opportunities already linked to an invoice whose number is written back are left out of ``records``
    (their newest change is most likely LedgerLink's own write-back) but still move ``position`` on.
    """
    return invoicing.read_page(deps, SOURCE, WATERMARK, WON, lag_seconds, POLL_PAGE)


@DBOS.workflow(name="poll_won_opportunities")
def poll_won_opportunities(lag_seconds: float) -> dict[str, list[str]]:
    """The polling trigger, itself durable: each page is enqueued, in batch runs by shard, before the watermark
    moves past it, so a worker killed mid-poll resumes exactly there. Returns the runs it started, with their
    opportunity ids."""
    deps = current_deps()
    read = functools.partial(read_won_page, deps)
    save = functools.partial(ledger_steps.save_watermark, deps, WATERMARK)
    return drain(FLOW, read, save, lag_seconds, POLL_PAGE)


def poll_won(*, lag_seconds: float | None = None) -> list[WorkflowHandle[Outcome]]:
    """Run the polling trigger now and return a handle per opportunity it handed on (the demo and tests use
    this): each one's result is that opportunity's outcome in its batch run."""
    lag = current().settings.poll_lag_seconds if lag_seconds is None else lag_seconds
    return record_handles(wait_for(DBOS.start_workflow(poll_won_opportunities, lag)))


def replay(opportunity_id: str) -> WorkflowHandle[Outcome]:
    """Run the current mapping and code again for one record (idempotent: the ledger remembers what exists)."""
    return enqueue(opportunity_id, f"replay-{uuid.uuid4().hex[:12]}")


register(
    Flow(
        name=FLOW,
        batch=opportunity_to_invoice_batch,
        writes_to=ACCOUNTING,
        description="Opportunity Closed Won → sales invoice, number written back",
        source=(CRM, "Opportunity"),
        watermark=WATERMARK,
        replay=replay,
        pending=lambda deps, limit: invoicing.pending(deps, SOURCE, WATERMARK, WON, limit),
        preview=lambda deps, ids: invoicing.preview(deps, SOURCE, ids),
        poll=poll_won,
        trigger=poll_won_opportunities,
        probe=lambda lag: salesforce_changed(current_deps(), SOURCE.sobject, WATERMARK, WON, lag),
        enabled=lambda settings: settings.is_enabled(FLOW),
    )
)
