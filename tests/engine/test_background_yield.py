"""A connection's background lane (invoice PDFs) yields to its record queues: while a record run of this worker
is going, a lane run waits, and starts once the records pause; a lane run that has waited
``background_yield_seconds`` starts anyway, so a flood that never pauses still gets its PDFs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from dbos import DBOS

from ledgerlink.engine.flows import ACCOUNTING, BACKGROUND
from ledgerlink.engine.runtime import enqueue_record
from tests.engine.conftest import wait_until
from tests.flows.conftest import FlowEnv

GATES: dict[str, threading.Event] = {}
STARTED: dict[str, float] = {}  # run → when it started (monotonic)
ENDED: dict[str, float] = {}


@DBOS.workflow(name="test_background_yield_run")
def _run(name: str) -> str:
    STARTED[name] = time.monotonic()
    if name in GATES:
        GATES[name].wait(60)
    ENDED[name] = time.monotonic()
    return name


def _record_then_lane(prefix: str) -> tuple[str, str]:
    """A record run held open by its gate, then a lane run enqueued while it goes."""
    record, lane = f"{prefix}-record", f"{prefix}-lane"
    GATES[record] = threading.Event()
    enqueue_record(_run, record, workflow_id=record, record_key="r", connection=ACCOUNTING)
    assert wait_until(lambda: record in STARTED, timeout=15, interval=0.05)
    enqueue_record(_run, lane, workflow_id=lane, record_key="p", connection=ACCOUNTING, lane=BACKGROUND)
    return record, lane


@pytest.fixture
def long_yield(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LEDGERLINK_BACKGROUND_YIELD_SECONDS", "60")  # read by flow_env's engine settings
    yield


@pytest.fixture
def short_yield(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LEDGERLINK_BACKGROUND_YIELD_SECONDS", "1")
    yield


def test_a_lane_run_waits_while_a_record_run_goes_and_starts_when_the_records_pause(
    long_yield: None, flow_env: FlowEnv
) -> None:
    record, lane = _record_then_lane("pause")
    try:
        time.sleep(2.0)
        assert lane not in STARTED  # the lane's slots are free, but an invoice is being made
    finally:
        GATES[record].set()
    assert wait_until(lambda: lane in ENDED, timeout=15, interval=0.05)
    assert STARTED[lane] >= ENDED[record]


def test_a_lane_run_that_waited_its_yield_starts_while_the_records_are_still_busy(
    short_yield: None, flow_env: FlowEnv
) -> None:
    record, lane = _record_then_lane("starved")
    enqueued = time.monotonic()
    try:
        assert wait_until(lambda: lane in ENDED, timeout=15, interval=0.05)
        assert record not in ENDED  # it started beside the record run, not after it
        assert STARTED[lane] - enqueued >= 0.9  # ... once it had waited about its yield
    finally:
        GATES[record].set()


def test_a_lane_run_waits_while_another_workers_record_run_goes(
    long_yield: None, flow_env: FlowEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This process is told its record queues are idle, as a second worker's would be: the system database says a
    record run is going, so the lane still waits (two workers used to make PDFs beside each other's invoices)."""
    from ledgerlink.engine import queue_wake

    record, lane = _record_then_lane("elsewhere")
    monkeypatch.setattr(queue_wake, "_records_busy", lambda: False)
    try:
        assert queue_wake._record_runs_anywhere(60)  # the record run, PENDING in the system database
        assert not queue_wake._record_runs_anywhere(-5)  # ... but not one that moved in the last "-5 s" (stale)
        time.sleep(2.0)
        assert lane not in STARTED
    finally:
        GATES[record].set()
    assert wait_until(lambda: lane in ENDED, timeout=15, interval=0.05)
    assert STARTED[lane] >= ENDED[record]
    assert not queue_wake._record_runs_anywhere(60)
