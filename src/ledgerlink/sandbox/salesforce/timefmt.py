"""Salesforce's date and datetime wire formats.

Datetimes are stored and served as ``2022-07-28T12:49:16.000+0000`` (always UTC, ms precision): that fixed width
makes string order equal time order, which the SOQL evaluator relies on to compare without parsing.
"""

from __future__ import annotations

import datetime as dt
import re

_DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def format_datetime(value: dt.datetime) -> str:
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def format_ms(epoch_ms: int) -> str:
    return format_datetime(dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC))


def parse_datetime(text: str) -> dt.datetime | None:
    """Parse the ISO-8601 forms Salesforce accepts; a missing zone means UTC. None if unparseable."""
    m = _DATETIME_RE.match(text.strip())
    if not m:
        return None
    year, month, day, hour, minute, second, frac, zone = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tz = dt.UTC
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        return dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tz)
    except ValueError:
        return None


def parse_date(text: str) -> dt.date | None:
    m = _DATE_RE.match(text.strip())
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def normalize_datetime(text: str) -> str | None:
    parsed = parse_datetime(text)
    return format_datetime(parsed) if parsed else None


def datetime_to_ms(text: str) -> int:
    parsed = parse_datetime(text)
    if parsed is None:
        raise ValueError(f"not a datetime: {text!r}")
    return int(parsed.timestamp() * 1000)
