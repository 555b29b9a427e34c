"""Pacing against the org's daily API allocation, read from ``Sforce-Limit-Info: api-usage=used/max``.

Salesforce sends no Retry-After: once the allocation (rolling 24 h) is spent, every call gets 403
REQUEST_LIMIT_EXCEEDED, for every integration and user of the org. So the client paces itself: it slows down in
proportion as the remaining calls approach a reserve kept for others, and at the reserve (or on the first 403) it
stops with ``ApiLimitExhausted`` instead of hammering. Once in a while (``recheck_after``) one call is let through to
re-read the allocation, so a long-running worker resumes by itself when the window rolls on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ledgerlink.systems.errors import ApiLimitExhausted

SYSTEM = "salesforce"


@dataclass(frozen=True)
class PacingPolicy:
    reserve_fraction: float = 0.05  # never spend the last 5 % of the allocation
    slowdown_fraction: float = 0.15  # above the reserve, this band of the allocation is spent ever more slowly
    max_delay: float = 2.0  # seconds of wait before a call at the very edge of the reserve
    recheck_after: float = 300.0  # seconds after a stop before one call may re-read the allocation


@dataclass(frozen=True)
class Reading:
    used: int
    limit: int

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)


def parse_limit_info(header: str | None) -> Reading | None:
    """``api-usage=10018/100000`` (possibly followed by ``; per-app-api-usage=…``) as a Reading."""
    for part in (header or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip() == "api-usage":
            used, _, limit = value.partition("/")
            if used.strip().isdigit() and limit.strip().isdigit():
                return Reading(int(used), int(limit))
    return None


class ApiBudget:
    """Thread-safe: every call asks ``before_call()`` and reports the response header to ``observe()``."""

    def __init__(
        self,
        policy: PacingPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or PacingPolicy()
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self.reading: Reading | None = None
        self._stopped_at: float | None = None
        self.slept = 0.0  # total seconds of pacing, for metrics

    def observe(self, reading: Reading | None) -> None:
        if reading is None:
            return
        with self._lock:
            self.reading = reading
            if reading.remaining > self._reserve(reading):
                self._stopped_at = None

    def refused(self) -> ApiLimitExhausted:
        """Salesforce answered REQUEST_LIMIT_EXCEEDED: stop here, and say so."""
        with self._lock:
            self._stopped_at = self._clock()
            reading = self.reading
        used = f" ({reading.used}/{reading.limit} calls used)" if reading else ""
        return ApiLimitExhausted(
            f"Salesforce refused the call: the org's daily API allocation is spent{used}. Stopping instead of "
            "retrying; calls resume as the rolling 24-hour window frees some up.",
            system=SYSTEM,
            status=403,
            code="REQUEST_LIMIT_EXCEEDED",
        )

    def delay(self) -> float:
        """Seconds to wait before the next call; raises ApiLimitExhausted at the reserve."""
        with self._lock:
            reading = self.reading
            if reading is None or reading.limit <= 0:
                return 0.0
            reserve = self._reserve(reading)
            stopped = self._stopped_at is not None or reading.remaining <= reserve
            if stopped:
                now = self._clock()
                if self._stopped_at is None:
                    self._stopped_at = now
                elif now - self._stopped_at >= self.policy.recheck_after:
                    self._stopped_at = now  # let this one call through to re-read the allocation
                    return 0.0
                raise self._exhausted(reading, reserve)
            band = reading.limit * self.policy.slowdown_fraction
            above = reading.remaining - reserve
            if band <= 0 or above >= band:
                return 0.0
            return self.policy.max_delay * (1.0 - above / band)

    def before_call(self) -> None:
        wait = self.delay()
        if wait > 0:
            self.slept += wait
            self._sleep(wait)

    def _reserve(self, reading: Reading) -> float:
        return reading.limit * self.policy.reserve_fraction

    def _exhausted(self, reading: Reading, reserve: float) -> ApiLimitExhausted:
        return ApiLimitExhausted(
            f"Salesforce daily API allocation nearly spent: {reading.used} of {reading.limit} calls used, "
            f"{reading.remaining} left and {self.policy.reserve_fraction:.0%} ({int(reserve)}) kept in reserve for "
            f"the org's other users. Stopping; LedgerLink re-checks every {self.policy.recheck_after:.0f} s.",
            system=SYSTEM,
            code="REQUEST_LIMIT_RESERVE",
        )
