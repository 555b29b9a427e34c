"""Date and datetime transforms between the formats APIs use.

Named formats: ``iso`` (YYYY-MM-DD, also reads ISO datetimes), ``MM/DD/YYYY``, ``DD/MM/YYYY``, ``sql``
("YYYY-MM-DD HH:MM:SS", optional offset), ``salesforce`` ("2022-07-28T12:49:16.000+0000"), ``epoch_ms``, and ``date`` /
``datetime`` (Python objects). Any other format containing ``%`` is a strptime/strftime pattern. Naive times are UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from ledgerlink.mapping.context import TransformContext
from ledgerlink.mapping.errors import TransformError
from ledgerlink.mapping.transforms.registry import TransformFn, expect_mapping, register, setting_or_value

UTC = dt.UTC
_PATTERNS = {
    "MM/DD/YYYY": "%m/%d/%Y",
    "DD/MM/YYYY": "%d/%m/%Y",
    "YYYY-MM-DD": "%Y-%m-%d",
    "DD.MM.YYYY": "%d.%m.%Y",
}
FORMATS = frozenset({"iso", "sql", "salesforce", "epoch_ms", "date", "datetime", *_PATTERNS})


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def parse_temporal(value: Any, fmt: str) -> dt.date | dt.datetime:
    """Read ``value`` in format ``fmt``; date/datetime objects are accepted whatever the format says."""
    if isinstance(value, dt.datetime):
        return _aware(value)
    if isinstance(value, dt.date):
        return value
    try:
        if fmt == "epoch_ms":
            return dt.datetime.fromtimestamp(int(value) / 1000, tz=UTC)
        if not isinstance(value, str):
            raise TransformError(f"{value!r} is not a date string")
        text = value.strip()
        if fmt in ("iso", "date", "datetime", "sql", "salesforce"):
            if len(text) == 10:
                return dt.date.fromisoformat(text)
            return _aware(dt.datetime.fromisoformat(text))
        pattern = _PATTERNS.get(fmt, fmt)
        parsed = dt.datetime.strptime(text, pattern)
        return parsed.date() if not any(c in pattern for c in "HIMSfz") else _aware(parsed)
    except (ValueError, OverflowError, TypeError) as exc:
        if isinstance(exc, TransformError):
            raise
        raise TransformError(f"{value!r} is not a {fmt} date") from exc


def _as_datetime(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime(value.year, value.month, value.day, tzinfo=UTC)


def format_date(value: dt.date | dt.datetime, fmt: str) -> Any:
    day = value.date() if isinstance(value, dt.datetime) else value
    if fmt in ("iso", "YYYY-MM-DD"):
        return day.isoformat()
    if fmt == "date":
        return day
    if fmt == "datetime":
        return _as_datetime(day)
    if fmt == "sql":
        return f"{day.isoformat()} 00:00:00"
    if fmt == "salesforce":
        return f"{day.isoformat()}T00:00:00.000+0000"
    if fmt == "epoch_ms":
        return int(_as_datetime(day).timestamp() * 1000)
    return day.strftime(_PATTERNS.get(fmt, fmt))


def format_datetime(value: dt.date | dt.datetime, fmt: str) -> Any:
    moment = _as_datetime(value)
    if fmt == "datetime":
        return moment
    if fmt == "date":
        return moment.date()
    if fmt == "iso":
        return moment.isoformat()
    if fmt == "sql":
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if fmt == "salesforce":
        utc = moment.astimezone(UTC)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"
    if fmt == "epoch_ms":
        return int(moment.timestamp() * 1000)
    return moment.strftime(_PATTERNS.get(fmt, fmt))


def _check_format(fmt: Any) -> str:
    if not isinstance(fmt, str) or (fmt not in FORMATS and "%" not in fmt):
        raise ValueError(f"unknown date format {fmt!r}; use one of {sorted(FORMATS)} or a strftime pattern")
    return fmt


def _converter(args: Any, default_to: str, out: Callable[[dt.date | dt.datetime, str], Any]) -> TransformFn:
    options = expect_mapping("date", args, {"from", "to"})
    source = _check_format(options.get("from", "iso"))
    target = _check_format(options.get("to", default_to))

    def convert(value: Any, ctx: TransformContext) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return out(parse_temporal(value, source), target)

    return convert


@register("date")
def make_date(args: Any) -> TransformFn:
    """Read a date (or the date part of a datetime) in ``from`` format and write it in ``to`` format (default iso)."""
    return _converter(args, "iso", format_date)


@register("datetime")
def make_datetime(args: Any) -> TransformFn:
    """Read a datetime in ``from`` format and write it in ``to`` format (default: an aware Python datetime)."""
    return _converter(args, "datetime", format_datetime)


@register("add_days")
def make_add_days(args: Any) -> TransformFn:
    """Add days to a date: ``{add_days: 30}`` or ``{add_days: {setting: payment_terms_days, default: 30}}``."""
    days = setting_or_value(args)

    def add(value: Any, ctx: TransformContext) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        try:
            count = int(days(ctx) or 0)
        except (TypeError, ValueError) as exc:
            raise TransformError(f"add_days: {days(ctx)!r} is not a number of days") from exc
        moment = parse_temporal(value, "iso")
        shifted = moment + dt.timedelta(days=count)
        return shifted.isoformat()[:10] if isinstance(value, str) else shifted

    return add
