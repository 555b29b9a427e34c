"""`ledgerlink worker`: one process of the engine. Any number of them may share one PostgreSQL database.

Each worker runs DBOS with a stable executor id (so after a crash its restart recovers its own pending work)
and dequeues from the shared queues. Triggers are started by whichever worker gets there first in each polling
slot: the slot number is the trigger workflow's id, so DBOS runs it once however many workers ask.
"""

from __future__ import annotations

import logging
import threading
import time

from dbos import DBOS, SetWorkflowID

from ledgerlink.engine import runtime as engine
from ledgerlink.flows import opportunity_to_invoice as o2i

log = logging.getLogger(__name__)


def trigger_slot(poll_interval: float, now: float | None = None) -> int:
    return int((now if now is not None else time.time()) // poll_interval)


def start_poll(slot: int, lag_seconds: float) -> None:
    """Start this slot's polling run unless another worker already has (same id: DBOS runs it once)."""
    with SetWorkflowID(f"poll:{o2i.FLOW}:{slot}"):
        DBOS.start_workflow(o2i.poll_won_opportunities, lag_seconds)


def run_worker(runtime: engine.Runtime, *, poll_interval: float, stop: threading.Event) -> None:
    """Poll on every slot until ``stop`` is set; the queues' own threads do the work meanwhile."""
    lag = runtime.settings.poll_lag_seconds
    last_slot = -1
    while not stop.is_set():
        slot = trigger_slot(poll_interval)
        if slot != last_slot:
            try:
                start_poll(slot, lag)
            except Exception:  # a trigger that fails now is tried again next slot; the watermark keeps our place
                log.exception("polling trigger failed to start")
            last_slot = slot
        stop.wait(min(0.5, poll_interval / 4))


def recover(executor_id: str) -> int:
    """Adopt and resume the pending workflows of a worker that died and won't come back."""
    handles = DBOS._recover_pending_workflows([executor_id])
    return len(handles)
