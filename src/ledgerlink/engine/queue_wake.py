"""A queued run starts when its work arrives, not when a timer next fires.

DBOS starts a queued run only when its queue's worker thread next looks at the queue, every
``polling_interval_sec`` (DBOS 3.4 ``_queue.queue_worker_thread`` waits out the interval whatever happens
meanwhile). A run enqueued by this very process, or the next run of a shard whose run just finished here, waited
about half an interval; looking more often costs a write transaction per look even on an idle queue.

So each of LedgerLink's queues is looked at by a thread of ours running DBOS's own worker loop (the same claims,
limits and partition rules), with a stop event that also wakes the loop when this process enqueues to that queue
(``enqueued``, from ``runtime.enqueue_record``, unless the run's partition has a run going here) or finishes a run
that came from it while a run it enqueued still waits (DBOS's active-workflow set tells us both). DBOS's own
threads are told not to look at those queues (``DBOS.listen_queues``), so each queue still has one looker per
process. The timed look stays, for work enqueued or freed by other processes.

The background lanes (invoice PDFs) yield to the record queues (``YieldingStop``): while a record queue of this
process has runs going or waiting, a lane starts nothing until its oldest run has waited ``yield_seconds``, then a
trickle (``while_busy`` at once), and all its slots once the records pause. The runs share one interpreter: at 50
deals a second the PDF runs beside the invoice runs doubled the write-back's latency (benchmarks/README.md,
event_latency round 6).

The same completion signal wakes whoever waits for a run of this process to finish (``on_finish``), instead of a
timer polling its status. Both use DBOS internals (marked below); if they are not there (another DBOS version),
``install`` says so and DBOS's own timed threads run as before. The upstream-ready issue text for doing this in
DBOS itself is in benchmarks/README.md (event_latency).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from dbos import DBOS
from sqlalchemy import select

log = logging.getLogger(__name__)

# Private DBOS pieces this module leans on (3.4): the queue worker loop, the set of running workflows.
try:
    from dbos._core import ActiveWorkflowById
    from dbos._queue import queue_worker_thread
except ImportError:  # pragma: no cover - another DBOS version: its own timed threads serve the queues
    ActiveWorkflowById = None  # type: ignore[assignment,misc]
    queue_worker_thread = None  # type: ignore[assignment]


# Pokes that come while a look is recent wait a little and go in one look: each look is a write transaction (and
# a read of the queue's settings), and at 50 deals a second pokes come faster than looks are worth making. The
# pause is a multiple of the last look's own length, so a machine short of CPU looks less often (down to DBOS's old
# 0.1 s timer), an idle one at once.
LOOK_GAP_FACTOR = 2.0
LOOK_GAP_SECONDS = (0.005, 0.1)
# The timed look (for work other processes enqueue or free) of a queue whose looks keep finding nothing to start
# backs off, doubling up to this: at 0.5 s, four idle queues' looks were over half of all looks a worker made at 25
# deals a second. A poke, or a look that starts a run, brings it back to the queue's own interval.
IDLE_LOOK_SECONDS = 2.0


def stretched(timeout: float, idle_looks: int) -> float:
    """The timed look's wait after ``idle_looks`` looks in a row started nothing: doubled from the second such look,
    up to IDLE_LOOK_SECONDS (never shorter than the queue's own interval)."""
    if idle_looks <= 1:
        return timeout
    return max(timeout, min(IDLE_LOOK_SECONDS, timeout * 2 ** min(idle_looks - 1, 4)))


class WakeableStop(threading.Event):
    """A stop event whose ``wait`` also returns (False) when poked: DBOS's queue loop waits on its stop event
    between looks, so a poke makes it look at once (or, right after a look, after a short gap). A poke during a
    look is kept for the next wait."""

    def __init__(self) -> None:
        super().__init__()
        self.poke = threading.Event()
        self.look_started = time.monotonic()
        self.looks = 0  # looks at the queue so far (LEDGERLINK_DISPATCH_STATS=1 logs them at the stop)
        self.started_since_look = False  # a run of this queue started here since the last look began
        self.idle_looks = 0  # looks in a row that started nothing

    def set(self) -> None:
        super().set()
        self.poke.set()

    def wait(self, timeout: float | None = None) -> bool:
        if not self.is_set():
            look_ended = time.monotonic()
            gap = LOOK_GAP_FACTOR * (look_ended - self.look_started)
            gap = min(max(gap, LOOK_GAP_SECONDS[0]), LOOK_GAP_SECONDS[1])
            self.idle_looks = 0 if self.started_since_look else self.idle_looks + 1
            self.started_since_look = False
            if timeout is not None:
                timeout = stretched(timeout, self.idle_looks)
            if self.poke.wait(timeout):
                self.idle_looks = 0
                pause = look_ended + gap - time.monotonic()
                if pause > 0:
                    super().wait(pause)  # more pokes meanwhile go in the same look; a stop ends the pause
            self.poke.clear()  # after the wait, before the look: a poke from now on wakes the next wait
        self.look_started = time.monotonic()
        self.looks += 1
        return self.is_set()


class YieldingStop(WakeableStop):
    """A background lane's stop event. Before each look it sets how many runs the lane may start (DBOS reads the
    queue's ``_worker_concurrency`` at each look): ``full`` while the record queues are idle; none while they are
    busy, until the lane's oldest run enqueued here has waited ``yield_seconds``; then ``while_busy``, so a flood
    that never pauses still gets its PDFs. A look that could start nothing is not made (it is a write transaction)."""

    def __init__(self, queue: Any, full: int, while_busy: int, yield_seconds: float) -> None:
        super().__init__()
        self.queue = queue
        self.full = full
        self.while_busy = min(full, while_busy)
        self.yield_seconds = yield_seconds
        self.queued: OrderedDict[str, float] = OrderedDict()  # runs enqueued here, not started: id → when
        self.busy_looks = 0  # looks made while the records were busy (LEDGERLINK_DISPATCH_STATS=1)

    def room(self, busy: bool) -> int:
        if not busy:
            return self.full
        with _lock:
            oldest = next(iter(self.queued.values()), None)
        starved = oldest is not None and time.monotonic() - oldest >= self.yield_seconds
        return self.while_busy if starved else 0

    def wait(self, timeout: float | None = None) -> bool:
        if super().wait(timeout):
            return True
        while True:
            # The other workers' record runs count too, looked up only while this lane's looks find work.
            busy = _records_busy() or (self.idle_looks <= 1 and _records_busy_elsewhere(self.yield_seconds))
            room = self.room(busy)
            if not busy or (_active is not None and _active.count_for_queue(self.queue.name) < room):
                break
            # Nothing to start while the records are busy: wait for a lane run to finish, or for them to pause.
            self.poke.wait(RECORDS_QUIET_SECONDS)
            self.poke.clear()
            if self.is_set():
                return True
        self.busy_looks += busy
        self.queue._worker_concurrency = room  # private to DBOS 3.4
        return False

    def enqueued(self, workflow_id: str) -> None:
        with _lock:
            self.queued[workflow_id] = time.monotonic()
            if len(self.queued) > MAX_TRACKED_RUNS:
                self.queued.popitem(last=False)

    def started(self, workflow_id: str) -> None:
        with _lock:
            self.queued.pop(workflow_id, None)
            if self.idle_looks > 1:  # looks keep finding nothing: what is left here was taken by another worker
                self.queued.clear()


# A lane remembers at most this many of its waiting runs (the oldest is what counts; older ones dropped first).
MAX_TRACKED_RUNS = 100_000


_lock = threading.Lock()
_stops: dict[str, WakeableStop] = {}
# The record queues (the lanes yield to them) and how many of their runs are going in this process.
_record_queues: frozenset[str] = frozenset()
_records_running = 0
_records_finished_at = 0.0  # when a record run last finished here (monotonic)
# Record runs come in waves (the shards' runs share the interpreter, so they tend to end together, and the next
# ones start when the dispatcher hands their changes on): a gap shorter than this between waves is still busy.
RECORDS_QUIET_SECONDS = 0.5
_listeners: list[Callable[[str], None]] = []
# Runs this process enqueued that have not started here yet, by queue: workflow id → (partition key, when). A run
# finishing here pokes its queue only while one of these waits: with one run per shard at a time, the shard's next
# run is usually enqueued after the finish (and pokes then), so a poke at the finish would be a look for nothing.
# Entries older than FORGET_SECONDS are dropped (another worker may have started them; the timed look covers it).
_waiting: dict[str, dict[str, tuple[str | None, float]]] = {}
FORGET_SECONDS = 5.0
# DBOS's set of this process's running workflows, ours since ``install`` (which partitions have a run going here).
_active: Any = None


def poke(queue_name: str) -> None:
    """Work for ``queue_name`` arrived in this process (committed): look at the queue now."""
    stop = _stops.get(queue_name)
    if stop is not None:
        stop.poke.set()


def enqueued(queue_name: str, workflow_id: str, partition: str | None = None) -> None:
    """This process committed a run to ``queue_name``: look now, unless its partition has a run going here (that
    run's finish looks, since this one waits)."""
    with _lock:
        _waiting.setdefault(queue_name, {})[workflow_id] = (partition, time.monotonic())
        lane = _stops.get(queue_name)
    if isinstance(lane, YieldingStop):
        lane.enqueued(workflow_id)
    if partition is not None and _active is not None and _active.count_for_partition(queue_name, partition) > 0:
        return
    poke(queue_name)


def _still_waiting(queue_name: str) -> bool:
    with _lock:
        waiting = _waiting.get(queue_name)
        if not waiting:
            return False
        cutoff = time.monotonic() - FORGET_SECONDS
        for workflow_id in [w for w, (_, at) in waiting.items() if at < cutoff]:
            del waiting[workflow_id]
        return bool(waiting)


def _records_busy() -> bool:
    """A record queue of this process has a run going, one it enqueued that has not started yet, or one that
    finished less than RECORDS_QUIET_SECONDS ago."""
    with _lock:
        if _records_running > 0 or time.monotonic() - _records_finished_at < RECORDS_QUIET_SECONDS:
            return True
        return any(_waiting.get(name) for name in _record_queues)


# Another worker's record runs: a lane that yielded to its own process's only started PDFs beside the other worker's
# invoicing (two workers invoiced 1,000 deals in 4.9-6.6 s with the PDFs on, 3.5-4.7 s with them off). The system
# database tells (any record run enqueued or going); asked at most every RECORDS_QUIET_SECONDS. Only runs that moved
# within the lane's yield count: a run left PENDING by a worker that died (until ``ledgerlink recover``), or the runs
# queued behind it in its shard, must not hold every other worker's PDFs back for good.
_elsewhere: tuple[float, bool] = (-RECORDS_QUIET_SECONDS, False)


def _records_busy_elsewhere(within_seconds: float) -> bool:
    global _elsewhere
    asked_at, busy = _elsewhere
    now = time.monotonic()
    if now - asked_at >= RECORDS_QUIET_SECONDS:
        busy = _record_runs_anywhere(within_seconds)
        _elsewhere = (now, busy)
    return busy


def _record_runs_anywhere(within_seconds: float) -> bool:
    """Whether a record queue has a run enqueued or going in any process, changed within ``within_seconds`` (DBOS's
    system database: private to 3.4; unsure answers "no", so a lane never waits on a question it cannot ask)."""
    if not _record_queues:
        return False
    try:
        from dbos._dbos import _get_dbos_instance

        sys_db: Any = _get_dbos_instance()._sys_db
        runs = sys_db.tables.workflow_status
        query = (
            select(runs.c.workflow_uuid)
            .where(runs.c.queue_name.in_(sorted(_record_queues)), runs.c.status.in_(["ENQUEUED", "PENDING"]))
            .where(runs.c.updated_at >= int((time.time() - within_seconds) * 1000))
            .limit(1)
        )
        with sys_db.engine.connect() as connection:
            return connection.execute(query).first() is not None
    except Exception:
        log.debug("could not ask the system database about the record queues", exc_info=True)
        return False


def _started(workflow_id: str, queue_name: str | None) -> None:
    global _records_running
    if queue_name is None:
        return
    with _lock:
        if queue_name in _record_queues:
            _records_running += 1
        waiting = _waiting.get(queue_name)
        if waiting:
            waiting.pop(workflow_id, None)
        stop = _stops.get(queue_name)
    if stop is not None:
        stop.started_since_look = True
    if isinstance(stop, YieldingStop):
        stop.started(workflow_id)


def poke_all() -> None:
    """Look at every queue now (runs put back on the queues by a recovery, say)."""
    for stop in list(_stops.values()):
        stop.poke.set()


def on_finish(listener: Callable[[str], None]) -> Callable[[], None]:
    """Call ``listener(workflow_id)`` whenever a workflow of this process finishes (its outcome recorded; also
    when an execution is parked, so check the status). It runs in the finishing thread: keep it short. Returns
    the function that removes it."""
    with _lock:
        _listeners.append(listener)

    def remove() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return remove


def _finished(workflow_id: str, queue_name: str | None) -> None:
    global _records_running, _records_finished_at
    if queue_name is not None and _still_waiting(queue_name):
        poke(queue_name)  # its slot (and its partition) is free: a run waiting for it may start
    elif isinstance(lane := _stops.get(queue_name or ""), YieldingStop) and lane.idle_looks == 0:
        # A lane catching up on runs that waited out the records (older than FORGET_SECONDS): its last look started
        # runs, so more are likely queued; without this it would go at one look per timed interval.
        lane.poke.set()
    if queue_name in _record_queues:
        with _lock:
            _records_running = max(0, _records_running - 1)
            _records_finished_at = time.monotonic()
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(workflow_id)
        except Exception:  # a listener must never fail the workflow's own bookkeeping
            log.exception("a workflow-finished listener failed")


if ActiveWorkflowById is not None:

    class _NotifyingActiveWorkflows(ActiveWorkflowById):
        """DBOS's set of this process's running workflows; an entry leaves it once the run's outcome is
        recorded (``_execute_workflow_wthread``'s ``finally``), which is when its queue slot is free."""

        def add(self, key: str, queue_name: str | None = None, queue_partition_key: str | None = None) -> Any:
            _started(key, queue_name)
            return super().add(key, queue_name, queue_partition_key)

        def _remove(self, key: str, bucket: Any) -> None:
            super()._remove(key, bucket)
            _finished(key, bucket[0] if bucket is not None else None)


def enabled() -> bool:
    """On unless ``LEDGERLINK_QUEUE_WAKE=0`` (DBOS's own timed threads, to measure against)."""
    return os.environ.get("LEDGERLINK_QUEUE_WAKE", "1") != "0"


def supported() -> bool:
    return queue_worker_thread is not None and ActiveWorkflowById is not None


def install() -> bool:
    """Before ``DBOS.launch``: DBOS's own threads leave LedgerLink's queues to ours (``serve``), and finishing
    runs are reported. False (and nothing changed) when this DBOS lacks what it needs."""
    try:
        from dbos._dbos import _get_dbos_instance

        dbos: Any = _get_dbos_instance()
    except Exception:
        dbos = None
    global _active
    _active = None
    if not supported() or dbos is None or not hasattr(dbos, "background_thread_stop_events"):
        log.warning("this DBOS version has no queue loop to wake: queued runs start on DBOS's own timer")
        return False
    _active = dbos._active_workflows_set = _NotifyingActiveWorkflows()
    DBOS.listen_queues([])  # DBOS's own internal queues are always served by its own threads
    return True


def serve(
    queues: dict[str, Any],
    records: set[str] | None = None,
    lanes: set[str] | None = None,
    while_busy: int = 1,
    yield_seconds: float = 120.0,
) -> None:
    """After ``DBOS.launch`` and the queues' registration: one thread per queue running DBOS's worker loop with a
    stop event ``poke`` wakes. ``records`` are the record queues; ``lanes`` the background lanes that yield to
    them (``YieldingStop``). ``DBOS.destroy`` stops them with its own threads."""
    from dbos._dbos import _get_dbos_instance

    global _record_queues, _records_running, _records_finished_at
    dbos = _get_dbos_instance()
    lanes = lanes or set()
    with _lock:
        _stops.clear()
        _waiting.clear()
        _record_queues = frozenset(records or ())
        _records_running = 0
        _records_finished_at = 0.0
    for name, queue in queues.items():
        stop: WakeableStop
        if name in lanes:
            full = queue._worker_concurrency or 1
            stop = YieldingStop(queue, full, while_busy, yield_seconds)
        else:
            stop = WakeableStop()
        dbos.background_thread_stop_events.append(stop)
        with _lock:
            _stops[name] = stop
        thread = threading.Thread(target=_loop, args=(stop, dbos, queue), name=f"ledgerlink-queue-{name}", daemon=True)
        thread.start()


def _loop(stop: WakeableStop, dbos: Any, queue: Any) -> None:
    while not stop.is_set():
        try:
            queue_worker_thread(stop, dbos, queue)  # returns when stopped (or the queue's row is gone)
        except Exception:
            log.exception("the worker loop of queue %s failed; restarting it", queue.name)
        stop.wait(1.0)
    if os.environ.get("LEDGERLINK_DISPATCH_STATS") == "1":
        log.warning("queue %s: %d looks (%d busy)", queue.name, stop.looks, getattr(stop, "busy_looks", 0))


def stop_all() -> None:
    """Stop our queue threads (``DBOS.destroy`` does too) and forget them."""
    with _lock:
        stops = dict(_stops)
        _stops.clear()
    for stop in stops.values():
        stop.set()
