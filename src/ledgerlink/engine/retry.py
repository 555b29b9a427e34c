"""Retries for steps that talk to outside systems: transient errors back off (exponential, with jitter, and
never sooner than the server's ``Retry-After``); permanent ones fail at once. This is the one retry level: clients
only wait out a 429's ``Retry-After`` and sign in again on a 401.

A step's own operations may be retried where they are made (one record's write in a batch, a page's write-back),
so one failing record does not make the whole step run again; an operation whose retries ran out raises
``RetriesExhausted``, which is no ``TransientError``, so the step around it never retries it a second time.

The loop runs inside one DBOS step: DBOS checkpoints only the step's final result, so retrying in place is
as durable as DBOS's own step retries, and lets us honour ``Retry-After`` and keep every attempt's error.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from dbos import DBOS

from ledgerlink.logcontext import logging_ids
from ledgerlink.systems.errors import TransientError, is_transient

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    interval_seconds: float = 0.2
    backoff_rate: float = 2.0
    max_interval_seconds: float = 30.0
    jitter: float = 0.5  # each wait is stretched by a random 0–50%, so retrying workers don't stampede together

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = min(self.interval_seconds * self.backoff_rate ** (attempt - 1), self.max_interval_seconds)
        wait = base * (1 + rng.random() * self.jitter)
        return max(wait, retry_after or 0.0)


DEFAULT_RETRY = RetryPolicy()
# A batch write at a page's end carries the whole page's work: it outlasts a longer outage before the page fails.
BATCH_WRITE_RETRY = RetryPolicy(max_attempts=8)


class RetriesExhausted(Exception):
    """Every attempt failed with a transient error; ``errors`` keeps each attempt's message, oldest first."""

    def __init__(self, step: str, errors: list[str], last: TransientError) -> None:
        super().__init__(f"{step}: gave up after {len(errors)} attempts: {errors[-1] if errors else ''}")
        self.step = step
        self.errors = errors
        self.last = last

    def __reduce__(self) -> tuple[object, ...]:  # DBOS pickles step errors into its system database
        return (type(self), (self.step, self.errors, self.last))


def should_retry(exc: BaseException) -> bool:
    return is_transient(exc)


def with_retries(
    fn: Callable[P, R], policy: RetryPolicy = DEFAULT_RETRY, sleep: Callable[[float], None] = time.sleep
) -> Callable[P, R]:
    rng = random.Random()

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        errors: list[str] = []
        for attempt in range(1, policy.max_attempts + 1):
            try:
                return fn(*args, **kwargs)
            except TransientError as exc:
                errors.append(str(exc))
                if attempt == policy.max_attempts:
                    raise RetriesExhausted(fn.__name__, errors, exc) from exc
                wait = policy.delay(attempt, exc.retry_after, rng)
                log.warning("%s: attempt %d failed (%s); retrying in %.2f s", fn.__name__, attempt, exc, wait)
                sleep(wait)
        raise AssertionError("unreachable")

    return wrapper


def _with_log_ids(fn: Callable[P, R]) -> Callable[P, R]:
    """Log lines written inside a step carry its run, flow and record ids (workflow ids read flow:record:…)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        run_id = DBOS.workflow_id
        flow, _, rest = (run_id or "").partition(":")
        with logging_ids(run_id=run_id, flow=flow or None, record_id=rest.partition(":")[0] or None):
            return fn(*args, **kwargs)

    return wrapper


def durable_step(fn: Callable[P, R] | None = None, *, policy: RetryPolicy = DEFAULT_RETRY) -> Callable[P, R]:
    """A DBOS step whose transient failures are retried in place under ``policy``.

    Use as ``@durable_step`` or ``@durable_step(policy=RetryPolicy(max_attempts=3))``.
    """

    def decorate(f: Callable[P, R]) -> Callable[P, R]:
        return DBOS.step(name=f"{f.__module__}.{f.__qualname__}")(_with_log_ids(with_retries(f, policy)))

    if fn is None:
        return decorate  # type: ignore[return-value]
    return decorate(fn)


def ledger_step(fn: Callable[P, R]) -> Callable[P, R]:
    """A DBOS step that only touches the ledger (no outside system, so nothing to retry).

    Steps are registered under their module-qualified name: DBOS finds a step by name when it recovers a
    workflow, so two flows' ``save_watermark`` must never share one.
    """
    return DBOS.step(name=f"{fn.__module__}.{fn.__qualname__}")(_with_log_ids(fn))
