"""The shared limiter's rule, checked with a fake clock on a real SQLite ledger: at most N requests start in any
window of P seconds counted from the previous responses, and slots recycle as soon as the window allows."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ledgerlink.store import Ledger, database_url
from ledgerlink.systems.ratelimit import LocalRateLimiter, RateLimitSpec, SharedRateLimiter


@pytest.mark.parametrize(
    ("text", "requests", "seconds"),
    [("10/s", 10, 1.0), ("500 per 3600 s", 500, 3600.0), ("500/h", 500, 3600.0), ("30 per 2 minutes", 30, 120.0)],
)
def test_limits_are_written_as_people_say_them(text: str, requests: int, seconds: float) -> None:
    assert RateLimitSpec.parse(text) == RateLimitSpec(requests, seconds)
    assert RateLimitSpec.parse({"requests": requests, "per_seconds": seconds}) == RateLimitSpec(requests, seconds)


def test_nonsense_limits_are_refused() -> None:
    for bad in ("fast", "0/s", "10 per -1 s"):
        with pytest.raises(ValueError):
            RateLimitSpec.parse(bad)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_shared_limiter_waits_p_after_the_response_of_the_request_n_before(tmp_path: Path) -> None:
    ledger = Ledger(database_url(tmp_path))
    clock = FakeClock()
    limiter = SharedRateLimiter(ledger.url, "test", RateLimitSpec(3, 1.0), clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(7):
        with limiter.slot():
            starts.append(clock.now)
            clock.now += 0.1  # the request takes 100 ms
    # Three at once, then each slot again 1 s after its response came back.
    assert starts == pytest.approx([1000.0, 1000.1, 1000.2, 1001.1, 1001.2, 1001.3, 1002.2])
    # A second process (another limiter on the same rows) sees the same slots.
    other = SharedRateLimiter(ledger.url, "test", RateLimitSpec(3, 1.0), clock=clock, sleep=clock.sleep)
    with other.slot():
        assert clock.now == pytest.approx(1002.3)
    limiter.close()
    other.close()
    ledger.dispose()


def test_local_limiter_keeps_the_same_rule() -> None:
    limiter = LocalRateLimiter(RateLimitSpec(2, 0.05))
    began = time.monotonic()
    for _ in range(6):
        with limiter.slot():
            pass
    assert time.monotonic() - began >= 0.1  # six requests at two per 50 ms need at least two more windows
