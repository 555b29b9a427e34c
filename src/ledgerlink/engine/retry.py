"""Retry policy for steps that talk to outside systems: transient errors back off, permanent ones fail at once."""

from __future__ import annotations

from dataclasses import dataclass

from ledgerlink.connectors.errors import is_transient


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    interval_seconds: float = 0.2
    backoff_rate: float = 2.0


DEFAULT_RETRY = RetryPolicy()


def should_retry(exc: BaseException) -> bool:
    """DBOS calls this with each step failure: only transient errors are worth another attempt."""
    return is_transient(exc)
