"""Queued runs start when this process enqueues them or frees their partition, not when DBOS's timer next fires:
with the record queues' timer set to a minute, runs still start and follow each other within seconds, one per
partition at a time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from dbos import DBOS

from ledgerlink.engine import queue_wake
from ledgerlink.engine.flows import ACCOUNTING
from ledgerlink.engine.runtime import enqueue_record
from tests.engine.conftest import wait_until
from tests.flows.conftest import FlowEnv

GATES: dict[str, threading.Event] = {}
SPANS: dict[str, tuple[float, float]] = {}  # run → (started, ended), monotonic


@DBOS.workflow(name="test_queue_wake_run")
def _run(name: str) -> str:
    started = time.monotonic()
    if name in GATES:
        GATES[name].wait(60)
    SPANS[name] = (started, time.monotonic())
    return name


@pytest.fixture
def minute_timer(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The record queues' own timed look once a minute (requested before flow_env, which reads it)."""
    monkeypatch.setenv("LEDGERLINK_QUEUE_POLL_SECONDS", "60")
    yield


def test_runs_start_on_enqueue_and_on_their_partitions_release_not_on_the_timer(
    minute_timer: None, flow_env: FlowEnv
) -> None:
    finished: list[str] = []
    remove = queue_wake.on_finish(finished.append)
    GATES["first"] = threading.Event()
    try:
        first = enqueue_record(_run, "first", workflow_id="wake-first", record_key="k", connection=ACCOUNTING)
        second = enqueue_record(_run, "second", workflow_id="wake-second", record_key="k", connection=ACCOUNTING)
        other = enqueue_record(_run, "other", workflow_id="wake-other", record_key="j", connection=ACCOUNTING)
        # Started by the enqueue's wake: the queue's timer would not look for a minute.
        assert wait_until(lambda: "other" in SPANS, timeout=15, interval=0.05)
        assert other.get_result() == "other"
        time.sleep(0.5)
        assert "second" not in SPANS  # its partition is busy with the first run: one run per partition at a time

        GATES["first"].set()
        assert first.get_result(polling_interval_sec=0.05) == "first"
        # Started by the first run's release of the partition, not by the timer.
        assert wait_until(lambda: "second" in SPANS, timeout=15, interval=0.05)
        assert second.get_result(polling_interval_sec=0.05) == "second"
        assert SPANS["second"][0] >= SPANS["first"][1]
        assert wait_until(lambda: {"wake-first", "wake-second", "wake-other"} <= set(finished), timeout=5)
    finally:
        GATES["first"].set()
        remove()


def test_without_the_wake_dbos_own_timed_threads_run_the_queues(
    monkeypatch: pytest.MonkeyPatch, flow_env: FlowEnv
) -> None:
    from ledgerlink.bootstrap import engine_settings, open_runtime
    from ledgerlink.engine import runtime as engine

    engine.stop()  # flow_env's runtime, restarted below without the wake
    monkeypatch.setenv("LEDGERLINK_QUEUE_WAKE", "0")
    sf, books = flow_env.sandboxes["salesforce"].describe(), flow_env.sandboxes["kashflow"].describe()
    open_runtime(engine_settings(flow_env.runtime.settings.data_dir), sf, books)
    handle = enqueue_record(_run, "unwoken", workflow_id="wake-unwoken", record_key="k", connection=ACCOUNTING)
    assert handle.get_result(polling_interval_sec=0.05) == "unwoken"
