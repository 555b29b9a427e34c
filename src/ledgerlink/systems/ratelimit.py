"""Client-side pacing for an API's rate limit, shared by every worker process through the ledger's database.

The accounting sandboxes (and the vendors they imitate) count *arrivals* in a sliding window: at most N
admitted requests per key in any half-open window ``[t, t + P)``. A token bucket cannot match that exactly:
any burst allowance on top of a refill rate admits more than N in some window, and spacing sends evenly is
only safe with a margin for latency jitter. So the limiter keeps the window itself, as N *slots*:

    slot = one row ``<key>#<i>`` of ``ll_rate_bucket``; ``updated_at`` = when the slot is free again,
    ``tokens`` = 1 while its request is in flight, else 0.

A request claims the slot that frees soonest (if free now), is sent, and on its response the slot is set
free at ``response time + P``. Request ``k + N`` then goes out no sooner than P after the response to
request ``k``: the rule the servers document as never drawing a 429, whatever the latency. A process that
dies mid-request leaves its slot marked in flight; the mark expires after ``inflight_timeout``.

Claims are serialised by the database: ``BEGIN IMMEDIATE`` on SQLite, ``SELECT … FOR UPDATE`` elsewhere.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, create_engine, event, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ledgerlink.store.tables import RateBucket

_SPEC = re.compile(
    r"^\s*(\d+)\s*(?:/|per)\s*(\d+(?:\.\d+)?)?\s*(s|sec|second|seconds|m|min|minute|minutes|h|hour|hours)?\s*$",
    re.IGNORECASE,
)
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class RateLimitSpec:
    """At most ``requests`` per rolling ``per_seconds``, as the server counts them."""

    requests: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.per_seconds <= 0:
            raise ValueError("a rate limit needs requests >= 1 and per_seconds > 0")

    @classmethod
    def parse(cls, value: str | Mapping[str, Any] | RateLimitSpec) -> RateLimitSpec:
        """``"10/s"``, ``"500 per 3600 s"``, ``"500/h"``, ``"30 per 2 minutes"`` or ``{"requests", "per_seconds"}``."""
        if isinstance(value, RateLimitSpec):
            return value
        if isinstance(value, Mapping):
            return cls(int(value["requests"]), float(value.get("per_seconds", 1.0)))
        match = _SPEC.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a rate limit such as '10/s' or '500 per 3600 s'")
        count, amount, unit = match.groups()
        seconds = float(amount or 1) * _UNITS[(unit or "s")[0].lower()]
        return cls(int(count), seconds)


class Pacer(Protocol):
    """What a connector calls around each request: ``with pacer.slot(): send(...)``."""

    def slot(self) -> AbstractContextManager[None]: ...


class NoPacing:
    """The default: no client-side limit (the connector still honours 429 and Retry-After)."""

    def slot(self) -> AbstractContextManager[None]:
        return nullcontext()


class LocalRateLimiter:
    """The same slot rule within one process (threads), for when no shared database is configured."""

    def __init__(self, limit: RateLimitSpec, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._free_at = [0.0] * limit.requests
        self._cond = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._cond:
            while True:
                index = min(range(len(self._free_at)), key=self._free_at.__getitem__)
                wait = self._free_at[index] - self._clock()
                if wait <= 0:
                    self._free_at[index] = float("inf")
                    break
                self._cond.wait(min(wait, 1.0) if wait != float("inf") else 0.05)
        try:
            yield
        finally:
            with self._cond:
                self._free_at[index] = self._clock() + self.limit.per_seconds
                self._cond.notify_all()


def _limiter_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_size=2, max_overflow=4, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" below issue BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # Take the write lock up front: two processes must not both read a slot as free.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class SharedRateLimiter:
    """The slot rule across processes, in ``ll_rate_bucket`` of the ledger's database."""

    def __init__(
        self,
        url: str,
        key: str,
        limit: RateLimitSpec,
        *,
        inflight_timeout: float = 120.0,
        clock: Callable[[], float] = time.time,  # wall clock: the one clock all processes share
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.key = key
        self.limit = limit
        self.inflight_timeout = inflight_timeout
        self._clock = clock
        self._sleep = sleep
        self._engine = _limiter_engine(url)
        self._slots = [f"{key}#{i:06d}" for i in range(limit.requests)]
        self._sqlite = url.startswith("sqlite")
        self._ensure_rows()

    def close(self) -> None:
        self._engine.dispose()

    def _ensure_rows(self) -> None:
        rows = [{"key": k, "tokens": 0.0, "updated_at": 0.0} for k in self._slots]
        dialect = sqlite if self._sqlite else postgresql
        with self._engine.begin() as conn:
            conn.execute(dialect.insert(RateBucket).values(rows).on_conflict_do_nothing(index_elements=["key"]))

    def _try_claim(self) -> tuple[str | None, float, bool]:
        """(slot claimed or None, seconds until one may free, whether that one is still in flight)."""
        query = select(RateBucket.key, RateBucket.tokens, RateBucket.updated_at).where(RateBucket.key.in_(self._slots))
        if not self._sqlite:
            query = query.with_for_update()
        with self._engine.begin() as conn:
            rows = conn.execute(query).all()
            now = self._clock()
            slot, tokens, free_at = min(rows, key=lambda r: r.updated_at)
            if free_at <= now:
                conn.execute(
                    update(RateBucket)
                    .where(RateBucket.key == slot)
                    .values(tokens=1.0, updated_at=now + self.limit.per_seconds + self.inflight_timeout)
                )
                return slot, 0.0, False
            return None, free_at - now, tokens > 0

    def _release(self, slot: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(RateBucket)
                .where(RateBucket.key == slot)
                .values(tokens=0.0, updated_at=self._clock() + self.limit.per_seconds)
            )

    @contextmanager
    def slot(self) -> Iterator[None]:
        while True:
            claimed, wait, in_flight = self._try_claim()
            if claimed is not None:
                break
            # An in-flight slot frees when its response arrives, which we cannot know: look again soon.
            self._sleep(min(wait, 0.005) if in_flight else wait)
        try:
            yield
        finally:
            self._release(claimed)


def make_pacer(limit: str | Mapping[str, Any] | RateLimitSpec | None, *, key: str, url: str | None) -> Pacer:
    """The limiter a connection asks for: none, per process, or shared through the database at ``url``."""
    if limit is None:
        return NoPacing()
    spec = RateLimitSpec.parse(limit)
    return SharedRateLimiter(url, key, spec) if url else LocalRateLimiter(spec)
