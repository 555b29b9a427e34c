"""Pacing arithmetic with a fake clock: slower as the reserve nears, a stop at it, a re-check later."""

from __future__ import annotations

import pytest

from ledgerlink.systems.errors import ApiLimitExhausted
from ledgerlink.systems.salesforce.pacing import ApiBudget, PacingPolicy, Reading, parse_limit_info


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _budget(clock: Clock) -> ApiBudget:
    policy = PacingPolicy(reserve_fraction=0.05, slowdown_fraction=0.15, max_delay=2.0, recheck_after=60)
    return ApiBudget(policy, sleep=clock.sleep, clock=clock)


def test_parse_limit_info() -> None:
    assert parse_limit_info("api-usage=10018/100000") == Reading(10018, 100000)
    assert parse_limit_info("api-usage=5/15000; per-app-api-usage=2/100(appName=x)") == Reading(5, 15000)
    assert parse_limit_info(None) is None and parse_limit_info("garbage") is None


def test_no_delay_until_the_slowdown_band_then_proportional() -> None:
    clock = Clock()
    budget = _budget(clock)
    budget.observe(Reading(used=7000, limit=10000))  # 30 % left
    assert budget.delay() == 0.0
    budget.observe(Reading(used=8000, limit=10000))  # 20 % left: the band starts here
    assert budget.delay() == 0.0
    budget.observe(Reading(used=8750, limit=10000))  # halfway through the band
    assert budget.delay() == pytest.approx(1.0)
    budget.observe(Reading(used=9400, limit=10000))  # 6 % left, just above the reserve
    assert budget.delay() == pytest.approx(2.0 * (1 - 100 / 1500))
    budget.before_call()
    assert clock.slept == [pytest.approx(2.0 * (1 - 100 / 1500))]


def test_stops_at_the_reserve_with_a_clear_message_and_rechecks_later() -> None:
    clock = Clock()
    budget = _budget(clock)
    budget.observe(Reading(used=9500, limit=10000))
    with pytest.raises(ApiLimitExhausted) as caught:
        budget.before_call()
    assert caught.value.code == "REQUEST_LIMIT_RESERVE"
    assert "9500 of 10000" in caught.value.message and "reserve" in caught.value.message
    clock.now += 30
    with pytest.raises(ApiLimitExhausted):
        budget.before_call()
    clock.now += 31
    budget.before_call()  # one call goes through to re-read the allocation
    budget.observe(Reading(used=100, limit=10000))  # the window rolled on
    assert budget.delay() == 0.0


def test_a_refusal_stops_even_without_a_reading() -> None:
    clock = Clock()
    budget = _budget(clock)
    budget.observe(Reading(used=15000, limit=15000))
    error = budget.refused()
    assert error.code == "REQUEST_LIMIT_EXCEEDED" and "15000/15000" in error.message
    with pytest.raises(ApiLimitExhausted):
        budget.before_call()
