"""KashFlow's wire format: errors, case-insensitive JSON in, four-decimal amounts and dates out."""

from __future__ import annotations

import functools
import json
import re
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from fastapi import Request
from fastapi.responses import Response

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
PENNY = Decimal("0.01")
FOUR = Decimal("0.0001")


class ApiError(Exception):
    """Rendered as ``{"Error", "Message"[, "Field"]}`` with the given status."""

    def __init__(self, status: int, error: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.field = status, error, message, field

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Error": self.error, "Message": self.message}
        if self.field:
            out["Field"] = self.field
        return out


def invalid(field: str, message: str) -> ApiError:
    return ApiError(400, "ValidationError", f"{field}: {message}", field)


def not_found(what: str, key: object) -> ApiError:
    return ApiError(404, "NotFound", f"{what} {key} was not found.")


def _encode(value: Any, out: list[str]) -> None:
    # A hand-rolled encoder because json cannot print Decimal("46") as the number 46.0000.
    if isinstance(value, Decimal):
        out.append(f"{value.quantize(FOUR, ROUND_HALF_UP):f}")
    elif isinstance(value, dict):
        out.append("{")
        for i, (k, v) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(json.dumps(str(k)))
            out.append(":")
            _encode(v, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _encode(v, out)
        out.append("]")
    elif isinstance(value, datetime):
        out.append(json.dumps(fmt_datetime(value)))
    else:
        out.append(json.dumps(value))


def dumps(value: Any) -> str:
    """``_encode``'s bytes, with one C-level ``json.dumps`` for the whole body (leaf by leaf, a page of 200
    customers was half a list call's time): each amount is a placeholder string, put back as its number after.
    Bodies holding NUL characters are left to ``_encode``. Keys are strings in every body the sandbox renders (its
    documents come from JSON); json.dumps would spell a True or None key differently from ``_encode``."""
    amounts: list[str] = []

    def placeholder(item: Any) -> str | None:
        if isinstance(item, Decimal):
            amounts.append(f"{item.quantize(FOUR, ROUND_HALF_UP):f}")
            return f"\x00{len(amounts) - 1}\x00"
        if isinstance(item, datetime):
            return fmt_datetime(item)
        raise _Unusual

    try:
        text = json.dumps(value, separators=(",", ":"), default=placeholder)
    except (_Unusual, TypeError, ValueError):  # a key json.dumps refuses (a tuple), a circular body: _encode decides
        text = None
    if text is None or text.count("\\u0000") != 2 * len(amounts):
        out: list[str] = []
        _encode(value, out)
        return "".join(out)
    return _PLACEHOLDER.sub(lambda m: amounts[int(m.group(1))], text) if amounts else text


class _Unusual(Exception):
    """A value ``dumps`` leaves to ``_encode``."""


# What json.dumps writes for the placeholder "\x00<n>\x00": with no other NUL in the body, only placeholders match.
_PLACEHOLDER = re.compile(r'"\\u0000(\d+)\\u0000"')


class KfJSON(Response):
    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return dumps(content).encode()


def lower_keys(value: Any) -> Any:
    """Recursively lower-case object keys: KashFlow matches JSON keys case-insensitively."""
    if isinstance(value, dict):
        return {str(k).lower(): lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lower_keys(v) for v in value]
    return value


async def read_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise ApiError(400, "InvalidRequest", "A JSON body is required.")
    try:
        return lower_keys(json.loads(raw, parse_float=Decimal))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "InvalidRequest", f"The body is not valid JSON: {exc}") from exc


async def read_object(request: Request) -> dict[str, Any]:
    body = await read_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidRequest", "The body must be a JSON object.")
    return body


def fmt_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime(DATE_FORMAT)


def parse_datetime(value: Any, field: str) -> datetime:
    """Lenient: ``2012-06-28 12:00:00``, ISO 8601 with ``T``, fractions, ``Z`` or offsets, or a bare date.

    Offsets are converted to UTC (the sandbox account's time zone); the result is naive UTC.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise invalid(field, f"{value!r} is not a date (expected e.g. 2012-06-28 12:00:00)") from exc
    else:
        raise invalid(field, f"{value!r} is not a date (expected e.g. 2012-06-28 12:00:00)")
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def stored_datetime(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@functools.lru_cache(maxsize=1 << 16)
def served_datetime(value: str | None) -> str | None:
    """A stored stamp as served (to the second). Cached: a listing serves every row's two stamps, and most
    rows keep theirs between calls."""
    return fmt_datetime(stored_datetime(value))


@functools.lru_cache(maxsize=1 << 16)
def stored_second(value: str | None) -> datetime | None:
    """A stored stamp to the second, as ``updatedsince`` compares it (cached, as ``served_datetime``)."""
    stamp = stored_datetime(value)
    return stamp.replace(microsecond=0) if stamp else None


def parse_decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise invalid(field, f"{value!r} is not a number")
    try:
        result = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation as exc:
        raise invalid(field, f"{value!r} is not a number") from exc
    if not result.is_finite():
        raise invalid(field, f"{value!r} is not a number")
    return result


def parse_int(value: Any, field: str) -> int:
    number = parse_decimal(value, field)
    if number != number.to_integral_value():
        raise invalid(field, f"{value!r} is not a whole number")
    return int(number)


def parse_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int | Decimal) and value in (0, 1):
        return bool(value)
    raise invalid(field, f"{value!r} is not true or false")


def opt_str(body: dict[str, Any], key: str, field: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int | Decimal) or isinstance(value, bool):
        raise invalid(field, "must be text")
    return str(value)


def money(value: Decimal) -> Decimal:
    return value.quantize(PENNY, ROUND_HALF_UP)
