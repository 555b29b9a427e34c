"""The worker's triggers: every enabled flow's polling trigger once per slot, and the flows doing their work."""

from __future__ import annotations

import threading
import time

from dbos import DBOS

from ledgerlink.demo.seed import seed
from ledgerlink.engine.flows import registered_flows
from ledgerlink.engine.worker import run_worker, start_triggers
from ledgerlink.flows.reconciliation import SCHEDULE_NAME
from tests.flows.conftest import FlowEnv


def test_each_enabled_trigger_starts_once_per_slot(flow_env: FlowEnv) -> None:
    flow_env.runtime.settings.flows.late_payment = False
    started: dict[str, int] = {}
    fired = start_triggers(flow_env.runtime, poll_interval=3600, started=started)
    settings = flow_env.runtime.settings.flows
    expected = {e.name for e in registered_flows().values() if e.trigger is not None and e.enabled(settings)}
    assert "late_payment" not in expected and "order_to_invoice" not in expected  # switched off here / by default
    assert set(fired) == expected
    assert start_triggers(flow_env.runtime, poll_interval=3600, started=started) == []  # same slot: nothing new
    # A new slot while this slot's triggers may still be queued: DBOS lets at most one per flow wait or run.
    for name in list(started):
        started[name] -= 1
    start_triggers(flow_env.runtime, poll_interval=3600, started=started)
    pending = [w for w in DBOS.list_workflows(queue_name="triggers") if w.status in ("ENQUEUED", "PENDING")]
    names = [w.workflow_id.split(":")[1] for w in pending]
    assert len(names) == len(set(names))


def test_a_worker_runs_every_flow_from_its_triggers(flow_env: FlowEnv) -> None:
    summary = seed(flow_env.user, accounts=5, opportunities=12, seed=21)
    stop = threading.Event()
    worker = threading.Thread(
        target=run_worker, kwargs={"runtime": flow_env.runtime, "poll_interval": 0.5, "stop": stop}, daemon=True
    )
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            written = list(
                flow_env.user.query(
                    "SELECT Id FROM Opportunity WHERE IsWon = true AND Accounting_Invoice_Number__c != null"
                )
            )
            files = list(flow_env.user.query("SELECT Id FROM ContentVersion"))
            customers = list(flow_env.runtime.books.client.list("customers"))  # type: ignore[attr-defined]
            # The flows run side by side: the invoices may all be done before customer_sync's trigger has run.
            if len(written) == summary.won and len(files) == summary.won and len(customers) == summary.accounts:
                break
            time.sleep(0.5)
    finally:
        stop.set()
        worker.join(timeout=30)
    assert len(written) == summary.won
    assert len(files) == summary.won  # the invoice run chained each PDF
    assert len(customers) == summary.accounts  # customer_sync brought every Account over, deals or not
    assert DBOS.get_schedule(SCHEDULE_NAME) is not None  # the nightly reconciliation is installed
