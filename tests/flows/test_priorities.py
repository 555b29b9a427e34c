"""Change events overtake a backfill: the polling trigger keeps only a window of its runs in the queue, so a deal
won now waits behind that window, not behind every record the backfill has yet to invoice."""

from __future__ import annotations

import threading
import time

from dbos import DBOS

from ledgerlink.demo.seed import seed
from ledgerlink.engine import runtime as engine
from ledgerlink.flows import opportunity_to_invoice as o2i
from tests.flows.conftest import FlowEnv

BACKFILL = 300
WINDOW = 16
BATCH = 3  # records per backfill run: at least 100 runs, six times the window


def _invoiced(env: FlowEnv) -> int:
    return env.ledger.count_links("salesforce", "Opportunity", "kashflow", "Invoice")


def _wait_until(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_change_event_overtakes_a_running_backfill(flow_env: FlowEnv) -> None:
    summary = seed(flow_env.user, accounts=24, opportunities=BACKFILL, won_share=1.0, seed=5)
    assert summary.won == BACKFILL
    account = flow_env.make_account("Hot Lead Ltd", "HOT-1")
    _, entry = flow_env.make_product("HOT-WIDGET", 40.0)
    # KashFlow answers in 30 ms, so the backfill runs for many seconds.
    flow_env.set_faults("kashflow", latency_ms=30)
    flow_env.runtime.settings.backfill_window = WINDOW
    flow_env.runtime.settings.backfill_batch = BATCH

    queue = flow_env.runtime.queue_name(engine.ACCOUNTING)
    most_waiting = 0
    sampling = threading.Event()

    def sample_queue() -> None:  # runs of the backfill waiting or running, as the queue holds them
        nonlocal most_waiting
        while not sampling.is_set():
            rows = DBOS.list_workflows(queue_name=queue, status=["ENQUEUED", "PENDING"], load_input=False)
            most_waiting = max(most_waiting, len([r for r in rows if r.workflow_id.startswith(o2i.FLOW)]))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample_queue, daemon=True)
    sampler.start()
    try:
        backfill = DBOS.start_workflow(o2i.poll_won_opportunities, 0.0)
        _wait_until(lambda: _invoiced(flow_env) >= 10, timeout=120)

        # A deal won now, enqueued as the CDC trigger enqueues a change event.
        hot = flow_env.make_opportunity(stage="Closed Won", account_id=account, lines=[(entry, 2, 40.0)])
        version = flow_env.user.get("Opportunity", hot)["SystemModstamp"]
        started = time.monotonic()
        outcome = engine.wait_for(o2i.enqueue(hot, version))
        waited = time.monotonic() - started
        done_when_hot_finished = _invoiced(flow_env) - 1

        assert outcome["status"] == "invoiced", outcome
        number = flow_env.user.get("Opportunity", hot)[o2i.INVOICE_NUMBER_FIELD]
        assert number and number == outcome["invoice_number"]

        backfill_runs = engine.wait_for(backfill)
        _wait_until(lambda: _invoiced(flow_env) == BACKFILL + 1, timeout=120)
        assert sum(len(ids) for ids in backfill_runs.values()) == BACKFILL
        assert len(backfill_runs) >= BACKFILL // BATCH  # batches of one shard each, never more than BATCH
        left_when_hot_finished = BACKFILL - done_when_hot_finished
        backfill_seconds = time.monotonic() - started
        # The event did not queue behind the backfill: most of it was still to do when the hot deal was invoiced,
        # and the hot deal took a fraction of the time the rest of the backfill took.
        assert left_when_hot_finished > BACKFILL // 2, (left_when_hot_finished, waited)
        assert waited < backfill_seconds / 3, (waited, backfill_seconds)
    finally:
        sampling.set()
        sampler.join()

    # The queue never held more of the backfill than its window (plus the hot deal, which shares the flow's
    # name): without the window all 100 runs would have been enqueued at once.
    assert 1 <= most_waiting <= WINDOW + 1, most_waiting
