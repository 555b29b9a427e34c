"""When the queue threads look: which enqueues and finishes poke a queue, and how an idle queue's timed look backs
off (pure, no DBOS: the pokes land on a ``WakeableStop`` of our own)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledgerlink.engine import queue_wake


class _Active:
    """Stands in for DBOS's set of running workflows: which partitions have a run going here."""

    def __init__(self) -> None:
        self.running: set[tuple[str, str | None]] = set()

    def count_for_partition(self, queue_name: str, partition: str | None) -> int:
        return int((queue_name, partition) in self.running)


@pytest.fixture
def stop(monkeypatch: pytest.MonkeyPatch) -> Iterator[queue_wake.WakeableStop]:
    event = queue_wake.WakeableStop()
    active = _Active()
    monkeypatch.setattr(queue_wake, "_stops", {"books": event})
    monkeypatch.setattr(queue_wake, "_waiting", {})
    monkeypatch.setattr(queue_wake, "_active", active)
    event.active = active  # type: ignore[attr-defined]
    yield event


def test_an_enqueue_pokes_unless_its_partition_has_a_run_going_here(stop: queue_wake.WakeableStop) -> None:
    queue_wake.enqueued("books", "run-1", "shard#1")
    assert stop.poke.is_set()
    stop.poke.clear()

    stop.active.running.add(("books", "shard#2"))  # type: ignore[attr-defined]
    queue_wake.enqueued("books", "run-2", "shard#2")
    assert not stop.poke.is_set()  # it can't start before that run ends: the finish looks


def test_a_finish_pokes_only_while_a_run_enqueued_here_waits(stop: queue_wake.WakeableStop) -> None:
    queue_wake._finished("run-0", "books")
    assert not stop.poke.is_set()  # nothing of ours waits: the next enqueue will poke

    stop.active.running.add(("books", "shard#2"))  # type: ignore[attr-defined]
    queue_wake.enqueued("books", "run-2", "shard#2")
    queue_wake._finished("run-1", "books")
    assert stop.poke.is_set()  # run-2 waits for the partition that just freed
    stop.poke.clear()

    queue_wake._started("run-2", "books")
    queue_wake._finished("run-2", "books")
    assert not stop.poke.is_set()


def test_a_run_another_worker_started_is_forgotten(
    stop: queue_wake.WakeableStop, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue_wake.enqueued("books", "run-elsewhere", "shard#3")
    stop.poke.clear()
    monkeypatch.setattr(queue_wake, "FORGET_SECONDS", 0.0)
    queue_wake._finished("run-x", "books")
    assert not stop.poke.is_set()
    assert queue_wake._waiting["books"] == {}


def test_an_idle_queue_looks_less_often_up_to_a_bound() -> None:
    assert [queue_wake.stretched(0.5, n) for n in range(6)] == [0.5, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert queue_wake.stretched(5.0, 4) == 5.0  # never shorter than the queue's own interval


def test_a_look_that_starts_a_run_or_a_poke_ends_the_back_off() -> None:
    stop = queue_wake.WakeableStop()
    for _ in range(3):
        stop.wait(0)
    assert stop.idle_looks == 3
    stop.started_since_look = True
    stop.wait(0)
    assert stop.idle_looks == 0
    stop.wait(0)
    stop.wait(0)
    stop.poke.set()
    stop.wait(0.01)
    assert stop.idle_looks == 0
