"""An invoice's PDF → a Salesforce file on the Opportunity it was made from, once.

Trigger: Opportunities whose invoice number has been written back (``SystemModstamp`` watermark, as the
Opportunity poll), leaving out those whose file the ledger already records; or, chained, ``after_invoice`` from
the invoice flow. A run: the invoice number from the ledger → the file already linked in the ledger, else found by
SOQL (``FirstPublishLocationId`` + title, for a crash between create and ledger write), else the books' PDF (or one
LedgerLink renders when the books have none) created as a ``ContentVersion`` with ``FirstPublishLocationId``.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any, TypedDict

from dbos import DBOS, WorkflowHandle

from ledgerlink.connectors.salesforce import soql as literal
from ledgerlink.engine import fanout
from ledgerlink.engine.polling import Position, drain, incremental_soql, soql_datetime, upper_bound
from ledgerlink.engine.retry import durable_step, with_retries
from ledgerlink.engine.runtime import (
    REALTIME_PRIORITY,
    SALESFORCE,
    current,
    enqueue_batch,
    enqueue_record,
    shard_key,
    wait_for,
)
from ledgerlink.flows._errors import FLOW_ERRORS, RecordRejected, describe
from ledgerlink.flows._ledger_steps import fail, save_watermark
from ledgerlink.render.pdf import invoice_pdf as render_invoice_pdf

FLOW = "invoice_pdf"
WATERMARK = "salesforce.Opportunity.invoiced"
POLL_PAGE = 2000
INVOICE_NUMBER_FIELD = "KashFlow_Invoice_Number__c"  # the invoice flow writes it back (for Kashoo too)

_step = durable_step


class Outcome(TypedDict, total=False):
    opportunity: str
    status: str  # attached | already_attached | failed
    invoice_number: str
    content_version: str
    rendered: bool  # LedgerLink made the PDF (the books gave none, or the project asks for ours)
    error: str
    field: str | None


def title(number: str) -> str:
    return f"Invoice {number}"


def attached_file(opportunity_id: str) -> str | None:
    """The ContentVersion the ledger records for this Opportunity's invoice (one invoice per Opportunity)."""
    return current().ledger.lookup("salesforce", "Opportunity", opportunity_id, "salesforce", "ContentVersion")


# --- steps ---------------------------------------------------------------------------------------------------


def invoice_number(opportunity_id: str) -> str:
    books = current().accounting
    number = current().ledger.lookup("salesforce", "Opportunity", opportunity_id, books.name, books.invoice_object)
    if number is None:
        raise RecordRejected("has no invoice made by LedgerLink", field=INVOICE_NUMBER_FIELD)
    return number


def ensure_file(opportunity_id: str, run_id: str) -> dict[str, Any]:
    """From the ledger's invoice number to the file's link, inside a step: the PDF's bytes never land in DBOS's
    checkpoints."""
    rt = current()
    number = invoice_number(opportunity_id)
    known = attached_file(opportunity_id)
    if known:
        rt.ledger.resolve_failure(FLOW, opportunity_id)
        return {"id": known, "number": number, "created": False, "rendered": False}
    found = list(
        rt.salesforce.query(
            "SELECT Id FROM ContentVersion WHERE FirstPublishLocationId = "
            f"'{literal.record_id(opportunity_id)}' AND Title = '{literal.escape(title(number))}' AND IsLatest = true"
        )
    )
    if found:
        version_id, created, rendered, size = str(found[0]["Id"]), False, False, None
    else:
        body, rendered = _pdf(number)
        version_id = rt.salesforce.create(
            "ContentVersion",
            {
                "Title": title(number),
                "PathOnClient": f"invoice-{number}.pdf",
                "VersionData": base64.b64encode(body).decode("ascii"),
                "FirstPublishLocationId": opportunity_id,
                "Description": f"{rt.accounting.name} invoice {number}"
                + (", rendered by LedgerLink" if rendered else ""),
            },
        )
        created, size = True, len(body)
    rt.ledger.link(("salesforce", "Opportunity", opportunity_id), ("salesforce", "ContentVersion", version_id))
    rt.ledger.audit(
        flow=FLOW,
        system="salesforce",
        obj="ContentVersion",
        record_id=version_id,
        action="created" if created else "matched",
        run_id=run_id,
        source_id=opportunity_id,
        detail={"invoice": number, "bytes": size, "rendered": rendered},
    )
    rt.ledger.resolve_failure(FLOW, opportunity_id)
    return {"id": version_id, "number": number, "created": created, "rendered": rendered}


@_step
def ensure_files(opportunity_ids: list[str], run_id: str) -> list[dict[str, Any]]:
    """``ensure_file`` for each opportunity of a batch, a few at once, each retried on its own and ending as its
    result or its ``error``: one checkpoint per batch is all this flow costs."""

    def one(opportunity_id: str) -> dict[str, Any]:
        try:
            return with_retries(ensure_file)(literal.record_id(opportunity_id), run_id)
        except FLOW_ERRORS as exc:
            message, field, attempts = describe(exc, record=f"Opportunity {opportunity_id}")
            return {"error": message, "field": field, "attempts": attempts}

    return fanout.each(one, opportunity_ids, str)


def _pdf(number: str) -> tuple[bytes, bool]:
    """(PDF bytes, rendered by us): the books' own PDF unless they have none or the project prefers ours."""
    books = current().accounting
    if current().settings.flows.invoice_pdf_source != "render":
        body = books.invoice_pdf(number)
        if body is not None:
            return body, False
    invoice = books.get_invoice(number)
    if invoice is None:
        raise RecordRejected(f"invoice {number} is not in the books", field=INVOICE_NUMBER_FIELD)
    return render_invoice_pdf(invoice), True


# --- the workflow --------------------------------------------------------------------------------------------


def _outcome(opportunity_id: str, made: dict[str, Any]) -> Outcome:
    if "error" in made:
        fail(FLOW, ("salesforce", "Opportunity", opportunity_id), made["error"], made["field"], made["attempts"])
        return {"opportunity": opportunity_id, "status": "failed", "error": made["error"], "field": made["field"]}
    return {
        "opportunity": opportunity_id,
        "status": "attached" if made["created"] else "already_attached",
        "invoice_number": made["number"],
        "content_version": made["id"],
        "rendered": bool(made["rendered"]),
    }


def attach_files(opportunity_ids: list[str]) -> list[Outcome]:
    """The workflows' body: the files, then a failed record for each that could not be made."""
    run_id = DBOS.workflow_id or ""
    ids = list(dict.fromkeys(opportunity_ids))
    return [_outcome(i, made) for i, made in zip(ids, ensure_files(ids, run_id), strict=True)]


@DBOS.workflow(name=FLOW)
def invoice_pdf(opportunity_id: str) -> Outcome:
    return attach_files([opportunity_id])[0]


@DBOS.workflow(name=f"{FLOW}_batch")
def invoice_pdf_batch(opportunity_ids: list[str]) -> list[Outcome]:
    """The files of a batch of opportunities of one shard (the invoice flow chains one per batch it invoiced)."""
    return attach_files(opportunity_ids)


def workflow_id(opportunity_id: str, version: str) -> str:
    return f"{FLOW}:{opportunity_id}:{version}"


def enqueue(opportunity_id: str, version: str, priority: int = REALTIME_PRIORITY) -> WorkflowHandle[Outcome]:
    # In the opportunity's shard: its PDF runs never overlap (two could both attach the file).
    return enqueue_record(
        invoice_pdf,
        opportunity_id,
        workflow_id=workflow_id(opportunity_id, version),
        record_key=shard_key(FLOW, opportunity_id),
        connection=SALESFORCE,
        priority=priority,
    )


def replay(opportunity_id: str) -> WorkflowHandle[Outcome]:
    return enqueue(opportunity_id, f"replay-{uuid.uuid4().hex[:12]}")


def after_invoice(opportunity_ids: list[str]) -> None:
    """The chained trigger, for the invoice workflow to call once its invoices exist: one run for the batch (an
    invoice run's records share a shard, so they share this flow's too), with an id derived from the invoice
    run's, so a recovered invoice run enqueues the same PDF run, not a second one."""
    if not current().settings.flows.invoice_pdf:
        return
    if len(opportunity_ids) == 1:  # a one-record run: the PDF run's id names the record, as the console shows it
        enqueue(opportunity_ids[0], "invoiced")
        return
    enqueue_batch(
        invoice_pdf_batch, FLOW, opportunity_ids, workflow_id=f"{FLOW}:{DBOS.workflow_id}", connection=SALESFORCE
    )


# --- the polling trigger -------------------------------------------------------------------------------------


@_step
def read_invoiced_page(lag_seconds: float) -> dict[str, Any]:
    """The next page of Opportunities carrying an invoice number; those without a LedgerLink invoice, or whose
    file the ledger records, are left out of ``records`` but move ``position`` on."""
    rt = current()
    books = rt.accounting
    since = Position.decode(rt.ledger.get_watermark(WATERMARK))
    where = f"{INVOICE_NUMBER_FIELD} != null"
    soql = incremental_soql("Opportunity", [INVOICE_NUMBER_FIELD], where, since, upper_bound(lag_seconds))
    page = list(rt.salesforce.query(f"{soql} LIMIT {POLL_PAGE}"))
    todo = [
        {"Id": r["Id"], "SystemModstamp": r["SystemModstamp"]}
        for r in page
        if rt.ledger.lookup("salesforce", "Opportunity", r["Id"], books.name, books.invoice_object)
        and not attached_file(r["Id"])
    ]
    position = Position(soql_datetime(page[-1]["SystemModstamp"]), page[-1]["Id"]).encode() if page else None
    return {"records": todo, "position": position, "seen": len(page)}


def save_position(position: str) -> None:
    save_watermark(WATERMARK, position)


@DBOS.workflow(name="poll_invoiced_opportunities")
def poll_invoiced_opportunities(lag_seconds: float) -> list[str]:
    return drain(read_invoiced_page, enqueue, save_position, lag_seconds, POLL_PAGE)


def poll(*, lag_seconds: float | None = None) -> list[WorkflowHandle[Outcome]]:
    """Run the polling trigger now; handles on the runs it started."""
    rt = current()
    if not rt.settings.flows.invoice_pdf:
        return []
    lag = rt.settings.poll_lag_seconds if lag_seconds is None else lag_seconds
    ids = wait_for(DBOS.start_workflow(poll_invoiced_opportunities, lag))
    return [DBOS.retrieve_workflow(workflow_id) for workflow_id in ids]
