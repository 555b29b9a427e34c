"""Creates in the books of one page, sent a few at a time.

Small-business books have no batch create: one POST per customer. Sent one after another, the network's round
trip sets the pace of a backfill (20 ms a call is 50 records a second at best), so a page hands each create to a
small thread pool as soon as it knows it, goes on with its other records, and collects the results at its end (as
Salesforce writes are collected into Collections calls). The pool is bounded: the books' rate limit (the
connector's pacer) still holds every call, and the connection pool (20) is not exhausted.

Results are handled in the page's own thread, in the order the creates were queued, so the page's bookkeeping
(links, audit, counts) needs no locks.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ledgerlink.engine.retry import with_retries
from ledgerlink.flows.sync.common import RECORD_ERRORS

WRITERS = 8  # creates in flight at once, per page

OnCreated = Callable[[str], None]  # the new record's id in the books
OnFailed = Callable[[BaseException], None]  # a record error (PermanentError, MappingError, …): that record fails


@dataclass
class _Create:
    made: Future[tuple[Any, BaseException | None]]
    created: OnCreated
    failed: OnFailed


@dataclass
class BooksCreates:
    """Creates queued during a page: each starts at once in the background (so the round trips overlap the rest
    of the page's work) and is settled by ``send``, at the start of the page's flush."""

    writers: int = WRITERS
    queued: list[_Create] = field(default_factory=list)
    _pool: ThreadPoolExecutor | None = None

    def __bool__(self) -> bool:
        return bool(self.queued)

    def add(self, make: Callable[[], str], created: OnCreated, failed: OnFailed) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.writers, thread_name_prefix="books-create")
        # Retried in place, as a record's other writes are: under a few per cent of faults, a page of forty creates
        # would otherwise fail its attempt nearly every time and be redone whole. A create is found again by its
        # code (``create_customer``), so a retry after a reply lost in transit makes no second customer.
        self.queued.append(_Create(self._pool.submit(_attempt, with_retries(make)), created, failed))

    def send(self) -> None:
        """Wait for every queued create; then, in queue order, tell each one's ``created`` or (for a record error)
        ``failed`` (``RetriesExhausted`` among them: its transient errors outlasted the retries in place). Any
        other error is raised after every success was told, so the step's retry finds those linked and makes only
        the rest."""
        queued, self.queued = self.queued, []
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        retry: BaseException | None = None
        for create in queued:
            made, error = create.made.result()
            if error is None:
                create.created(str(made))
            elif isinstance(error, RECORD_ERRORS):
                create.failed(error)
            else:
                retry = retry or error
        if retry is not None:
            raise retry


def _attempt(make: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    try:
        return make(), None
    except Exception as exc:  # handed back to the page's thread, which decides (see ``send``)
        return None, exc
