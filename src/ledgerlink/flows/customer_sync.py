"""Customers both ways: Salesforce Account + Contacts ⇄ the books' customers (whatever the books call them).

Triggers (all durable, in ``poll_customers``): Accounts changed after the watermark (``SystemModstamp``, deleted
ones included through queryAll), Contacts changed (their Account is synced), and the books' customers changed
after theirs. A page of up to ``sync_page_size`` records is one workflow step: read, settle, write (Salesforce
writes batched in sObject Collections), then the watermark moves.

Per pair the conflict rules of ``flows.sync.conflicts`` apply against the last synced base. Echo: a record whose
projection equals what was last synced (or the version LedgerLink wrote) is not sent anywhere. Deletes follow
``FlowSettings.delete_policy``: "archive" archives the books' customer when its Account is deleted and restores it
when the Account is undeleted; "ignore" only audits. A new record on either side goes through golden-record matching
(``flows.sync.golden``): linked to the other side's customer it matches (the direction's duplicate policy says what
the link writes), queued for a person's review when unsure, else created on the other side.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any, TypedDict

from dbos import DBOS, WorkflowHandle

from ledgerlink.engine.flows import Flow, register
from ledgerlink.engine.runtime import ACCOUNTING, CRM, current, enqueue_record
from ledgerlink.flows._ledger_steps import resolve_failure, save_watermark
from ledgerlink.flows._probes import books_changed, salesforce_changed
from ledgerlink.flows.deps import Deps, current_deps
from ledgerlink.flows.sync import drift, read_ahead
from ledgerlink.flows.sync.common import (
    position_after,
    read_changed,
    read_changed_after,
    sync_step,
    transform_context,
)
from ledgerlink.flows.sync.customer_accounts import sync_account_records
from ledgerlink.flows.sync.customer_books import sync_books_customers
from ledgerlink.flows.sync.customer_page import (
    ACCOUNT,
    ACCOUNT_FIELDS,
    FLOW,
    SF,
    account_columns,
    accounts_by_id,
)
from ledgerlink.systems.salesforce.incremental import upper_bound

# The flow's parts live in flows/sync/customer_*; these names stay importable from here.
__all__ = [
    "ACCOUNT",
    "ACCOUNT_FIELDS",
    "CONTACT_WATERMARK",
    "FLOW",
    "WATERMARK",
    "Outcome",
    "account_columns",
    "accounts_by_id",
    "poll",
    "replay",
    "sync_account_records",
    "sync_books_customers",
]
WATERMARK = "salesforce.Account.customer_sync"
CONTACT_WATERMARK = "salesforce.Contact.customer_sync"
WITH_ACCOUNT = "AccountId != null"  # the Contacts the sync reads


class Outcome(TypedDict, total=False):
    status: str  # synced | failed
    pages: int
    counts: dict[str, int]


def books_watermark(system: str) -> str:
    return f"{system}.customers.{FLOW}"


# --- steps ---------------------------------------------------------------------------------------------------------


def _newest_contact(deps: Deps, lag_seconds: float) -> str | None:
    """The position of the newest Contact Salesforce holds now (within the lag, as the Contacts pass reads)."""
    upper = upper_bound(lag_seconds)
    where = f"AccountId != null AND SystemModstamp <= {upper}" if upper else "AccountId != null"
    soql = f"SELECT Id, SystemModstamp FROM Contact WHERE {where} ORDER BY SystemModstamp DESC, Id DESC LIMIT 1"
    rows = list(deps.crm.query(soql, include_deleted=True))
    return position_after(rows)


def _contacts_covered(deps: Deps, position: str) -> None:
    """A pass over every Account reads each one's Contacts with it: the Contacts pass need not read those again.
    Its watermark moves to the newest Contact there was before the pass began (never back); a Contact changed
    since is past it and read as usual."""
    current = deps.ledger.get_watermark(CONTACT_WATERMARK) or ""
    if position > current:  # positions are "<fixed-width UTC stamp>|<id>": they sort as text
        deps.ledger.set_watermark(CONTACT_WATERMARK, position)


@sync_step
def accounts_page(deps: Deps, lag_seconds: float, run_id: str) -> dict[str, Any]:
    """The next page of Accounts changed (or deleted, or undeleted) after the watermark, settled. At most hourly
    it also checks the schemas for drift, beside the page and inside this step (so the workflow's steps stay as
    they were)."""
    drift_check = None
    if deps.settings.schema_drift_check and drift.due(deps.ledger):
        drift_check = drift.check_beside(deps.ledger, deps.crm, deps.books.name)
    try:
        return _accounts_page(deps, lag_seconds, run_id)
    finally:
        if drift_check is not None:
            drift_check.join()


def _accounts_page(deps: Deps, lag_seconds: float, run_id: str) -> dict[str, Any]:
    position = deps.ledger.get_watermark(WATERMARK) or ""
    every_account = not position  # a first or full backfill, at its first page
    contacts_before = _newest_contact(deps, lag_seconds) if every_account else None  # read before the Accounts
    columns = account_columns(deps)
    records = read_ahead.take(run_id, WATERMARK, position)
    if records is None:
        records = read_changed_after(deps, ACCOUNT, position, columns, None, lag_seconds)
    after, more = position_after(records), len(records) == deps.settings.sync_page_size
    if more and after:  # the next page is read while this one is settled (its creates are the long part)
        read_ahead.start(
            run_id, WATERMARK, after, lambda: read_changed_after(deps, ACCOUNT, after, columns, None, lag_seconds)
        )
    counts = sync_account_records(deps, records, run_id, full=False)
    if contacts_before:
        _contacts_covered(deps, contacts_before)
    return {"counts": counts, "position": after, "more": more}


@sync_step
def contacts_page(deps: Deps, lag_seconds: float, run_id: str) -> dict[str, Any]:
    """Contacts changed after their watermark: a Contact edit does not touch its Account's SystemModstamp."""
    contacts = read_changed(deps, "Contact", CONTACT_WATERMARK, ["AccountId"], WITH_ACCOUNT, lag_seconds)
    ids = list(dict.fromkeys(str(c["AccountId"]) for c in contacts))
    counts = sync_account_records(deps, accounts_by_id(deps, ids), run_id, full=False)
    more = len(contacts) == deps.settings.sync_page_size
    return {"counts": counts, "position": position_after(contacts), "more": more}


@sync_step
def books_page(deps: Deps, run_id: str) -> dict[str, Any]:
    sb = deps.books
    mark = books_watermark(sb.name)
    watermark, limit = deps.ledger.get_watermark(mark), deps.settings.sync_page_size
    ctx = transform_context(deps)
    page = read_ahead.take(run_id, mark, watermark or "")
    items, position, more = page or sb.customers_changed(watermark, limit, ctx)
    if more and position:  # as the Accounts pass: the next page is read while this one is settled
        read_ahead.start(run_id, mark, position, lambda: sb.customers_changed(position, limit, ctx))
    counts = sync_books_customers(deps, items, run_id, full=False)
    return {"counts": counts, "position": position, "more": more, "watermark": mark}


def _add(total: Counter[str], counts: dict[str, int]) -> None:
    total.update(counts)


@DBOS.workflow(name="poll_customers")
def poll_customers(lag_seconds: float) -> Outcome:
    """The durable trigger: each page is settled, then its watermark saved, so a worker killed mid-run resumes at
    the page it was on and no page is lost."""
    run_id = DBOS.workflow_id or ""
    deps = current_deps()
    total: Counter[str] = Counter()
    pages = 0
    for step, mark in ((accounts_page, WATERMARK), (contacts_page, CONTACT_WATERMARK)):
        while True:
            page = step(deps, lag_seconds, run_id)
            pages += 1
            _add(total, page["counts"])
            if page["position"]:
                save_watermark(deps, mark, page["position"])
            if not page["more"]:
                break
    while True:
        page = books_page(deps, run_id)
        pages += 1
        _add(total, page["counts"])
        if page["position"]:
            save_watermark(deps, page["watermark"], page["position"])
        if not page["more"]:
            break
    deps.ledger.trigger_checked(WATERMARK)  # every side read to the end: alive, changes or none (stalled alerts)
    return {"status": "failed" if total.get("failed") else "synced", "pages": pages, "counts": dict(total)}


def anything_changed(lag_seconds: float) -> bool:
    """The trigger's probe: what ``poll_customers`` reads first on each side, asked for one row (or a drift
    check that has come due)."""
    deps = current_deps()
    if deps.settings.schema_drift_check and drift.due(deps.ledger):
        return True
    return (
        salesforce_changed(deps, ACCOUNT, WATERMARK, None, lag_seconds, include_deleted=True)
        or salesforce_changed(deps, "Contact", CONTACT_WATERMARK, WITH_ACCOUNT, lag_seconds, include_deleted=True)
        or books_changed(deps, books_watermark(deps.books.name), deps.books.customers_changed)
    )


def poll(*, lag_seconds: float | None = None) -> list[WorkflowHandle[Outcome]]:
    """Run the trigger now (``ledgerlink sync customer_sync``); one run, which streams every page."""
    lag = current().settings.poll_lag_seconds if lag_seconds is None else lag_seconds
    return [DBOS.start_workflow(poll_customers, lag)]


@sync_step
def sync_one_step(deps: Deps, source_id: str, run_id: str) -> dict[str, int]:
    sb = deps.books
    if deps.ledger.lookup(sb.name, sb.customer_object, source_id, SF, ACCOUNT) or not source_id.startswith("001"):
        customer = sb.read_customer(source_id, transform_context(deps))
        return sync_books_customers(deps, [(source_id, customer)] if customer else [], run_id, full=True)
    return sync_account_records(deps, accounts_by_id(deps, [source_id]), run_id, full=True)


@DBOS.workflow(name="sync_customer")
def sync_customer(source_id: str) -> Outcome:
    """One Account (or one books customer, by its id there), compared in full."""
    deps = current_deps()
    counts = sync_one_step(deps, source_id, DBOS.workflow_id or "")
    if not counts.get("failed"):
        resolve_failure(deps, FLOW, source_id)
    return {"status": "failed" if counts.get("failed") else "synced", "pages": 1, "counts": counts}


def replay(source_id: str) -> WorkflowHandle[Outcome]:
    return enqueue_record(
        sync_customer,
        source_id,
        workflow_id=f"{FLOW}:{source_id}:replay-{uuid.uuid4().hex[:12]}",
        record_key=f"customer:{source_id}",
        connection=ACCOUNTING,  # either side may change; the books are the stricter API
    )


register(
    Flow(
        name=FLOW,
        description="Accounts + Contacts ⇄ the books' customers both ways: field owner, priority, last writer",
        source=(CRM, "Account"),
        watermark=WATERMARK,
        replay=replay,
        poll=poll,
        trigger=poll_customers,
        probe=anything_changed,
    )
)
