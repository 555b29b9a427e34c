"""Watermark polling: the trigger that loses nothing.

A flow's trigger reads its source a page at a time after a saved watermark (the source system says how), and the
watermark is saved only after a page has been durably handed on (enqueued in DBOS). The poll itself
is a workflow in each flow module (``flows/opportunity_to_invoice.poll_won_opportunities``) that calls ``drain``.

A page's records go on in batches, one run per batch of records of one shard (``runtime.shard_key``), as the
change-event trigger hands them on: a backfill costs a few checkpoints per batch, not per record.
``BatchMember`` gives callers that wait for records (the demo, the tests, ``ledgerlink sync``) one handle per
record all the same.

Polling is the catch-up path, and a backfill goes through it, so ``drain`` keeps at most a window of its runs
waiting in the queue: a change event enqueued meanwhile competes with that window, not with the whole backfill.
(DBOS sweeps a partitioned queue's partitions, the shards, in random order: priorities alone would not let it
overtake a backfill's runs in other shards.)
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from dbos import DBOS, WorkflowHandle, WorkflowStatus

from ledgerlink.engine.flows import get_flow
from ledgerlink.engine.runtime import (
    BACKFILL_PRIORITY,
    REALTIME_PRIORITY,
    RESULT_POLL_SECONDS,
    current,
    enqueue_batch,
    shard_key,
)

R = TypeVar("R")
Change = tuple[str, str]  # (record id, version): the version is the SystemModstamp read or the event's commit time


class RunWindow:
    """At most ``size`` runs unfinished: ``admit`` waits until one of them finishes when the window is full.

    Used by triggers to keep their backlog out of DBOS's queue: a partitioned queue is swept in random order,
    so a deep backlog is unfair to its oldest runs and to the change events behind it. Waiting here keeps the order
    and costs nothing while it waits. Inside a workflow the wait is a
    durable step (DBOS.wait_first), so a recovered trigger replays it."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self.unfinished: dict[str, WorkflowHandle[Any]] = {}

    @property
    def full(self) -> bool:
        return len(self.unfinished) >= self.size

    def admit(self) -> None:
        while self.full:
            done = DBOS.wait_first(list(self.unfinished.values()), polling_interval_sec=RESULT_POLL_SECONDS)
            del self.unfinished[done.workflow_id]

    def add(self, handle: WorkflowHandle[Any]) -> str:
        self.unfinished[handle.workflow_id] = handle
        return handle.workflow_id


def batch_run_id(flow: str, changes: list[Change]) -> str:
    """One id per set of changes: the same changes handed on twice (a recovered trigger replays its page, a
    restarted subscription re-delivers the events it had in hand) are the same run."""
    digest = hashlib.sha256(repr(sorted(changes)).encode()).hexdigest()[:24]
    return f"{flow}:batch:{changes[0][0]}+{len(changes) - 1}:{digest}"


def enqueue(flow: str, changes: list[Change], priority: int = REALTIME_PRIORITY) -> WorkflowHandle[Any]:
    """The one way records are handed to a flow: one run of ``flow``'s batch workflow for ``changes`` (record id,
    version) of one shard, on the queue of the connection the flow writes to, with the id ``batch_run_id`` gives
    them (the same changes handed on twice are the same run)."""
    entry = get_flow(flow)
    if entry.batch is None:
        raise ValueError(f"the flow {flow} takes no batches of records")
    record_ids = [record_id for record_id, _ in changes]
    run_id = batch_run_id(flow, changes)
    return enqueue_batch(
        entry.batch,
        flow,
        record_ids,
        workflow_id=run_id,
        connection=entry.writes_to,
        priority=priority,
        lane=entry.lane,
    )


def shard_batches(flow: str, changes: list[Change], size: int) -> list[list[Change]]:
    """``changes`` as batches of at most ``size`` records of one shard each, in the order of their oldest record."""
    by_shard: dict[str, list[Change]] = {}
    for change in changes:
        by_shard.setdefault(shard_key(flow, change[0]), []).append(change)
    batches = [group[i : i + max(1, size)] for group in by_shard.values() for i in range(0, len(group), max(1, size))]
    order = {change[0]: n for n, change in enumerate(changes)}
    return sorted(batches, key=lambda batch: order[batch[0][0]])


@DBOS.step(name="ledgerlink.engine.polling.backfill_limits")
def backfill_limits() -> tuple[int, int]:
    """The window and the batch size, read once per trigger run and checkpointed: a trigger recovered after the
    settings changed replays with those it started with, so its steps come in the same order."""
    settings = current().settings
    return settings.backfill_window, settings.backfill_batch


def drain(
    flow: str,
    read: Callable[[float], dict[str, Any]],
    save: Callable[[str], None],
    lag_seconds: float,
    page_size: int,
) -> dict[str, list[str]]:
    """The polling loop (call it from the flow's trigger workflow): each page is enqueued before the watermark
    moves past it, so a worker killed mid-poll resumes exactly there. ``read`` returns a page: ``records`` (Id,
    SystemModstamp) to run, ``position`` after the page, ``seen`` (records read); each batch of one shard goes on
    through ``enqueue``. Returns the runs it started, each with its record ids in order.

    At most ``EngineSettings.backfill_window`` of its runs are unfinished at a time: before enqueuing one more,
    it waits (durably, DBOS.wait_first) for any of them to finish.

    Once the source is read to the end, the flow's trigger has checked successfully (``Ledger.trigger_checked``,
    at most once a minute): what the stalled-trigger alert rules read while a quiet source leaves the watermark
    still. A read that fails raises before that."""
    window_size, batch_size = backfill_limits()
    window = RunWindow(window_size)
    started: dict[str, list[str]] = {}
    while True:
        page = read(lag_seconds)
        changes = [(record["Id"], record["SystemModstamp"]) for record in page["records"]]
        for batch in shard_batches(flow, changes, batch_size):
            window.admit()
            started[window.add(enqueue(flow, batch, BACKFILL_PRIORITY))] = [record_id for record_id, _ in batch]
        if page["position"]:
            save(page["position"])
        if page["seen"] < page_size:
            current().ledger.trigger_checked(get_flow(flow).watermark)
            return started


class _BatchResult(Generic[R]):
    """A batch run's result, fetched once for all its members."""

    def __init__(self, handle: WorkflowHandle[list[R]]) -> None:
        self.handle = handle
        self.lock = threading.Lock()
        self.result: list[R] | None = None

    def get(self, polling_interval_sec: float) -> list[R]:
        with self.lock:
            if self.result is None:
                self.result = self.handle.get_result(polling_interval_sec=polling_interval_sec)
            return self.result


class BatchMember(Generic[R]):
    """One record of a batch run, as a workflow handle: its result is that record's outcome (a batch run returns
    one per record, in the order of its ids). The id and status are the batch run's."""

    def __init__(self, batch: _BatchResult[R], index: int) -> None:
        self.batch = batch
        self.index = index
        self.workflow_id = batch.handle.workflow_id
        self.shard_key = batch.handle.shard_key

    def get_workflow_id(self) -> str:
        return self.workflow_id

    def get_result(self, *, polling_interval_sec: float = RESULT_POLL_SECONDS) -> R:
        return self.batch.get(polling_interval_sec)[self.index]

    def get_status(self) -> WorkflowStatus:
        return self.batch.handle.get_status()


def record_handles(started: dict[str, list[str]]) -> list[WorkflowHandle[Any]]:
    """A handle per record for the runs ``drain`` started (its trigger's result), in the order they started."""
    handles: list[WorkflowHandle[Any]] = []
    for run_id, record_ids in started.items():
        batch: _BatchResult[Any] = _BatchResult(DBOS.retrieve_workflow(run_id))
        handles.extend(BatchMember(batch, index) for index in range(len(record_ids)))
    return handles
