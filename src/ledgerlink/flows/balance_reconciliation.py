"""Balance reconciliation: each Account's ``Accounting_Balance__c`` against what the books themselves say the
customer owes (their own figure, not LedgerLink's sum of open items), and a report of every drift.

Run nightly beside ``reconciliation`` (customers and products) and on demand (``ledgerlink sync
balance_reconciliation``). It repairs nothing itself: ``account_balances`` writes the books' figures on its next run;
the report (and an audit entry per drifting Account, action ``drift``) says what differed, by how much, and since
when the Account was last brought up to date.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypedDict

from dbos import DBOS, WorkflowHandle

from ledgerlink.engine.flows import CRM, Flow, register
from ledgerlink.engine.retry import durable_step
from ledgerlink.flows.deps import Deps, current_deps
from ledgerlink.systems.invoice_life import invoice_life

FLOW = "balance_reconciliation"
WATERMARK = "balance_reconciliation.last_run"
EVERY_SECONDS = 24 * 3600.0
TOLERANCE = Decimal("0.00")  # balances are to the penny on both sides


class Drift(TypedDict):
    account: str
    customer: str
    salesforce: str
    books: str
    difference: str
    balance_updated: str | None


class Report(TypedDict):
    status: str
    checked: int
    drifted: int
    drift: list[Drift]


@durable_step
def compare(deps: Deps) -> Report:
    books = deps.books
    life = invoice_life(books)
    soql = (
        "SELECT Id, ExternalID__c, Accounting_Balance__c, Balance_Updated__c FROM Account "
        "WHERE Accounting_Balance__c != null OR ExternalID__c != null"
    )
    rows = list(deps.crm.query(soql))
    linked = deps.ledger.lookup_many(
        "salesforce", "Account", [r["Id"] for r in rows], books.name, books.customer_object
    )
    drift: list[Drift] = []
    checked = 0
    for row in rows:
        customer = linked.get(row["Id"]) or row.get("ExternalID__c")
        if not customer or (row["Id"] not in linked and books.find_customer(str(customer)) is None):
            continue  # an Account with no customer in the books: nothing to compare
        checked += 1
        ours = Decimal(str(row.get("Accounting_Balance__c") or 0)).quantize(Decimal("0.01"))
        theirs = life.customer_balance(str(customer)).quantize(Decimal("0.01"))
        if abs(ours - theirs) > TOLERANCE:
            drift.append(
                {
                    "account": row["Id"],
                    "customer": str(customer),
                    "salesforce": str(ours),
                    "books": str(theirs),
                    "difference": str(ours - theirs),
                    "balance_updated": row.get("Balance_Updated__c"),
                }
            )
    deps.ledger.audit_all(
        [
            {
                "flow": FLOW,
                "system": "salesforce",
                "obj": "Account",
                "record_id": d["account"],
                "action": "drift",
                "run_id": DBOS.workflow_id,
                "source_id": d["customer"],
                "detail": dict(d),
            }
            for d in drift
        ]
    )
    return {"status": "reconciled", "checked": checked, "drifted": len(drift), "drift": drift}


@DBOS.workflow(name=FLOW)
def balance_reconciliation(lag_seconds: float = 0.0) -> Report:
    del lag_seconds
    deps = current_deps()
    report = compare(deps)
    deps.ledger.trigger_checked(WATERMARK)  # it keeps no watermark of its own: its check is its trace (stalled alerts)
    return report


def poll(*, lag_seconds: float | None = None) -> list[WorkflowHandle[Report]]:
    del lag_seconds
    return [DBOS.start_workflow(balance_reconciliation)]


def replay(_source_id: str) -> WorkflowHandle[Report]:
    return DBOS.start_workflow(balance_reconciliation)


register(
    Flow(
        name=FLOW,
        description="Each Account's balance against the books' own figure: every drift reported",
        source=(CRM, "Account"),
        watermark=WATERMARK,
        replay=replay,
        poll=poll,
        trigger=balance_reconciliation,
        period_seconds=EVERY_SECONDS,
        writes_to=CRM,
        enabled=lambda settings: settings.account_balances,
    )
)
