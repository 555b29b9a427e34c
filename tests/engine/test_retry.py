"""The retry policy: exponential backoff with jitter, never sooner than Retry-After, permanent errors at once."""

from __future__ import annotations

import random

import pytest

from ledgerlink.engine.retry import RetriesExhausted, RetryPolicy, with_retries
from ledgerlink.systems.errors import PermanentError, TransientError


def test_delays_grow_exponentially_within_the_jitter_band_and_respect_the_cap() -> None:
    policy = RetryPolicy(interval_seconds=0.1, backoff_rate=2.0, max_interval_seconds=1.0, jitter=0.5)
    rng = random.Random(1)
    for attempt, base in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)]:
        delay = policy.delay(attempt, None, rng)
        assert base <= delay <= base * 1.5


def test_retry_after_is_a_floor() -> None:
    assert RetryPolicy(interval_seconds=0.1).delay(1, 7.0, random.Random(0)) == 7.0


def test_transient_errors_are_retried_then_reported_with_every_attempt() -> None:
    waits: list[float] = []
    calls = 0

    def flaky() -> str:
        nonlocal calls
        calls += 1
        raise TransientError(f"503 number {calls}", system="kashflow", status=503, retry_after=2.0)

    wrapped = with_retries(flaky, RetryPolicy(max_attempts=4, interval_seconds=0.01), sleep=waits.append)
    with pytest.raises(RetriesExhausted) as caught:
        wrapped()
    assert calls == 4
    assert waits == [2.0, 2.0, 2.0]  # Retry-After beats the tiny backoff
    assert caught.value.errors == [f"kashflow: 503 number {n}" for n in range(1, 5)]


def test_success_after_transient_failures_returns_the_value() -> None:
    outcomes = [TransientError("reset", system="salesforce"), TransientError("reset", system="salesforce"), "ok"]

    def sometimes() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert with_retries(sometimes, RetryPolicy(max_attempts=5), sleep=lambda _: None)() == "ok"


def test_permanent_errors_are_not_retried() -> None:
    calls = 0

    def invalid() -> None:
        nonlocal calls
        calls += 1
        raise PermanentError("VATLevel 17 is not a rate of this account", system="kashflow", field="VATLevel")

    with pytest.raises(PermanentError):
        with_retries(invalid, sleep=lambda _: None)()
    assert calls == 1
