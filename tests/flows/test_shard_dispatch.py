"""The change-event trigger's dispatcher: a shard whose runs are busy holds its changes without holding back the
other shards, and the subscription's replay id is stored only once every change delivered up to it is enqueued."""

from __future__ import annotations

import threading
from typing import Any, cast

import pytest
from dbos import DBOS, SetWorkflowID, WorkflowHandle

from ledgerlink.engine.polling import Change
from ledgerlink.engine.shard_dispatch import ShardDispatcher
from tests.cdc.conftest import MemoryWatermarks
from tests.engine.conftest import wait_until
from tests.flows.conftest import FlowEnv

GATES: dict[str, threading.Event] = {}  # a run for these records waits until its gate opens


@DBOS.workflow(name="test_shard_dispatch_run")
def _run(record_ids: list[str]) -> list[str]:
    for record_id in record_ids:
        if record_id in GATES:
            GATES[record_id].wait(30)
    return record_ids


def test_a_busy_shard_holds_its_changes_and_the_watermark_but_not_the_other_shards(flow_env: FlowEnv) -> None:
    batches: list[list[Change]] = []

    def enqueue(batch: list[Change]) -> WorkflowHandle[Any]:
        batches.append(batch)
        with SetWorkflowID(f"test-dispatch-{len(batches)}"):
            return DBOS.start_workflow(_run, [record_id for record_id, _ in batch])

    GATES["a1"] = threading.Event()
    store = MemoryWatermarks()
    dispatcher = ShardDispatcher(enqueue, window=1, store=store, name="test-dispatch")
    try:
        dispatcher.add({"a1": ("A", "v1")})  # shard A's run starts and waits at its gate
        dispatcher.set_watermark("w", "01")
        assert batches == [[("a1", "v1")]] and store.values == {"w": "01"}

        # Shard A is full: its next changes wait in memory, newest version per record, and so does the watermark.
        dispatcher.add({"a2": ("A", "v2")})
        dispatcher.set_watermark("w", "02")
        dispatcher.add({"a2": ("A", "v3"), "b1": ("B", "v1")})
        dispatcher.set_watermark("w", "03")
        assert batches == [[("a1", "v1")], [("b1", "v1")]]  # shard B did not wait behind shard A
        assert store.values == {"w": "01"}  # a crash now re-delivers a2
        assert dispatcher.get_watermark("w") == "03"  # the subscription itself reads on from where it is

        GATES["a1"].set()  # A's run finishes: its held changes go as one run, and the watermark follows
        assert wait_until(lambda: len(batches) == 3, timeout=10, interval=0.02), batches
        assert batches[2] == [("a2", "v3")]
        assert wait_until(lambda: store.values == {"w": "03"}, timeout=10, interval=0.02), store.values
        assert dispatcher.started == [f"test-dispatch-{n}" for n in (1, 2, 3)]
    finally:
        GATES["a1"].set()
        dispatcher.stop()


def test_changes_whose_enqueue_failed_stay_held_and_go_on_the_next_try(flow_env: FlowEnv) -> None:
    attempts: list[list[Change]] = []

    def enqueue(batch: list[Change]) -> WorkflowHandle[Any]:
        attempts.append(batch)
        if len(attempts) == 1:
            raise ConnectionError("the engine's database dropped the connection")
        with SetWorkflowID(f"test-dispatch-retry-{len(attempts)}"):
            return DBOS.start_workflow(_run, [record_id for record_id, _ in batch])

    store = MemoryWatermarks()
    dispatcher = ShardDispatcher(enqueue, window=1, store=store, name="test-dispatch-retry")
    try:
        with pytest.raises(ConnectionError):  # the subscriber sees it and does not save this delivery's replay id
            dispatcher.add({"c1": ("C", "v1")})
        assert store.values == {}
        assert wait_until(lambda: dispatcher.started == ["test-dispatch-retry-2"], timeout=10, interval=0.02)
        assert attempts == [[("c1", "v1")], [("c1", "v1")]]
        dispatcher.set_watermark("w", "01")
        assert store.values == {"w": "01"}
    finally:
        dispatcher.stop()


class _ForgottenRun:
    """The handle of a run whose history is gone (engine.history forgot it, or the row was never kept)."""

    workflow_id = "test-dispatch-forgotten-1"


def test_a_run_whose_history_was_forgotten_counts_as_finished(flow_env: FlowEnv) -> None:
    batches: list[list[Change]] = []

    def enqueue(batch: list[Change]) -> WorkflowHandle[Any]:
        batches.append(batch)
        if len(batches) == 1:
            return cast(WorkflowHandle[Any], _ForgottenRun())
        with SetWorkflowID(f"test-dispatch-forgotten-{len(batches)}"):
            return DBOS.start_workflow(_run, [record_id for record_id, _ in batch])

    dispatcher = ShardDispatcher(enqueue, window=1, store=MemoryWatermarks(), name="test-dispatch-forgotten")
    try:
        dispatcher.add({"d1": ("D", "v1")})
        dispatcher.add({"d2": ("D", "v1")})  # shard D is full: held until its run is seen finished
        # Not found in DBOS is finished: the held change goes on, the shard is not stuck for ever.
        assert wait_until(lambda: len(batches) == 2, timeout=10, interval=0.02), batches
        assert batches[1] == [("d2", "v1")]
    finally:
        dispatcher.stop()
