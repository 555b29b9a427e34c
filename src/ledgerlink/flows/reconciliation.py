"""Reconciliation: the nightly safety net. Compares both sides of every mapped entity (customers, products) in
full — every Salesforce record against what was last synced, then every record in the books — and repairs drift
through the same rules as the live flows (``customer_sync``, ``product_sync``), page by page. It catches changes
whose events were missed (a subscriber down, a watermark moved past them) and changes that never bumped a
modification time.

``ensure_schedule()`` installs the cron (``FlowSettings.reconcile_schedule``, default 02:00 UTC daily) after
``DBOS.launch()``; ``run_now()`` runs it on demand and returns the report.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any, TypedDict

from dbos import DBOS, WorkflowHandle

from ledgerlink.engine.flows import Flow, register
from ledgerlink.engine.retry import ledger_step
from ledgerlink.engine.runtime import CRM, current, wait_for
from ledgerlink.flows import customer_sync, product_sync
from ledgerlink.flows.deps import Deps, current_deps
from ledgerlink.flows.sync.common import sync_step, transform_context

FLOW = "reconciliation"
SCHEDULE_NAME = "ledgerlink-reconciliation"
WATERMARK = "reconciliation.last_run"
REPAIRS = (
    "updated_books",
    "updated_salesforce",
    "created_books",
    "created_salesforce",
    "matched",
    "archived",
    "restored",
)


class EntityReport(TypedDict):
    checked: int
    drift: int  # records found different from the other side (or missing there)
    repaired: int  # writes that brought them back in step
    conflicts: int
    failed: int
    counts: dict[str, int]


class Report(TypedDict, total=False):
    status: str
    started_at: str
    entities: dict[str, EntityReport]


def _all_after(deps: Deps, sobject: str, columns: list[str], cursor: str) -> list[dict[str, Any]]:
    """The next page of every record (deleted ones too) in Id order: independent of modification times."""
    after = f"WHERE Id > '{cursor}' " if cursor else ""
    if cursor and not cursor.isalnum():
        raise ValueError(f"{cursor!r} is not a Salesforce id")
    limit = deps.settings.sync_page_size
    soql = f"SELECT Id, SystemModstamp, {', '.join(columns)} FROM {sobject} {after}ORDER BY Id LIMIT {limit}"
    return list(deps.crm.query(soql, include_deleted=True))


def _page(deps: Deps, records: list[dict[str, Any]], counts: dict[str, int]) -> dict[str, Any]:
    size = deps.settings.sync_page_size
    return {
        "counts": counts,
        "checked": len(records),
        "cursor": records[-1]["Id"] if records else "",
        "more": len(records) == size,
    }


@sync_step
def salesforce_customers(deps: Deps, cursor: str, run_id: str) -> dict[str, Any]:
    records = _all_after(deps, "Account", customer_sync.account_columns(deps), cursor)
    return _page(deps, records, customer_sync.sync_account_records(deps, records, run_id, full=True))


@sync_step
def salesforce_products(deps: Deps, cursor: str, run_id: str) -> dict[str, Any]:
    records = _all_after(deps, "Product2", product_sync.product_columns(deps), cursor)
    return _page(deps, records, product_sync.sync_product_records(deps, records, run_id, full=True))


@sync_step
def books_customers(deps: Deps, cursor: str, run_id: str) -> dict[str, Any]:
    items, nxt, more = deps.books.customers_all(cursor or None, deps.settings.sync_page_size, transform_context(deps))
    counts = customer_sync.sync_books_customers(deps, items, run_id, full=True)
    return {"counts": counts, "checked": len(items), "cursor": nxt or "", "more": more}


@sync_step
def books_products(deps: Deps, cursor: str, run_id: str) -> dict[str, Any]:
    items, nxt, more = deps.books.products_all(cursor or None, deps.settings.sync_page_size, transform_context(deps))
    counts = product_sync.sync_books_products(deps, items, run_id, full=True)
    return {"counts": counts, "checked": len(items), "cursor": nxt or "", "more": more}


Step = Callable[[Deps, str, str], dict[str, Any]]


def _sweep(deps: Deps, steps: tuple[Step, ...], run_id: str) -> EntityReport:
    counts: Counter[str] = Counter()
    checked = 0
    for step in steps:
        cursor = ""
        while True:
            page = step(deps, cursor, run_id)
            counts.update(page["counts"])
            checked += int(page["checked"])
            cursor = str(page["cursor"])
            if not page["more"]:
                break
    created = counts["created_books"] + counts["created_salesforce"] + counts["matched"]
    return {
        "checked": checked,
        "drift": counts["drift"] + created + counts["archived"] + counts["restored"] + counts["missing_in_books"],
        "repaired": sum(counts[k] for k in REPAIRS),
        "conflicts": counts["conflicts"],
        "failed": counts["failed"],
        "counts": dict(counts),
    }


@ledger_step
def _record(deps: Deps, report: Report) -> None:
    deps.ledger.set_watermark(WATERMARK, str(report.get("started_at")))
    deps.ledger.audit(
        flow=FLOW,
        system="ledgerlink",
        obj="reconciliation",
        action="reported",
        run_id=DBOS.workflow_id,
        detail=dict(report),
    )


@ledger_step
def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


@DBOS.workflow(name="reconcile")
def reconcile() -> Report:
    run_id = DBOS.workflow_id or ""
    deps = current_deps()
    started = _now()
    entities = {
        "customer": _sweep(deps, (salesforce_customers, books_customers), run_id),
        "product": _sweep(deps, (salesforce_products, books_products), run_id),
    }
    failed = any(e["failed"] for e in entities.values())
    report: Report = {"status": "failed" if failed else "reconciled", "started_at": started, "entities": entities}
    _record(deps, report)
    return report


@DBOS.workflow(name="reconcile_scheduled")
def reconcile_scheduled(scheduled_at: dt.datetime, context: Any) -> None:
    """What the cron starts (DBOS passes the scheduled time and the schedule's context)."""
    reconcile()


def ensure_schedule(cron: str | None = None) -> str:
    """Install (or move) the nightly schedule; call after ``DBOS.launch()``. Returns the cron in force."""
    wanted = cron or current().settings.flows.reconcile_schedule
    existing = DBOS.get_schedule(SCHEDULE_NAME)
    if existing is not None and existing["schedule"] == wanted:
        return wanted
    if existing is not None:
        DBOS.delete_schedule(SCHEDULE_NAME)
    DBOS.create_schedule(schedule_name=SCHEDULE_NAME, workflow_fn=reconcile_scheduled, schedule=wanted)
    return wanted


def run_now() -> Report:
    """Reconcile now and wait for the report (tests, the CLI, an operator after an outage)."""
    return wait_for(DBOS.start_workflow(reconcile))


def poll(*, lag_seconds: float | None = None) -> list[WorkflowHandle[Report]]:
    """``ledgerlink sync reconciliation``: start a run now."""
    return [DBOS.start_workflow(reconcile)]


def replay(source_id: str) -> WorkflowHandle[Report]:
    """Reconciliation has no per-record source: a replay is a fresh run."""
    return DBOS.start_workflow(reconcile)


register(
    Flow(
        name=FLOW,
        description="Nightly full comparison of customers and products; repairs drift, reports it",
        source=(CRM, "Account"),
        watermark=WATERMARK,
        replay=replay,
        poll=poll,
        on_worker_start=ensure_schedule,
        clock=lambda settings: settings.reconcile_schedule,
    )
)
