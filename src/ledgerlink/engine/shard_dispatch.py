"""Change events handed on by shard without holding up the event stream.

The change-event trigger must keep a shard's runs few (a partitioned queue with a deep backlog is swept at a cost
that grows with it, and small runs each pay a read, a write-back and a checkpoint), so at most ``window`` runs per
shard are unfinished. Waiting for that room in the thread that reads the stream held back every other shard's
events behind the slowest shard (about half of the latency at 50 deals a second). Here a shard that is full keeps
its changes in memory instead; they go as one run the moment one of its runs finishes, while the stream and the
other shards go on.

Nothing is lost: the dispatcher is also the subscriber's watermark store. A replay id the subscriber saves is
written to the real store only once every event delivered up to it has been enqueued; after a crash the
subscription resumes from there and the held events come again (a run for changes already invoiced only reads).
"""

from __future__ import annotations

import logging
import os
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from dbos import DBOS, WorkflowHandle

from ledgerlink.engine import queue_wake
from ledgerlink.engine.polling import Change, RunWindow
from ledgerlink.store.watermarks import WatermarkStore

log = logging.getLogger(__name__)


UNFINISHED = frozenset({"PENDING", "ENQUEUED", "DELAYED"})
# How often a held shard's runs are looked up when no run of this process said it finished (a run another worker
# took): this process's own finished runs wake the dispatcher at once.
FINISH_LOOK_SECONDS = 0.2


class ShardDispatcher:
    """Changes in, one run per shard out (``enqueue``), at most ``window`` unfinished runs per shard. ``add`` never
    waits for room; a background thread hands a full shard's changes on when one of its runs finishes."""

    def __init__(
        self,
        enqueue: Callable[[list[Change]], WorkflowHandle[Any]],
        window: int,
        store: WatermarkStore,
        name: str = "shard-dispatch",
    ) -> None:
        self.enqueue = enqueue
        self.window = window
        self.store = store
        self.lock = threading.Lock()
        self.pending: dict[str, dict[str, str]] = {}  # shard → {record id: newest version}, not yet enqueued
        self.held_since: dict[str, int] = {}  # shard → the delivery its oldest pending change came in
        # LEDGERLINK_DISPATCH_STATS=1 (benchmarks): how long changes were held, and a finished run → the next enqueue.
        self.stats = os.environ.get("LEDGERLINK_DISPATCH_STATS") == "1"
        self.held_at: dict[str, float] = {}  # shard → when its oldest pending change came (monotonic)
        self.hint_at = 0.0
        self.held_ms: list[float] = []
        self.hop_ms: list[float] = []
        self.windows: dict[str, RunWindow] = {}
        self.deliveries = 0
        self.marks: dict[str, tuple[int, str]] = {}  # watermark → (delivery it covers, value) not yet stored
        self.started: list[str] = []  # workflow ids enqueued, oldest first
        self.wake = threading.Event()
        self.stopping = threading.Event()
        # A run of this process finishing says so at once (queue_wake.on_finish); other processes' runs are looked
        # for every FINISH_LOOK_SECONDS while a shard holds changes.
        self.hinted = False
        self.next_look = 0.0
        self.unlisten = queue_wake.on_finish(self._finished)
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    # --- the subscriber's side --------------------------------------------------------------------------------

    def add(self, changes: dict[str, tuple[str, str]]) -> None:
        """One delivery's changes (record id → (shard, version)); what has room is enqueued now."""
        with self.lock:
            self.deliveries += 1
            for record_id, (shard, version) in changes.items():
                self.pending.setdefault(shard, {})[record_id] = version
                self.held_since.setdefault(shard, self.deliveries)
                self.held_at.setdefault(shard, time.monotonic())
            self._flush()
        self.wake.set()

    def get_watermark(self, name: str) -> str | None:
        with self.lock:
            if name in self.marks:
                return self.marks[name][1]
        return self.store.get_watermark(name)

    def set_watermark(self, name: str, value: str) -> None:
        """Saved at once when nothing delivered so far waits in memory; else when the last of it is enqueued."""
        with self.lock:
            self.marks[name] = (self.deliveries, value)
            self._store_marks()

    # --- under the lock ---------------------------------------------------------------------------------------

    def _flush(self) -> None:
        for shard in list(self.pending):
            window = self.windows.setdefault(shard, RunWindow(self.window))
            if not window.full:
                # Enqueued before it is let go: if the enqueue fails, the changes (and the watermark) stay held.
                self.started.append(window.add(self.enqueue(list(self.pending[shard].items()))))
                del self.pending[shard], self.held_since[shard]
                held_at = self.held_at.pop(shard, None)
                if self.stats and held_at is not None:
                    self.held_ms.append((time.monotonic() - held_at) * 1000)
        self._store_marks()

    def _store_marks(self) -> None:
        oldest_held = min(self.held_since.values(), default=None)
        for name, (covers, value) in list(self.marks.items()):
            if oldest_held is None or covers < oldest_held:
                self.store.set_watermark(name, value)
                del self.marks[name]

    # --- the background thread --------------------------------------------------------------------------------

    def _finished(self, workflow_id: str) -> None:
        """A workflow of this process finished (called in its thread): if it is one of ours, look now."""
        try:
            ours = any(workflow_id in window.unfinished for window in list(self.windows.values()))
        except RuntimeError:  # the windows changed meanwhile: look anyway
            ours = True
        if ours:
            if self.stats and not self.hinted:
                self.hint_at = time.monotonic()
            self.hinted = True
            self.wake.set()

    def _run(self) -> None:
        """While a full shard holds changes, look which of the full shards' runs have finished (one query for them
        all) when one of this process finishes, else every FINISH_LOOK_SECONDS, and hand their changes on."""
        while not self.stopping.is_set():
            self.wake.clear()  # before looking: an ``add`` or a finished run after the look wakes the wait below
            try:
                with self.lock:
                    self._flush()  # whatever has room already (after an enqueue that failed, say)
                    owners = {
                        workflow_id: self.windows[shard]
                        for shard in self.pending
                        for workflow_id in self.windows[shard].unfinished
                    }
                if not owners:
                    self.wake.wait(0.5)
                    continue
                now = time.monotonic()
                if not self.hinted and now < self.next_look:
                    self.wake.wait(self.next_look - now)
                    continue
                self.hinted = False  # before the query: a run finishing after it hints again
                self.next_look = now + FINISH_LOOK_SECONDS
                rows = DBOS.list_workflows(workflow_ids=list(owners), load_input=False, load_output=False)
                # A run not found has finished too: its history was forgotten (engine.history), or never kept.
                going = {row.workflow_id for row in rows if row.status in UNFINISHED}
                finished = [workflow_id for workflow_id in owners if workflow_id not in going]
                if not finished:
                    continue
                with self.lock:
                    for workflow_id in finished:
                        owners[workflow_id].unfinished.pop(workflow_id, None)
                    self._flush()
                if self.stats and self.hint_at:
                    self.hop_ms.append((time.monotonic() - self.hint_at) * 1000)
                    self.hint_at = 0.0
            except Exception:
                if self.stopping.is_set():
                    return
                # e.g. the engine's database briefly unavailable: the changes stay held, the watermark unmoved.
                log.exception("handing on held change events failed; trying again")
                self.stopping.wait(1.0)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop handing on; what is still held was never acknowledged, so the next subscription delivers it."""
        self.stopping.set()
        self.wake.set()
        self.unlisten()
        self.thread.join(timeout)
        for what, values in (
            ("held (change in → its run enqueued)", self.held_ms),
            ("run finished → next enqueued", self.hop_ms),
        ):
            if self.stats and len(values) > 1:
                cuts = statistics.quantiles(values, n=100)
                log.warning("dispatch %s: p50 %.0f ms, p99 %.0f ms (%d)", what, cuts[49], cuts[98], len(values))
