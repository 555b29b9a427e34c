"""The worker's triggers: every enabled flow's polling trigger once per slot, and the flows doing their work."""

from __future__ import annotations

import threading
import time

from dbos import DBOS

from ledgerlink.demo.seed import seed
from ledgerlink.engine.flows import registered_flows
from ledgerlink.engine.worker import TriggersInFlight, run_worker, start_triggers
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


def test_a_trigger_in_flight_here_is_not_asked_for_again_until_it_finishes(flow_env: FlowEnv) -> None:
    flow_env.runtime.settings.flows.late_payment = False
    assert flow_env.runtime.hears_finishes  # queue_wake is installed: this process hears its runs finish
    in_flight = TriggersInFlight(trust_seconds=600)
    try:
        started: dict[str, int] = {}
        fired = start_triggers(flow_env.runtime, poll_interval=3600, started=started, in_flight=in_flight)
        first_ids = {name: f"trigger:{name}:{started[name]}" for name in fired}

        def finished(name: str) -> bool:
            status = DBOS.get_workflow_status(first_ids[name])
            return status is not None and status.status == "SUCCESS"

        # Each is in flight here until heard finishing (a poll with nothing to do may already have finished).
        assert fired and all(in_flight.busy(name) or finished(name) for name in fired)
        for name in list(started):  # a new slot while they are queued or running: not asked for
            started[name] -= 1
        asks = len(DBOS.list_workflows(queue_name="triggers"))
        again = start_triggers(flow_env.runtime, poll_interval=3600, started=started, in_flight=in_flight)
        assert all(finished(name) for name in again)  # only a flow whose run had finished meanwhile is asked again
        assert len(DBOS.list_workflows(queue_name="triggers")) == asks  # (an ask again reuses the slot's id)
        # Each still in flight is heard finishing here: free to be asked for again. (One asked again above reused
        # its finished run's id, as this test's replayed slot does and a worker's next slot does not: left out.)
        waited = [name for name in fired if name not in again]
        for name in waited:
            DBOS.retrieve_workflow(first_ids[name]).get_result()
        deadline = time.monotonic() + 10
        while any(in_flight.busy(name) for name in waited) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(in_flight.busy(name) for name in waited)
    finally:
        in_flight.close()


def test_a_trigger_in_flight_is_asked_for_again_after_the_trust_runs_out() -> None:
    in_flight = TriggersInFlight(trust_seconds=0.05)
    try:
        in_flight.started("customer_sync", "trigger:customer_sync:1")
        assert in_flight.busy("customer_sync") and not in_flight.busy("product_sync")
        time.sleep(0.1)  # another worker may be running it: this one cannot hear it finish
        assert not in_flight.busy("customer_sync")
    finally:
        in_flight.close()
