"""`ledgerlink worker`: one process of the engine. Any number of them may share one PostgreSQL database.

Each worker runs DBOS with a stable executor id (so after a crash its restart recovers its own pending work)
and dequeues from the shared queues. Each flow's polling trigger is enqueued by whichever worker gets there
first in each slot: the slot is in the trigger's workflow id, so DBOS runs it once however many workers ask,
and the triggers queue deduplicates by flow, so a slow trigger is never doubled by the next slot's. The nightly
reconciliation is a DBOS cron schedule, installed (idempotently) by every worker (each flow's ``on_worker_start``).
"""

from __future__ import annotations

import logging
import threading
import time

from dbos import DBOS

from ledgerlink.engine import runtime as engine
from ledgerlink.engine.flows import registered_flows

log = logging.getLogger(__name__)


def trigger_slot(period_seconds: float, now: float | None = None) -> int:
    return int((now if now is not None else time.time()) // period_seconds)


def start_triggers(runtime: engine.Runtime, *, poll_interval: float, started: dict[str, int]) -> list[str]:
    """Enqueue each enabled flow's trigger for the current slot, unless this slot's already ran or one is still
    waiting or running (DBOS deduplicates by flow on the triggers queue). Returns the flows started."""
    now = time.time()
    lag = runtime.settings.poll_lag_seconds
    fired = []
    for entry in registered_flows().values():
        if entry.trigger is None or not entry.enabled(runtime.settings.flows):
            continue
        slot = trigger_slot(entry.period_seconds or poll_interval, now)
        if started.get(entry.name) == slot:
            continue
        started[entry.name] = slot
        if engine.enqueue_trigger(entry.name, entry.trigger, f"trigger:{entry.name}:{slot}", lag):
            fired.append(entry.name)
    return fired


def run_worker(runtime: engine.Runtime, *, poll_interval: float, stop: threading.Event) -> None:
    """Start the triggers on every slot until ``stop`` is set; the queues' own threads do the work meanwhile."""
    for entry in registered_flows().values():
        if entry.on_worker_start is not None:
            entry.on_worker_start()
    started: dict[str, int] = {}
    while not stop.is_set():
        try:
            start_triggers(runtime, poll_interval=poll_interval, started=started)
        except Exception:  # a trigger that fails now is tried again next slot; the watermark keeps our place
            log.exception("starting the polling triggers failed")
        stop.wait(min(0.5, poll_interval / 4))


def recover(executor_id: str) -> int:
    """Adopt the pending workflows of a worker that died and won't come back, and run them to the end here.

    DBOS only puts them back on their queues, owned by this process; this process's queue threads then run
    them, so it must not shut down before they finish. Runs the dead worker had queued but not started belong
    to no worker: any live worker runs them."""
    handles = DBOS._recover_pending_workflows([executor_id])
    for handle in handles:
        try:
            engine.wait_for(handle)
        except Exception:  # its failure is the workflow's own (recorded by DBOS); the others still run
            log.exception("recovered workflow %s ended in an error", handle.workflow_id)
    return len(handles)
