"""When a flow runs: a cron expression ("0 2 * * *"), an interval ("every 30 seconds", "every 5 minutes") or a plain
phrase ("daily at 2 AM", "hourly", "daily at 14:30"). Every form is turned into either a cron or an interval."""

from __future__ import annotations

import re
from dataclasses import dataclass

from croniter import CroniterBadDateError, croniter

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_EVERY = re.compile(r"^every\s+(\d+(?:\.\d+)?)?\s*(second|minute|hour|day)s?$")
_DAILY = re.compile(r"^(?:daily|every day)\s+at\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$")


@dataclass(frozen=True)
class Schedule:
    text: str  # as written, shown back to the user
    cron: str | None = None  # UTC
    interval_seconds: float | None = None

    def __str__(self) -> str:
        return self.text


def parse_schedule(text: str) -> Schedule:
    """A schedule, or ValueError naming the forms accepted."""
    phrase = " ".join(text.strip().lower().split())
    if phrase in ("hourly", "every hour"):
        return Schedule(text, cron="0 * * * *")
    if phrase in ("daily", "every day", "nightly"):
        return Schedule(text, cron="0 2 * * *")
    if match := _EVERY.match(phrase):
        count = float(match.group(1) or 1)
        if count <= 0:
            raise ValueError(f"schedule {text!r}: the interval must be positive")
        return Schedule(text, interval_seconds=count * _UNITS[match.group(2)])
    if match := _DAILY.match(phrase):
        hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3)
        if half:
            if not 1 <= hour <= 12:
                raise ValueError(f"schedule {text!r}: hour {hour} is not on a 12-hour clock")
            hour = hour % 12 + (12 if half == "pm" else 0)
        if hour > 23 or minute > 59:
            raise ValueError(f"schedule {text!r}: no such time of day")
        return Schedule(text, cron=f"{minute} {hour} * * *")
    if croniter.is_valid(text.strip()) and len(text.split()) == 5:
        try:  # valid but never due (the 31st of February) would stall the flow, and every look at it would raise
            croniter(text.strip()).get_next(float)
        except CroniterBadDateError:
            raise ValueError(f"schedule {text!r} never comes round (no such date): check its day and month") from None
        return Schedule(text, cron=text.strip())
    raise ValueError(
        f"schedule {text!r} is not understood: write a cron expression ('0 2 * * *'), "
        "'every 30 seconds', 'every 5 minutes', 'hourly' or 'daily at 2 AM'"
    )


def longest_gap_seconds(cron: str, now: float, fires: int = 32) -> float:
    """The longest wait between two of the cron's next ``fires`` fires from ``now``: how long a flow on that clock
    rightly stays still (a weekday schedule's weekend, a monthly one's longest month). Bounded: ``fires`` steps."""
    times = croniter(cron, now)
    previous = times.get_next(float)
    longest = 0.0
    for _ in range(fires):
        following = times.get_next(float)
        longest, previous = max(longest, following - previous), following
    return longest


def cron_slot(cron: str, now: float) -> int:
    """The start (epoch seconds) of the cron period ``now`` falls in: a new slot means the schedule fired."""
    return int(croniter(cron, now).get_prev(float))


__all__ = ["Schedule", "cron_slot", "longest_gap_seconds", "parse_schedule"]
