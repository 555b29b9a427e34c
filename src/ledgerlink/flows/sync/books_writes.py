"""Creates in the books of one page, sent a few at a time.

KashFlow has no batch create (Kashoo neither): one POST per customer. Sent one after another, the network's round
trip sets the pace of a backfill (20 ms a call is 50 records a second at best), so a page collects its creates and
sends them at its end through a small thread pool, as Salesforce writes are collected into Collections calls. The
pool is bounded: the books' rate limit (the connector's pacer) still holds every call, and the connection pool
(20) is not exhausted.

Results are handled in the page's own thread, in the order the creates were queued, so the page's bookkeeping
(links, audit, counts) needs no locks.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ledgerlink.flows.sync.common import RECORD_ERRORS

WRITERS = 8  # creates in flight at once, per page

OnCreated = Callable[[str], None]  # the new record's id in the books
OnFailed = Callable[[BaseException], None]  # a record error (PermanentError, MappingError, …): that record fails


@dataclass
class _Create:
    make: Callable[[], str]
    created: OnCreated
    failed: OnFailed


@dataclass
class BooksCreates:
    """Creates queued during a page, sent by ``send`` (at the start of the page's flush)."""

    writers: int = WRITERS
    queued: list[_Create] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.queued)

    def add(self, make: Callable[[], str], created: OnCreated, failed: OnFailed) -> None:
        self.queued.append(_Create(make, created, failed))

    def send(self) -> None:
        """Make every queued record, ``writers`` at a time; then, in queue order, tell each one's ``created`` or
        (for a record error) ``failed``. Any other error (transient: retries exhausted in place) is raised after
        every success was told, so the step's retry finds those linked and makes only the rest."""
        queued, self.queued = self.queued, []
        if not queued:
            return
        if len(queued) == 1 or self.writers <= 1:
            outcomes = [_attempt(c.make) for c in queued]
        else:
            with ThreadPoolExecutor(max_workers=min(self.writers, len(queued)), thread_name_prefix="books") as pool:
                outcomes = list(pool.map(_attempt, [c.make for c in queued]))
        retry: BaseException | None = None
        for create, (made, error) in zip(queued, outcomes, strict=True):
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
