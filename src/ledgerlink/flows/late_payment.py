"""Late payment → a Case on the Account, once per invoice; closed when the invoice is paid.

Trigger: a scheduled check. One step asks the books for their unpaid invoices (the books say how late,
by their own clock) and Salesforce for LedgerLink's open Cases; then the invoices overdue by at least
``FlowSettings.late_payment_days`` that have no Case yet go on in batch runs (``EngineSettings.backfill_batch``
invoices of one shard each: a first check after a backfill of old invoices finds hundreds, and a run per invoice
cost three Salesforce calls and three checkpoints each), and one run per open Case whose invoice is no longer unpaid.
A batch run reads its invoices' deals in one query, looks for their Cases' markers in one, and creates the missing
Cases in one sObject Collections call.

A Case is tracked in the ledger (linked to the Opportunity the invoice was made from, or, for an invoice imported
from the books without a deal, to its ``Invoice__c``) and carries a marker in its Subject,
``[ledgerlink <system> invoice <number>]``, by which a run finds a Case created just before a crash.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, TypedDict, cast

from dbos import DBOS, SetWorkflowID, WorkflowHandle

from ledgerlink.engine.flows import Flow, register
from ledgerlink.engine.polling import backfill_limits, batch_run_id, record_handles, shard_batches
from ledgerlink.engine.retry import BATCH_WRITE_RETRY, durable_step, ledger_step, with_retries
from ledgerlink.engine.runtime import ACCOUNTING, CRM, enqueue_record, shard_key, wait_for
from ledgerlink.flows._errors import FLOW_ERRORS, RecordRejected, describe, error_result
from ledgerlink.flows._ledger_steps import fail, resolve_failure
from ledgerlink.flows.deps import Deps, current_deps
from ledgerlink.flows.invoicing import read_records
from ledgerlink.flows.sync.salesforce_writes import Batch
from ledgerlink.systems.accounting import InvoiceDue
from ledgerlink.systems.errors import PermanentError, TransientError
from ledgerlink.systems.salesforce import soql as literal

FLOW = "late_payment"
CLOSE_FLOW = "late_payment_close"
WATERMARK = "late_payment.checked"  # when the last check ran (the check reads everything each time)
MARKER_PREFIX = "[ledgerlink "

_step = durable_step


class Outcome(TypedDict, total=False):
    invoice_number: str
    case: str
    status: str  # opened | already_open | closed | already_closed | still_unpaid | failed
    error: str
    field: str | None


def marker(deps: Deps, number: str) -> str:
    return f"{MARKER_PREFIX}{deps.books.name} invoice {number}]"


def _sources(deps: Deps, numbers: list[str]) -> dict[str, tuple[str, str]]:
    """What each invoice's Case hangs on, by number: its Opportunity, else the ``Invoice__c`` it was imported as
    (``invoices`` flow, for invoices LedgerLink didn't make). Invoices Salesforce has never seen are left out."""
    books, ledger = deps.books, deps.ledger
    opportunities = ledger.lookup_many(books.name, books.invoice_object, numbers, "salesforce", "Opportunity")
    rest = [n for n in numbers if n not in opportunities]
    records = ledger.lookup_many(books.name, books.invoice_object, rest, "salesforce", "Invoice__c") if rest else {}
    sources = {number: ("Opportunity", source) for number, source in opportunities.items()}
    sources.update({number: ("Invoice__c", source) for number, source in records.items()})
    return sources


def _cases(deps: Deps, sources: dict[str, tuple[str, str]]) -> dict[str, str]:
    """The Case the ledger links to each invoice's source, by number (those that have one)."""
    cases: dict[str, str] = {}
    for sobject in ("Opportunity", "Invoice__c"):
        of = {number: source for number, (kind, source) in sources.items() if kind == sobject}
        if of:
            linked = deps.ledger.lookup_many("salesforce", sobject, of.values(), "salesforce", "Case")
            cases.update({number: linked[source] for number, source in of.items() if source in linked})
    return cases


def _without_case(deps: Deps, numbers: list[str]) -> set[str]:
    """Of these invoice numbers, those whose source (``_sources``) has no Case yet; invoices Salesforce has never
    seen are left out. A few queries for all of them (a check reads every unpaid invoice), not two or three each."""
    sources = _sources(deps, numbers)
    return set(sources) - set(_cases(deps, sources))


def _numbers_of_cases(deps: Deps, case_ids: list[str]) -> dict[str, str]:
    """The invoice number of each Case the ledger links to an invoice's source, by Case id (two queries per
    source object for all of them: a check looks at every open Case)."""
    books, ledger = deps.books, deps.ledger
    numbers: dict[str, str] = {}
    rest = list(case_ids)
    for sobject in ("Opportunity", "Invoice__c"):
        sources = ledger.lookup_many("salesforce", "Case", rest, "salesforce", sobject) if rest else {}
        invoices = ledger.lookup_many("salesforce", sobject, sources.values(), books.name, books.invoice_object)
        numbers.update({case: invoices[source] for case, source in sources.items() if source in invoices})
        rest = [case for case in rest if case not in sources]
    return numbers


def _number_of_case(deps: Deps, case_id: str) -> str | None:
    return _numbers_of_cases(deps, [case_id]).get(case_id)


# --- the check -----------------------------------------------------------------------------------------------


@_step
def find_work(deps: Deps, min_days: int) -> dict[str, Any]:
    """Invoices to open a Case for (each as ``_item`` gives it), and open Cases to look at because their invoice is
    no longer unpaid."""
    books = deps.books
    unpaid = books.unpaid_invoices()
    overdue = [due for due in unpaid if due.days_overdue >= min_days]
    without = _without_case(deps, [due.number for due in overdue])
    to_open = [_item(due) for due in overdue if due.number in without]
    owed = {due.number for due in unpaid}
    query = (
        "SELECT Id, Subject FROM Case WHERE IsClosed = false AND Subject LIKE "
        f"'%{literal.escape_like(f'{MARKER_PREFIX}{books.name} invoice ')}%'"
    )
    still_open = [str(case["Id"]) for case in deps.crm.query(query)]
    numbers = _numbers_of_cases(deps, still_open)
    to_close = [case for case in still_open if case in numbers and numbers[case] not in owed]
    return {"open": to_open, "close": to_close}


def _item(due: InvoiceDue) -> dict[str, Any]:
    """An overdue invoice as a run gets it: as the check read it from the books (a run started by a replay has only
    ``number`` and ``days``, and reads the rest itself)."""
    return {
        "number": due.number,
        "days": due.days_overdue,
        "due_date": due.due_date.isoformat(),
        "owed": f"{due.currency} {due.balance:.2f}".strip(),
    }


@ledger_step
def save_checked(deps: Deps, at: str) -> None:
    deps.ledger.set_watermark(WATERMARK, at)


class Started(TypedDict):
    open: dict[str, list[str]]  # batch run id -> the invoice numbers it opens Cases for, in order
    close: list[str]  # run ids, one per Case to close


@DBOS.workflow(name="check_late_payments")
def check_late_payments(lag_seconds: float = 0.0) -> Started:
    del lag_seconds  # the trigger contract; a check reads everything unpaid each time
    check_id = DBOS.workflow_id or uuid.uuid4().hex
    deps = current_deps()
    work = find_work(deps, deps.settings.late_payment_days)
    _window, batch_size = backfill_limits()
    items = {item["number"]: item for item in work["open"]}
    # One run per invoice and day of lateness: the days are the batch's version, so a second check the same day
    # hands on the same batches (the same run ids) and starts nothing.
    changes = [(number, str(item["days"])) for number, item in items.items()]
    opened: dict[str, list[str]] = {}
    for batch in shard_batches(FLOW, changes, batch_size):
        numbers = [number for number, _ in batch]
        run = enqueue_record(
            late_payment_batch,
            [items[number] for number in numbers],
            workflow_id=batch_run_id(FLOW, batch),
            record_key=shard_key(FLOW, numbers[0]),
            connection=CRM,
        )
        opened[run.get_workflow_id()] = numbers
    closing = []
    for case_id in work["close"]:
        handle = enqueue_record(
            late_payment_close,
            case_id,
            workflow_id=f"{CLOSE_FLOW}:{case_id}:{check_id}",
            record_key=f"case:{case_id}",
            connection=CRM,
        )
        closing.append(handle.get_workflow_id())
    save_checked(deps, check_id)
    return {"open": opened, "close": closing}


def poll(*, lag_seconds: float | None = None) -> list[WorkflowHandle[Outcome]]:
    """Run the check now (a worker calls it on its schedule); a handle per invoice and per Case it started a run
    for (an invoice's is its outcome in its batch run)."""
    if not current_deps().settings.late_payment:
        return []
    with SetWorkflowID(f"check_late_payments:{dt.datetime.now(dt.UTC).isoformat()}:{uuid.uuid4().hex[:8]}"):
        started = wait_for(DBOS.start_workflow(check_late_payments))
    closing: list[WorkflowHandle[Outcome]] = [DBOS.retrieve_workflow(run_id) for run_id in started["close"]]
    return record_handles(started["open"]) + closing


# --- opening -------------------------------------------------------------------------------------------------


def _due_from_books(deps: Deps, number: str) -> dict[str, str]:
    """What a replay's run reads itself: the invoice's due date and what is owed on it now."""
    invoice = deps.books.get_invoice(number)
    if invoice is None:
        raise RecordRejected(f"invoice {number} is no longer in the books", field="invoice_number")
    owed = (invoice.total_gross or 0) - (invoice.amount_paid or 0)
    return {"due_date": invoice.due_date.isoformat(), "owed": f"{invoice.currency} {owed:.2f}"}


def _parents(deps: Deps, sources: dict[str, tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """Each source record's name and Account, by its id's first 15 characters (a query per object and 200 ids)."""
    found: dict[str, dict[str, Any]] = {}
    for sobject, account_field in (("Opportunity", "AccountId"), ("Invoice__c", "Account__c")):
        ids = sorted({source for kind, source in sources.values() if kind == sobject})
        for row in read_records(deps, f"SELECT Id, Name, {account_field} FROM {sobject}", ids).values():
            found[str(row["Id"])[:15]] = {"name": row.get("Name") or "", "account": row.get(account_field)}
    return found


def _read_late(deps: Deps, items: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], dict[str, Exception]]:
    """Each invoice with what its Case needs (source, name, Account, due date, owed), by number; and why each
    other one can have no Case."""
    numbers = [item["number"] for item in items]
    sources = _sources(deps, numbers)
    parents = _parents(deps, sources)
    late: dict[str, dict[str, Any]] = {}
    refused: dict[str, Exception] = {}
    for item in items:
        number = item["number"]
        try:
            if number not in sources:
                raise RecordRejected(
                    f"invoice {number} was not made by LedgerLink from an Opportunity nor imported",
                    field="invoice_number",
                )
            sobject, source = sources[number]
            parent = parents.get(source[:15])
            if parent is None:
                raise RecordRejected(f"{sobject} {source} not found", field=sobject)
            if not parent["account"]:
                account_field = "AccountId" if sobject == "Opportunity" else "Account__c"
                raise RecordRejected(f"{sobject} {source} has no Account", field=account_field)
            due = (
                {"due_date": item["due_date"], "owed": item["owed"]}
                if "owed" in item
                else _due_from_books(deps, number)
            )
            late[number] = {**item, **due, "source_object": sobject, "source": source, **parent}
        except TransientError:
            raise  # the whole read is retried (``open_cases``), not this invoice refused
        except FLOW_ERRORS as exc:
            refused[number] = exc
    return late, refused


def _case_fields(deps: Deps, late: dict[str, Any]) -> dict[str, Any]:
    number = late["number"]
    return {
        "Subject": f"Invoice {number} is {late['days']} days overdue {marker(deps, number)}",
        "Status": "New",
        "Priority": deps.settings.late_payment_case_priority,
        "AccountId": late["account"],
        "Description": (
            f"Invoice {number} ({late['name']}) was due on {late['due_date']}; "
            f"{late['owed']} is unpaid. LedgerLink closes this case when the invoice is paid."
        ),
    }


MARKERS_PER_QUERY = 50  # LIKE clauses ORed in one Case query: well under SOQL's 100,000 characters


def _find_or_create(
    deps: Deps, late: dict[str, dict[str, Any]], refused: dict[str, Exception]
) -> dict[str, tuple[str, bool]]:
    """Each invoice's Case found by its marker (one made just before a crash), else created (in sObject Collections
    calls): (id, created) by number; a Case Salesforce refuses goes into ``refused``. Retried whole: a retry looks
    for the markers again first, so a create whose reply was lost is found, not made twice."""
    tags = {number: marker(deps, number) for number in late}
    cases: dict[str, tuple[str, bool]] = {}
    numbers = list(tags)
    for start in range(0, len(numbers), MARKERS_PER_QUERY):
        chunk = numbers[start : start + MARKERS_PER_QUERY]
        where = " OR ".join(f"Subject LIKE '%{literal.escape_like(tags[number])}%'" for number in chunk)
        for row in deps.crm.query(f"SELECT Id, Subject FROM Case WHERE {where}"):
            subject = str(row.get("Subject") or "")
            for number in chunk:
                if number not in cases and tags[number] in subject:
                    cases[number] = (str(row["Id"]), False)

    def on_error(number: str, error: PermanentError) -> None:
        refused[number] = error

    batch = Batch("Case", creates=[(n, _case_fields(deps, late[n])) for n in numbers if n not in cases])
    if batch:
        cases.update(batch.send(deps.crm, on_error))
    return cases


@_step
def open_cases(deps: Deps, items: list[dict[str, Any]], run_id: str) -> dict[str, dict[str, Any]]:
    """The Cases of a batch of overdue invoices, in one durable step: each Case is looked for (the ledger, then its
    marker) before it is made, so a step run again after a crash makes only what is missing. Returns each
    invoice's outcome by number; a failed one carries ``error``, ``field`` and ``attempts``."""
    outcomes: dict[str, dict[str, Any]] = {}
    try:
        late, refused = with_retries(_read_late)(deps, items)
        known = _cases(deps, {n: (late[n]["source_object"], late[n]["source"]) for n in late})
        todo = {number: entry for number, entry in late.items() if number not in known}
        made = with_retries(_find_or_create, BATCH_WRITE_RETRY)(deps, todo, refused) if todo else {}
    except FLOW_ERRORS as exc:
        return {item["number"]: error_result(exc, record=f"Invoice {item['number']}") for item in items}
    for number, error in refused.items():
        outcomes[number] = error_result(error, record=f"Invoice {number}")
    for number, case_id in known.items():
        outcomes[number] = {"invoice_number": number, "case": case_id, "status": "already_open"}
    deps.ledger.link_all(
        [
            (("salesforce", late[n]["source_object"], late[n]["source"]), ("salesforce", "Case", made[n][0]))
            for n in made
        ]
    )
    deps.ledger.audit_all(
        [
            {
                "flow": FLOW,
                "system": "salesforce",
                "obj": "Case",
                "record_id": case_id,
                "action": "created" if created else "matched",
                "run_id": run_id,
                "source_id": number,
                "detail": {"invoice": number, "days_overdue": late[number]["days"], "account": late[number]["account"]},
            }
            for number, (case_id, created) in made.items()
        ]
    )
    for number, (case_id, created) in made.items():
        outcomes[number] = {
            "invoice_number": number,
            "case": case_id,
            "status": "opened" if created else "already_open",
        }
    deps.ledger.resolve_failures(FLOW, [n for n, outcome in outcomes.items() if "error" not in outcome])
    return outcomes


def _open(items: list[dict[str, Any]]) -> list[Outcome]:
    """The workflows' body: the batch's Cases, then a failed record for each invoice that could have none."""
    deps = current_deps()
    outcomes = open_cases(deps, items, DBOS.workflow_id or "")
    results: list[Outcome] = []
    books = deps.books
    for item in items:
        number = item["number"]
        outcome = outcomes[number]
        if "error" in outcome:
            source = (books.name, books.invoice_object, number)
            fail(deps, FLOW, source, outcome["error"], outcome["field"], outcome["attempts"])
            results.append(
                {"invoice_number": number, "status": "failed", "error": outcome["error"], "field": outcome["field"]}
            )
        else:
            results.append(cast(Outcome, outcome))
    return results


@DBOS.workflow(name=f"{FLOW}_batch")
def late_payment_batch(items: list[dict[str, Any]]) -> list[Outcome]:
    """The Cases of a batch of overdue invoices of one shard (``find_work``'s items); one outcome per invoice."""
    return _open(items)


@DBOS.workflow(name=FLOW)
def late_payment(number: str, days_overdue: int) -> Outcome:
    """One invoice's Case (a replay); it reads the invoice from the books itself."""
    return _open([{"number": number, "days": days_overdue}])[0]


def replay(number: str) -> WorkflowHandle[Outcome]:
    due = {d.number: d for d in current_deps().books.unpaid_invoices()}.get(number)
    days = due.days_overdue if due else 0
    return enqueue_record(
        late_payment,
        number,
        days,
        workflow_id=f"{FLOW}:{number}:replay-{uuid.uuid4().hex[:12]}",
        record_key=shard_key(FLOW, number),  # a batch holding this invoice runs before or after, never beside
        connection=CRM,
    )


# --- closing -------------------------------------------------------------------------------------------------


@_step
def close_if_paid(deps: Deps, case_id: str, run_id: str) -> dict[str, Any]:
    books = deps.books
    number = _number_of_case(deps, case_id)
    if number is None:
        raise RecordRejected(f"Case {case_id} is not linked to a LedgerLink invoice", field="Subject")
    invoice = books.get_invoice(number)
    paid = invoice is not None and (
        invoice.status == "Paid" or (invoice.amount_paid or 0) >= (invoice.total_gross or 0) > 0
    )
    if not paid:
        return {"number": number, "status": "still_unpaid"}
    rows = list(deps.crm.query(f"SELECT Id, IsClosed FROM Case WHERE Id = '{case_id}'"))
    if not rows:
        raise RecordRejected(f"Case {case_id} not found", field="Id")
    if rows[0].get("IsClosed"):
        return {"number": number, "status": "already_closed"}
    deps.crm.update("Case", case_id, {"Status": "Closed"})
    deps.ledger.audit(
        flow=FLOW,
        system="salesforce",
        obj="Case",
        record_id=case_id,
        action="closed",
        run_id=run_id,
        source_id=number,
        detail={"invoice": number, "Status": "Closed"},
    )
    return {"number": number, "status": "closed"}


@DBOS.workflow(name=CLOSE_FLOW)
def late_payment_close(case_id: str) -> Outcome:
    run_id = DBOS.workflow_id or ""
    deps = current_deps()
    try:
        if not case_id.isalnum():
            raise RecordRejected(f"{case_id!r} is not a Salesforce id", field="Id")
        result = close_if_paid(deps, case_id, run_id)
        resolve_failure(deps, CLOSE_FLOW, case_id)
        return {"case": case_id, "invoice_number": result["number"], "status": result["status"]}
    except FLOW_ERRORS as exc:
        message, field, attempts = describe(exc, record=f"Case {case_id}")
        fail(deps, CLOSE_FLOW, ("salesforce", "Case", case_id), message, field, attempts)
        return {"case": case_id, "status": "failed", "error": message, "field": field}


register(
    Flow(
        name=FLOW,
        description="Invoice overdue by late_payment_days → a Case on the Account, once; closed when paid",
        source=(ACCOUNTING, "Invoice"),
        watermark=WATERMARK,
        replay=replay,
        poll=poll,
        trigger=check_late_payments,
        period_seconds=3600,
        enabled=lambda settings: settings.late_payment,
    )
)
