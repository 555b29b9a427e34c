"""`ledgerlink worker`: one process of the engine. Any number of them may share one PostgreSQL database.

Each worker runs DBOS with a stable executor id (so after a crash its restart recovers its own pending work)
and dequeues from the shared queues. Each flow's polling trigger is enqueued by whichever worker gets there
first in each slot: the slot is in the trigger's workflow id, so DBOS runs it once however many workers ask,
and the triggers queue deduplicates by flow, so a slow trigger is never doubled by the next slot's. The nightly
reconciliation is a DBOS cron schedule, installed (idempotently) by every worker (each flow's ``on_worker_start``).
The alert rules are checked by every worker too (``start_alert_loop``); a rule's cool-down, kept in the ledger,
keeps two workers from sending the same alert twice in a row.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from dbos import DBOS

from ledgerlink.alerts import check_and_send
from ledgerlink.alerts.rules import Triggers
from ledgerlink.alerts.senders import SmtpSettings
from ledgerlink.engine import queue_wake
from ledgerlink.engine import runtime as engine
from ledgerlink.engine.flows import Flow, registered_flows
from ledgerlink.engine.settings_watch import SettingsWatch
from ledgerlink.settings import cron_slot
from ledgerlink.store import Ledger

log = logging.getLogger(__name__)


def trigger_slot(period_seconds: float, now: float | None = None) -> int:
    return int((now if now is not None else time.time()) // period_seconds)


# How long a trigger this process enqueued is taken to be still queued or running without this process hearing it
# finish: one run by another worker is asked for again (DBOS decides) after this long.
IN_FLIGHT_TRUST_SECONDS = 5.0


class TriggersInFlight:
    """The triggers this process enqueued and has not heard finish (``queue_wake.on_finish``), by flow.

    Asking DBOS to enqueue a flow's trigger while one is still queued or running is a write transaction that ends
    in a deduplication error, and the triggers queue runs two at a time, so with a dozen flows polling every
    second most asks ended so (47 of 68 in a worker's first 17 s, worker_scaling). A flow in flight here is not
    asked for until it finishes, or for ``IN_FLIGHT_TRUST_SECONDS`` (it may be another worker's run: every worker
    that asked for a slot gets its id, and the one running it hears it finish)."""

    def __init__(self, trust_seconds: float = IN_FLIGHT_TRUST_SECONDS) -> None:
        self.trust_seconds = trust_seconds
        self._lock = threading.Lock()
        self._flows: dict[str, tuple[str, float]] = {}  # flow → (workflow id, when asked, monotonic)
        self._ids: dict[str, str] = {}  # workflow id → flow
        self.close = queue_wake.on_finish(self._finished)

    def busy(self, flow: str) -> bool:
        with self._lock:
            entry = self._flows.get(flow)
            return entry is not None and time.monotonic() - entry[1] < self.trust_seconds

    def started(self, flow: str, workflow_id: str) -> None:
        with self._lock:
            old = self._flows.get(flow)
            if old is not None:
                self._ids.pop(old[0], None)
            self._flows[flow] = (workflow_id, time.monotonic())
            self._ids[workflow_id] = flow

    def _finished(self, workflow_id: str) -> None:  # in the finishing run's thread: short
        with self._lock:
            flow = self._ids.pop(workflow_id, None)
            if flow is not None:
                self._flows.pop(flow, None)


# A flow with a probe runs its trigger at least this often all the same: what a trigger does beyond the reads its
# probe mirrors (the hourly schema-drift check, a record changed again within the second its watermark names)
# waits at most this long.
FULL_POLL_SECONDS = 60.0
PROBE_WAIT_SECONDS = 5.0  # a probe that has not answered by then counts as "something to do"
# A ledger watermark per polling period ("worker.slot.every-1s"): the worker that advances it to a slot probes every
# probed flow of that period in the slot. One claim a slot, not one per flow: each is a write transaction.
SLOT_CLAIM = "worker.slot."


class Probes:
    """Flows' probes (``Flow.probe``): whether a polling slot needs a run at all. An idle poll used to be a run of
    the flow's trigger: a few checkpoints and a row of history each, every slot, for every flow.

    Of several workers, only the one that claims a slot in the ledger probes it (the others would make the same
    API calls for nothing). Probes run on a small pool, so a slow system holds up no other flow's trigger; one
    that fails or has not answered in ``wait`` seconds counts as "something to do", and the trigger runs as before.
    """

    def __init__(self, ledger: Ledger, full_every: float = FULL_POLL_SECONDS, wait: float = PROBE_WAIT_SECONDS) -> None:
        self.ledger = ledger
        self.full_every = full_every
        self.wait = wait
        self._last_run: dict[str, float] = {}  # flow → when this worker last asked for its trigger (monotonic)
        self._claims: dict[str, tuple[int, bool]] = {}  # claim → (the last slot tried, whether this worker won it)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="probe")

    def taken(self, entry: Flow, slot: int, period: float) -> bool:
        """Another worker claimed this slot of the flow's polling period (it probes the period's flows, and runs
        their triggers if need be)."""
        if entry.probe is None:
            return False
        claim = f"{SLOT_CLAIM}every-{period:g}s"
        tried, won = self._claims.get(claim, (-1, False))
        if tried != slot:
            won = self.ledger.advance_watermark(claim, f"{slot:015d}")
            self._claims[claim] = (slot, won)
        return not won

    def look(self, entry: Flow, lag: float) -> Future[bool] | None:
        """Start the flow's probe; None when the trigger should simply run (no probe, or its full run is due)."""
        last = self._last_run.get(entry.name)
        if entry.probe is None or last is None or time.monotonic() - last >= self.full_every:
            return None
        return self._pool.submit(entry.probe, lag)

    def empty(self, name: str, look: Future[bool], until: float) -> bool:
        """The probe's answer, by ``until`` (monotonic: one deadline for a slot's probes, which run side by side)."""
        try:
            return not look.result(timeout=max(0.0, until - time.monotonic()))
        except FutureTimeout:
            log.warning("the probe of %s took over %.0f s: running its trigger", name, self.wait)
        except Exception:  # unsure: the trigger's own steps retry, and report what is wrong
            log.warning("the probe of %s failed: running its trigger", name, exc_info=True)
        return False

    def ran(self, name: str) -> None:
        self._last_run[name] = time.monotonic()

    def checked(self, entries: list[Flow]) -> None:
        """These flows' probes read their sources and found nothing to do: each trigger checked successfully
        (``Ledger.trigger_checked``: one statement for them all, at most once a minute each). A probe that failed,
        timed out or found work is no check: the trigger's own run is, if it succeeds."""
        marks = [entry.watermark for entry in entries if "*" not in entry.watermark]
        if marks:
            self.ledger.trigger_checked(*marks)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def start_triggers(
    runtime: engine.Runtime,
    *,
    poll_interval: float,
    started: dict[str, int],
    in_flight: TriggersInFlight | None = None,
    probes: Probes | None = None,
) -> list[str]:
    """Enqueue each enabled flow's trigger for the current slot, unless this slot's already ran or one is still
    waiting or running (DBOS deduplicates by flow on the triggers queue; ``in_flight``, when given, spares asking
    it about those this process knows to be). With ``probes``, a polling slot a flow's probe finds empty is spent
    without a run. Returns the flows started."""
    now = time.time()
    lag = runtime.settings.poll_lag_seconds
    flows = runtime.settings.flows
    due: list[tuple[Flow, str, Future[bool] | None]] = []
    for entry in registered_flows().values():
        if entry.trigger is None or not (entry.enabled(flows) and flows.is_enabled(entry.name)):
            continue
        schedule = flows.schedules.get(entry.name)
        cron = schedule.cron if schedule is not None else None
        if cron:
            # On a clock: the first slot a worker sees is the one already past, so it waits for the next.
            slot = cron_slot(cron, now)
            started.setdefault(entry.name, slot)
        else:
            interval = schedule.interval_seconds if schedule is not None else None
            period = interval or entry.period_seconds or poll_interval
            slot = trigger_slot(period, now)
        if started.get(entry.name) == slot:
            continue
        started[entry.name] = slot
        if in_flight is not None and in_flight.busy(entry.name):
            continue  # DBOS would deduplicate it: this slot is spent as it would have been
        look = None
        if probes is not None and not cron:  # a run a user put on a clock runs, changes or not
            if probes.taken(entry, slot, period):
                continue
            look = probes.look(entry, lag)
        due.append((entry, f"trigger:{entry.name}:{slot}", look))
    fired = []
    quiet: list[Flow] = []
    until = time.monotonic() + (probes.wait if probes is not None else 0.0)
    for entry, workflow_id, look in due:  # the probes ran side by side meanwhile
        assert entry.trigger is not None
        if probes is not None and look is not None and probes.empty(entry.name, look, until):
            quiet.append(entry)
            continue  # nothing to do: this slot is spent without a run
        if engine.enqueue_trigger(entry.name, entry.trigger, workflow_id, lag):
            fired.append(entry.name)
            if in_flight is not None:
                in_flight.started(entry.name, workflow_id)
        if probes is not None:
            probes.ran(entry.name)
    if probes is not None and quiet:
        probes.checked(quiet)
    return fired


def settle_heap() -> None:
    """Take what start-up made out of the garbage collector's sight: the ~180,000 objects of the modules, DBOS, the
    flows and the clients, which live as long as the worker. Without this every full collection walks them all
    again (a worker invoicing 1,000 deals spent 0.40–0.47 s in full collections, 0.19–0.28 s with it, start-up's
    own included). Garbage is collected first, so none is frozen; a frozen object dropped later is still freed by
    its reference count, and only one caught in a reference cycle would stay (a settings reload's, at most).
    The command line starts a worker with the collector off (``cli.entry``): this turns it on."""
    gc.collect()
    gc.freeze()
    gc.enable()


ALERT_INTERVAL_SECONDS = 60.0


def start_alert_loop(
    ledger: Ledger,
    smtp: Callable[[], SmtpSettings | None],
    stop: threading.Event,
    interval_seconds: float = ALERT_INTERVAL_SECONDS,
    triggers: Callable[[], Triggers] = dict,
) -> threading.Thread:
    """Check the alert rules every ``interval_seconds`` until ``stop`` is set (a thread of the worker). ``triggers``
    gives the enabled flows' trigger watermarks at each pass (the settings may be reloaded meanwhile)."""

    def loop() -> None:
        while not stop.wait(interval_seconds):
            try:
                check_and_send(ledger, smtp, triggers=triggers())
            except Exception:  # one bad pass must not end alerting
                log.exception("alert check failed")

    thread = threading.Thread(target=loop, name="alerts", daemon=True)
    thread.start()
    return thread


def run_worker(runtime: engine.Runtime, *, poll_interval: float, stop: threading.Event) -> None:
    """Start the triggers on every slot until ``stop`` is set; the queues' own threads do the work meanwhile. An
    edit of the settings file is applied between slots (``SettingsWatch``): a flow switched off starts no trigger
    from its next slot on, a new schedule or policy holds for the next runs."""
    for entry in registered_flows().values():
        if entry.on_worker_start is not None:
            entry.on_worker_start()
    started: dict[str, int] = {}
    in_flight = TriggersInFlight() if runtime.hears_finishes else None
    probes = Probes(runtime.ledger)
    settings_watch = SettingsWatch(runtime)
    try:
        while not stop.is_set():
            if settings_watch.due():
                try:
                    settings_watch.check()
                except Exception:  # the worker goes on with the settings it has
                    log.exception("applying the settings file failed")
            try:
                start_triggers(
                    runtime, poll_interval=poll_interval, started=started, in_flight=in_flight, probes=probes
                )
            except Exception:  # a trigger that fails now is tried again next slot; the watermark keeps our place
                log.exception("starting the polling triggers failed")
            stop.wait(min(0.5, poll_interval / 4))
    finally:
        probes.close()
        if in_flight is not None:
            in_flight.close()


def recover(executor_id: str) -> int:
    """Adopt the pending workflows of a worker that died and won't come back, and run them to the end here.

    DBOS only puts them back on their queues, owned by this process; this process's queue threads then run
    them, so it must not shut down before they finish. Runs the dead worker had queued but not started belong
    to no worker: any live worker runs them."""
    handles = DBOS._recover_pending_workflows([executor_id])
    queue_wake.poke_all()  # they are back on their queues: start them now, not on the next timed look
    for handle in handles:
        try:
            engine.wait_for(handle)
        except Exception:  # its failure is the workflow's own (recorded by DBOS); the others still run
            log.exception("recovered workflow %s ended in an error", handle.workflow_id)
    return len(handles)
