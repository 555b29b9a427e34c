"""The books' balances on each Account: outstanding balance, overdue amount and aging buckets (current, 1–30, 31–60,
61–90, over 90 days past due), as the books count them, kept current.

One step reads the books' open items (every issued invoice with money owed, and how many days late by the books'
own clock), sums them per customer and finds each customer's Account (the ledger's link, else the Account whose
``ExternalID__c`` is the customer's code); Accounts that show a balance the books no longer have go back to zero.
Only Accounts whose figures differ are written (``Balance_Updated__c`` says when), in sObject Collections calls, so
a run that finds nothing new writes nothing. A worker runs it every few minutes; ``ledgerlink sync account_balances``
runs it now.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dbos import DBOS, WorkflowHandle

from ledgerlink.engine.flows import CRM, Flow, register
from ledgerlink.engine.retry import durable_step
from ledgerlink.flows._invoice_accounts import salesforce_accounts
from ledgerlink.flows.deps import Deps, current_deps
from ledgerlink.model import quantize_money
from ledgerlink.systems.invoice_life import OpenItem, invoice_life
from ledgerlink.systems.salesforce import soql as literal

FLOW = "account_balances"
WATERMARK = "account_balances.last_run"
EVERY_SECONDS = 300.0
BUCKETS = ("Aging_Current__c", "Aging_1_30__c", "Aging_31_60__c", "Aging_61_90__c", "Aging_Over_90__c")
FIELDS = ("Accounting_Balance__c", "Overdue_Balance__c", *BUCKETS)


def bucket(days_overdue: int) -> str:
    if days_overdue <= 0:
        return BUCKETS[0]
    if days_overdue <= 30:
        return BUCKETS[1]
    if days_overdue <= 60:
        return BUCKETS[2]
    if days_overdue <= 90:
        return BUCKETS[3]
    return BUCKETS[4]


@dataclass
class Aging:
    values: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(FIELDS, Decimal(0)))

    def add(self, item: OpenItem) -> None:
        self.values["Accounting_Balance__c"] += item.balance
        if item.days_overdue > 0:
            self.values["Overdue_Balance__c"] += item.balance
        self.values[bucket(item.days_overdue)] += item.balance

    def fields(self) -> dict[str, float]:
        return {name: float(quantize_money(value)) for name, value in self.values.items()}


def aging_by_customer(items: list[OpenItem]) -> dict[str, Aging]:
    out: dict[str, Aging] = {}
    for item in items:
        out.setdefault(item.customer_id, Aging()).add(item)
    return out


def _differs(current: dict[str, Any], wanted: dict[str, float]) -> bool:
    return any(Decimal(str(current.get(k) or 0)) != Decimal(str(v)) for k, v in wanted.items())


@durable_step
def refresh(deps: Deps) -> dict[str, Any]:
    """Compute every customer's aging from the books and write the Accounts that differ; returns the counts."""
    aging = aging_by_customer(invoice_life(deps.books).open_items())
    accounts, _ = salesforce_accounts(deps, list(aging), match=False)  # the history import does the matching
    wanted: dict[str, dict[str, float]] = {}
    for customer, account in accounts.items():
        wanted[account] = aging[customer].fields()
    columns = ", ".join(FIELDS)
    current: dict[str, dict[str, Any]] = {}
    # Accounts that still show a balance: those the books no longer list go back to zero.
    for row in deps.crm.query(
        f"SELECT Id, {columns} FROM Account WHERE Accounting_Balance__c != null AND Accounting_Balance__c != 0"
    ):
        current[row["Id"]] = row
        wanted.setdefault(row["Id"], Aging().fields())
    unseen = [a for a in wanted if a not in current]
    for start in range(0, len(unseen), 200):
        ids = literal.id_list(unseen[start : start + 200])
        for row in deps.crm.query(f"SELECT Id, {columns} FROM Account WHERE Id IN ({ids})"):
            current[row["Id"]] = row
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    updates = [
        {"Id": account, **fields, "Balance_Updated__c": stamp}
        for account, fields in wanted.items()
        if account in current and _differs(current[account], fields)
    ]
    counts: Counter[str] = Counter(
        customers=len(aging), accounts=len(accounts), without_account=len(aging) - len(accounts)
    )
    if updates:
        results = deps.crm.update_many("Account", updates)
        ok = [u for u, r in zip(updates, results, strict=True) if r.get("success")]
        counts["updated"] = len(ok)
        counts["refused"] = len(updates) - len(ok)
        deps.ledger.audit_all(
            [
                {
                    "flow": FLOW,
                    "system": "salesforce",
                    "obj": "Account",
                    "record_id": u["Id"],
                    "action": "updated",
                    "run_id": DBOS.workflow_id,
                    "source_id": u["Id"],
                    "detail": {k: v for k, v in u.items() if k != "Id"},
                }
                for u in ok
            ]
        )
    return dict(counts)


@DBOS.workflow(name=FLOW)
def account_balances(lag_seconds: float = 0.0) -> dict[str, Any]:
    del lag_seconds
    deps = current_deps()
    counts = refresh(deps)
    deps.ledger.trigger_checked(WATERMARK)  # its only trace: it keeps no watermark (stalled alerts)
    return {"status": "refreshed", **counts, "counts": dict(counts)}


def poll(*, lag_seconds: float | None = None) -> list[WorkflowHandle[dict[str, Any]]]:
    del lag_seconds
    if not current_deps().settings.account_balances:
        return []
    return [DBOS.start_workflow(account_balances)]


def replay(_source_id: str) -> WorkflowHandle[dict[str, Any]]:
    return DBOS.start_workflow(account_balances)


register(
    Flow(
        name=FLOW,
        description="The books' balance, overdue amount and aging buckets → each Account, kept current",
        source=(CRM, "Account"),
        watermark=WATERMARK,
        replay=replay,
        poll=poll,
        trigger=account_balances,
        period_seconds=EVERY_SECONDS,
        writes_to=CRM,
        enabled=lambda settings: settings.account_balances,
    )
)
