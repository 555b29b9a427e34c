"""Kashoo's wire conventions: JSON errors, integer cents, ``yyyy-MM-dd`` dates, epoch-millisecond timestamps."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

MAX_ID = 2**63 - 1


class ApiError(Exception):
    """Rendered as ``{"errorCode", "message", "field"}``."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field

    def body(self) -> dict[str, Any]:
        return {"errorCode": self.code, "message": self.message, "field": self.field}


def invalid(field: str, message: str) -> ApiError:
    return ApiError(400, "INVALID_FIELD", f"{field}: {message}", field)


def not_found(what: str, key: object) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"{what} {key} does not exist")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class KashooJSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(_plain(content), separators=(",", ":")).encode()


async def read_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}", parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "INVALID_JSON", f"the body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "INVALID_JSON", "the body must be a JSON object")
    return body


def cents(value: Any, field: str, *, minimum: int = 0) -> int:
    """Amounts are whole cents: 1999 means 19.99. A fractional number is refused rather than guessed at."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise invalid(field, f"{value!r} is not an amount in cents")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise invalid(field, f"{value!r} is not an amount in cents") from exc
    if not number.is_finite() or number != number.to_integral_value():
        raise invalid(field, f"{value!r} is not a whole number of cents")
    if number < minimum:
        raise invalid(field, f"must be at least {minimum}")
    return int(number)


def decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise invalid(field, f"{value!r} is not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise invalid(field, f"{value!r} is not a number") from exc
    if not number.is_finite():
        raise invalid(field, f"{value!r} is not a number")
    return number


def round_cents(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), ROUND_HALF_UP))


def entity_id(value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise invalid(field, f"{value!r} is not an id")
    try:
        number = int(str(value))
    except ValueError as exc:
        raise invalid(field, f"{value!r} is not an id") from exc
    if not 0 < number <= MAX_ID:
        raise invalid(field, "ids are positive 64-bit integers")
    return number


def parse_date(value: Any, field: str) -> str:
    """``yyyy-MM-dd`` (a full ISO timestamp is accepted and cut to its date); returns ``yyyy-MM-dd``."""
    if not isinstance(value, str):
        raise invalid(field, f"{value!r} is not a date (yyyy-MM-dd)")
    try:
        return date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError as exc:
        raise invalid(field, f"{value!r} is not a date (yyyy-MM-dd)") from exc


def parse_stamp(value: str, field: str) -> int:
    """A ``modifiedSince`` watermark: epoch milliseconds, or an ISO 8601 timestamp (UTC if no offset)."""
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise invalid(field, f"{value!r} is neither epoch milliseconds nor an ISO timestamp") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def parse_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid(field, f"{value!r} is not true or false")


def text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, dict | list | bool):
        raise invalid(key, "must be text")
    return str(value)
