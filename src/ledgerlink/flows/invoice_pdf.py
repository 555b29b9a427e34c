"""An invoice's PDF → a Salesforce file on the Opportunity it was made from, once.

Trigger: Opportunities whose invoice number has been written back (``SystemModstamp`` watermark, as the
Opportunity poll), leaving out those whose file the ledger already records; or, chained, ``after_invoice`` from
the invoice flow. A run: the invoice number from the ledger → the file already linked in the ledger, else found by
SOQL (``FirstPublishLocationId`` + title, for a crash between create and ledger write), else the books' PDF (or one
LedgerLink renders when the books have none) created as a ``ContentVersion`` with ``FirstPublishLocationId``.
"""

from __future__ import annotations

import base64
import functools
import threading
import uuid
from typing import Any, TypedDict

from dbos import DBOS, WorkflowHandle

from ledgerlink.engine import fanout
from ledgerlink.engine.flows import BACKGROUND, Flow, register
from ledgerlink.engine.polling import drain, record_handles
from ledgerlink.engine.retry import durable_step, with_retries
from ledgerlink.engine.runtime import (
    CRM,
    REALTIME_PRIORITY,
    current,
    enqueue_batch,
    enqueue_record,
    shard_key,
    wait_for,
)
from ledgerlink.flows._errors import FLOW_ERRORS, RecordRejected, error_result
from ledgerlink.flows._ledger_steps import fail, save_watermark
from ledgerlink.flows._probes import salesforce_changed
from ledgerlink.flows.deps import Deps, current_deps
from ledgerlink.flows.invoicing import INVOICE_NUMBER_FIELD, INVOICED
from ledgerlink.render.pdf import invoice_pdf as render_invoice_pdf
from ledgerlink.systems.salesforce import soql as literal
from ledgerlink.systems.salesforce.client import COLLECTION_SIZE
from ledgerlink.systems.salesforce.incremental import Position, incremental_soql, soql_datetime, upper_bound

FLOW = "invoice_pdf"
WATERMARK = "salesforce.Opportunity.invoiced"
POLL_PAGE = 2000

_step = durable_step

# Opportunities whose chained PDF run this process enqueued and no run has taken yet, by shard. A run takes the
# others of its shard too, up to one Collections insert's worth: the lane yields to the invoices during a flood
# (engine.queue_wake.YieldingStop), and the backlog left then drains in a few big runs, not thousands of small ones;
# the runs whose records were taken find their files in the ledger and only read. Their shard never runs two PDF
# runs at once, so a taken record's own run never overlaps the run that took it.
_pending: dict[str, dict[str, None]] = {}
_pending_lock = threading.Lock()
PENDING_PER_SHARD = 10_000  # what a shard remembers at most (the oldest forgotten first: their own runs still come)


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


def _files_found(deps: Deps, opportunity_ids: list[str], numbers: dict[str, str]) -> dict[str, str]:
    """The files an earlier attempt made for these Opportunities' invoices (``FirstPublishLocationId`` and the
    invoice's title), found by SOQL, one query per 200."""
    found: dict[str, str] = {}
    for start in range(0, len(opportunity_ids), 200):
        chunk = literal.id_list(opportunity_ids[start : start + 200])
        for row in deps.crm.query(
            "SELECT Id, FirstPublishLocationId, Title FROM ContentVersion "
            f"WHERE FirstPublishLocationId IN ({chunk}) AND IsLatest = true"
        ):
            opportunity_id = str(row["FirstPublishLocationId"])
            if row["Title"] == title(numbers[opportunity_id]):
                found.setdefault(opportunity_id, str(row["Id"]))
    return found


# One sObject Collections insert carries at most this much file data: Salesforce takes blob fields as base64 in a
# JSON body (not multipart) up to 37.5 MB a request ("Insert or Update Blob Data", REST API guide).
COLLECTION_BYTES = 30_000_000


def _file_record(deps: Deps, opportunity_id: str, number: str, body: bytes, rendered: bool) -> dict[str, Any]:
    return {
        "Title": title(number),
        "PathOnClient": f"invoice-{number}.pdf",
        "VersionData": base64.b64encode(body).decode("ascii"),
        "FirstPublishLocationId": opportunity_id,
        "Description": f"{deps.books.name} invoice {number}" + (", rendered by LedgerLink" if rendered else ""),
    }


def _in_calls(records: list[tuple[str, dict[str, Any]]]) -> list[list[tuple[str, dict[str, Any]]]]:
    """The records as sObject Collections calls: 200 records, and COLLECTION_BYTES of file data, at most each."""
    calls: list[list[tuple[str, dict[str, Any]]]] = []
    size = 0
    for item in records:
        length = len(item[1]["VersionData"])
        if not calls or len(calls[-1]) == COLLECTION_SIZE or size + length > COLLECTION_BYTES:
            calls.append([])
            size = 0
        calls[-1].append(item)
        size += length
    return calls


def _create_files(
    deps: Deps, pdfs: dict[str, tuple[bytes, bool]], numbers: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """The files for ``pdfs`` (opportunity id → (PDF, rendered by us)), made in as few calls as Salesforce allows.
    A call that fails as a whole is tried again, after looking for the files an attempt before it may have made
    and lost the reply of (by SOQL), so a retry never makes a second file."""
    results: dict[str, dict[str, Any]] = {}
    pending = dict(pdfs)
    tries = 0

    def attempt() -> None:
        nonlocal tries
        tries += 1
        if tries > 1:
            for opportunity_id, version_id in _files_found(deps, list(pending), numbers).items():
                results[opportunity_id] = {
                    "id": version_id, "number": numbers[opportunity_id], "created": False, "rendered": False,
                }  # fmt: skip
                del pending[opportunity_id]
        records = [
            (i, _file_record(deps, i, numbers[i], body, rendered)) for i, (body, rendered) in list(pending.items())
        ]
        for call in _in_calls(records):
            replies = deps.crm.create_many("ContentVersion", [record for _, record in call])
            for (opportunity_id, _record), reply in zip(call, replies, strict=True):
                body, rendered = pending.pop(opportunity_id)
                results[opportunity_id] = _made(opportunity_id, numbers[opportunity_id], reply, body, rendered)

    try:
        with_retries(attempt)()
    except FLOW_ERRORS as exc:
        for opportunity_id in pending:
            results[opportunity_id] = error_result(exc, record=f"Opportunity {opportunity_id}")
    return results


def _made(opportunity_id: str, number: str, reply: dict[str, Any], body: bytes, rendered: bool) -> dict[str, Any]:
    """One file's result from its element of the collection's reply."""
    if reply.get("success"):
        return {"id": str(reply["id"]), "number": number, "created": True, "rendered": rendered, "bytes": len(body)}
    errors = [e for e in reply.get("errors") or [] if isinstance(e, dict)]
    message = "; ".join(f"{e.get('statusCode', '')}: {e.get('message', '')}" for e in errors) or "refused"
    fields = [str(f) for e in errors for f in e.get("fields") or []]
    refused = RecordRejected(f"Salesforce refused the invoice's file: {message}", field=fields[0] if fields else None)
    return error_result(refused, record=f"Opportunity {opportunity_id}")


# --- steps ---------------------------------------------------------------------------------------------------


def note_pending(opportunity_ids: list[str]) -> None:
    """Their PDF run is enqueued (chained): a run of their shard that starts first may take them."""
    with _pending_lock:
        for opportunity_id in opportunity_ids:
            waiting = _pending.setdefault(shard_key(FLOW, opportunity_id), {})
            waiting[opportunity_id] = None
            if len(waiting) > PENDING_PER_SHARD:
                del waiting[next(iter(waiting))]


def take_pending(opportunity_ids: list[str]) -> list[str]:
    """The others of these opportunities' shard waiting for their run, up to COLLECTION_SIZE in all with them;
    these leave the waiting list."""
    if not opportunity_ids:
        return []
    with _pending_lock:
        waiting = _pending.get(shard_key(FLOW, opportunity_ids[0]))
        if not waiting:
            return []
        for opportunity_id in opportunity_ids:
            waiting.pop(opportunity_id, None)
        room = max(0, COLLECTION_SIZE - len(opportunity_ids))
        taken = list(waiting)[:room]
        for opportunity_id in taken:
            del waiting[opportunity_id]
    return taken


@_step
def ensure_files(deps: Deps, opportunity_ids: list[str], run_id: str) -> list[dict[str, Any]]:
    """From the ledger's invoice number to the file's link, for each opportunity of a batch, inside one step (the
    PDF's bytes never land in DBOS's checkpoints). Each ends as its result or its ``error``. The step also makes
    the files of its shard's other waiting opportunities (``take_pending``); their own runs report on them.

    The ledger is read and written a batch at a time. Files the ledger doesn't know are looked for by SOQL (one
    query for the batch: an earlier attempt may have made one and died before its ledger write). The PDFs of the
    rest are fetched a few at once, each retried on its own, and their files made in one sObject Collections call
    per 200 (``_create_files``)."""
    books, ledger = deps.books, deps.ledger
    own = len(opportunity_ids)
    opportunity_ids = [*opportunity_ids, *take_pending(opportunity_ids)]
    refused: dict[str, dict[str, Any]] = {}
    for opportunity_id in opportunity_ids:
        try:
            literal.record_id(opportunity_id)  # ids reach SOQL below
        except FLOW_ERRORS as exc:
            refused[opportunity_id] = error_result(exc, record=f"Opportunity {opportunity_id}")
    ids = [i for i in opportunity_ids if i not in refused]
    numbers = ledger.lookup_many("salesforce", "Opportunity", ids, books.name, books.invoice_object)
    known = ledger.lookup_many("salesforce", "Opportunity", ids, "salesforce", "ContentVersion")
    to_make = [i for i in ids if i in numbers and i not in known]
    found = _files_found(deps, to_make, numbers) if to_make else {}

    def settled(opportunity_id: str) -> dict[str, Any] | None:
        """The result of a record that needs no new file (refused, not invoiced, or its file is known)."""
        number = numbers.get(opportunity_id)
        if opportunity_id in refused:
            return refused[opportunity_id]
        if number is None:
            return error_result(
                RecordRejected("has no invoice made by LedgerLink", field=INVOICE_NUMBER_FIELD),
                record=f"Opportunity {opportunity_id}",
            )
        if opportunity_id in known:
            return {"id": known[opportunity_id], "number": number, "created": False, "rendered": False, "known": True}
        if opportunity_id in found:
            return {"id": found[opportunity_id], "number": number, "created": False, "rendered": False}
        return None

    done = {i: result for i in opportunity_ids if (result := settled(i)) is not None}
    to_attach = [i for i in dict.fromkeys(opportunity_ids) if i not in done]

    def fetch(opportunity_id: str) -> tuple[bytes, bool] | dict[str, Any]:
        try:
            return with_retries(_pdf)(deps, numbers[opportunity_id])
        except FLOW_ERRORS as exc:
            return error_result(exc, record=f"Opportunity {opportunity_id}")

    pdfs: dict[str, tuple[bytes, bool]] = {}
    for opportunity_id, fetched in zip(to_attach, fanout.each(fetch, to_attach, str), strict=True):
        if isinstance(fetched, dict):
            done[opportunity_id] = fetched
        else:
            pdfs[opportunity_id] = fetched
    done.update(_create_files(deps, pdfs, numbers))
    results = [done[i] for i in opportunity_ids]
    outcomes = list(zip(opportunity_ids, results, strict=True))
    # A taken opportunity that failed is left to its own run (which retries it and records the failure).
    outcomes = outcomes[:own] + [(i, r) for i, r in outcomes[own:] if "error" not in r]
    made = [(i, r) for i, r in outcomes if "error" not in r and not r.get("known")]
    ledger.link_all([(("salesforce", "Opportunity", i), ("salesforce", "ContentVersion", r["id"])) for i, r in made])
    ledger.audit_all(
        [
            {
                "flow": FLOW,
                "system": "salesforce",
                "obj": "ContentVersion",
                "record_id": r["id"],
                "action": "created" if r["created"] else "matched",
                "run_id": run_id,
                "source_id": i,
                "detail": {"invoice": r["number"], "bytes": r.get("bytes"), "rendered": r["rendered"]},
            }
            for i, r in made
        ]
    )
    ledger.resolve_failures(FLOW, [i for i, r in outcomes if "error" not in r])
    return results[:own]


def _pdf(deps: Deps, number: str) -> tuple[bytes, bool]:
    """(PDF bytes, rendered by us): the books' own PDF unless they have none or the project prefers ours."""
    books = deps.books
    if deps.settings.invoice_pdf_source != "render":
        body = books.invoice_pdf(number)
        if body is not None:
            return body, False
    invoice = books.get_invoice(number)
    if invoice is None:
        raise RecordRejected(f"invoice {number} is not in the books", field=INVOICE_NUMBER_FIELD)
    return render_invoice_pdf(invoice), True


# --- the workflow --------------------------------------------------------------------------------------------


def _outcome(deps: Deps, opportunity_id: str, made: dict[str, Any]) -> Outcome:
    if "error" in made:
        fail(deps, FLOW, ("salesforce", "Opportunity", opportunity_id), made["error"], made["field"], made["attempts"])
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
    deps = current_deps()
    return [_outcome(deps, i, made) for i, made in zip(ids, ensure_files(deps, ids, run_id), strict=True)]


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
        connection=CRM,
        priority=priority,
        lane=BACKGROUND,
    )


def replay(opportunity_id: str) -> WorkflowHandle[Outcome]:
    return enqueue(opportunity_id, f"replay-{uuid.uuid4().hex[:12]}")


def after_invoice(opportunity_ids: list[str]) -> None:
    """The chained trigger, for the invoice workflow to call once its invoices exist: one run for the batch (an
    invoice run's records share a shard, so they share this flow's too), with an id derived from the invoice
    run's, so a recovered invoice run enqueues the same PDF run, not a second one."""
    if not current_deps().settings.invoice_pdf:
        return
    if len(opportunity_ids) == 1:  # a one-record run: the PDF run's id names the record, as the console shows it
        enqueue(opportunity_ids[0], "invoiced")
    else:
        run_id = chained_run_id(DBOS.workflow_id or "", opportunity_ids)
        enqueue_batch(invoice_pdf_batch, FLOW, opportunity_ids, workflow_id=run_id, connection=CRM, lane=BACKGROUND)
    note_pending(opportunity_ids)


def chained_run_id(invoice_run_id: str, opportunity_ids: list[str]) -> str:
    """The id of the PDF run ``after_invoice`` chains from the invoice run ``invoice_run_id`` for the opportunities
    it invoiced (a list of outcomes for many, one outcome for one)."""
    if len(opportunity_ids) == 1:
        return workflow_id(opportunity_ids[0], "invoiced")
    return f"{FLOW}:{invoice_run_id}"


# --- the polling trigger -------------------------------------------------------------------------------------


@_step
def read_invoiced_page(deps: Deps, lag_seconds: float) -> dict[str, Any]:
    """The next page of Opportunities carrying an invoice number; those without a LedgerLink invoice, or whose
    file the ledger records, are left out of ``records`` but move ``position`` on."""
    books = deps.books
    since = Position.decode(deps.ledger.get_watermark(WATERMARK))
    soql = incremental_soql("Opportunity", [INVOICE_NUMBER_FIELD], INVOICED, since, upper_bound(lag_seconds))
    page = list(deps.crm.query(f"{soql} LIMIT {POLL_PAGE}"))
    ids = [r["Id"] for r in page]
    invoiced = deps.ledger.lookup_many("salesforce", "Opportunity", ids, books.name, books.invoice_object)
    attached = deps.ledger.lookup_many("salesforce", "Opportunity", ids, "salesforce", "ContentVersion")
    todo = [
        {"Id": r["Id"], "SystemModstamp": r["SystemModstamp"]}
        for r in page
        if r["Id"] in invoiced and r["Id"] not in attached
    ]
    position = Position(soql_datetime(page[-1]["SystemModstamp"]), page[-1]["Id"]).encode() if page else None
    return {"records": todo, "position": position, "seen": len(page)}


@DBOS.workflow(name="poll_invoiced_opportunities")
def poll_invoiced_opportunities(lag_seconds: float) -> dict[str, list[str]]:
    deps = current_deps()
    read = functools.partial(read_invoiced_page, deps)
    save = functools.partial(save_watermark, deps, WATERMARK)
    return drain(FLOW, read, save, lag_seconds, POLL_PAGE)


def poll(*, lag_seconds: float | None = None) -> list[WorkflowHandle[Outcome]]:
    """Run the polling trigger now; a handle per opportunity it handed on."""
    rt = current()
    if not rt.settings.flows.invoice_pdf:
        return []
    lag = rt.settings.poll_lag_seconds if lag_seconds is None else lag_seconds
    return record_handles(wait_for(DBOS.start_workflow(poll_invoiced_opportunities, lag)))


register(
    Flow(
        name=FLOW,
        batch=invoice_pdf_batch,
        writes_to=CRM,
        lane=BACKGROUND,  # nobody waits on a PDF: it must not slow the invoices' write-back
        description="Invoice PDF (the books', else rendered) → a file on the Opportunity, once",
        source=(CRM, "Opportunity"),
        watermark=WATERMARK,
        replay=replay,
        poll=poll,
        trigger=poll_invoiced_opportunities,
        probe=lambda lag: salesforce_changed(current_deps(), "Opportunity", WATERMARK, INVOICED, lag),
        enabled=lambda settings: settings.invoice_pdf,
    )
)
