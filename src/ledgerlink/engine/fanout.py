"""A batch's records worked on a few at once, in threads whose log lines name the record (and the run and flow of
the step that started them), as a one-record run's would."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from ledgerlink.logcontext import log_context, logging_ids

T = TypeVar("T")
R = TypeVar("R")

# Calls at once per process, shared by every batch: the work waits on the network (the books, Salesforce), not
# the CPU, and more would only queue at the APIs' own limits.
THREADS = 16

_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="fanout")
        return _pool


def submit(fn: Callable[[], R], record_id: str) -> Future[R]:
    """Run ``fn`` in the pool, logging as the caller does, with ``record_id`` as the record."""
    ids = dict(log_context.get())

    def call() -> R:
        with logging_ids(**{**ids, "record_id": record_id}):
            return fn()

    return _executor().submit(call)


def each(fn: Callable[[T], R], items: Iterable[T], record_id: Callable[[T], str]) -> list[R]:
    """``fn`` for every item, a few at once; results in the items' order. ``fn`` must not raise for one record
    what should not stop the others (return the error instead)."""
    futures = [submit(functools.partial(fn, item), record_id(item)) for item in items]
    return [future.result() for future in futures]
