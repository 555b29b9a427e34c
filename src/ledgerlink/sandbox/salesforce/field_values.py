"""Turning JSON values from a request body into stored field values, with Salesforce's errors."""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from . import ids
from .errors import ApiError, bad_request
from .schema import NUMBER_TYPES, TEXT_TYPES, FieldDef, ObjectDef
from .timefmt import format_datetime, parse_date, parse_datetime

_JSON_TYPE_NAMES = {
    "double": "double",
    "currency": "currency",
    "percent": "double",
    "int": "int",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
    "reference": "reference",
}


class TypeMismatch(ApiError):
    """A value of the wrong JSON type: JSON_PARSER_ERROR for a single-record call, a per-record
    INVALID_TYPE_ON_FIELD_IN_RECORD inside sObject Collections (see ``as_record_error``)."""

    def __init__(self, fdef: FieldDef, value: Any) -> None:
        kind = (
            "VALUE_STRING"
            if isinstance(value, str)
            else "VALUE_NUMBER"
            if isinstance(value, int | float)
            else (
                "START_OBJECT"
                if isinstance(value, dict)
                else "START_ARRAY"
                if isinstance(value, list)
                else "VALUE_TRUE"
            )
        )
        super().__init__(
            400,
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of {_JSON_TYPE_NAMES.get(fdef.type, 'string')} from {kind} value {value} "
            "or request may be missing a required field",
            None,
        )
        self.field_name = fdef.name
        self.value = value

    def as_record_error(self) -> ApiError:
        return ApiError(
            400,
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            f"{self.field_name}: value not of required type: {self.value}",
            [self.field_name],
        )


def coerce(obj: ObjectDef, fdef: FieldDef, value: Any) -> Any:
    """The stored form of ``value`` for ``fdef`` (None clears the field); raises ApiError when it can't be."""
    if value is None:
        return False if fdef.type == "boolean" else None
    kind = fdef.type
    if kind in TEXT_TYPES:
        return _text(fdef, value)
    if kind in NUMBER_TYPES:
        return _number(fdef, value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise TypeMismatch(fdef, value)
    if kind == "date":
        if isinstance(value, str) and parse_date(value):
            return value.strip()
        raise TypeMismatch(fdef, value)
    if kind == "datetime":
        if isinstance(value, str):
            parsed = parse_datetime(value) or (parse_datetime(value + "T00:00:00Z") if parse_date(value) else None)
            if parsed:
                return format_datetime(parsed)
        raise TypeMismatch(fdef, value)
    if kind == "reference" or kind == "id":
        if not isinstance(value, str):
            raise TypeMismatch(fdef, value)
        if value == "":
            return None
        normalized = ids.normalize(value)
        if normalized is None:
            raise bad_request("MALFORMED_ID", f"{_label(fdef)}: id value of incorrect type: {value}", [fdef.name])
        return normalized
    if kind == "base64":
        if not isinstance(value, str):
            raise TypeMismatch(fdef, value)
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise TypeMismatch(fdef, value) from exc
        return value
    return value


def _text(fdef: FieldDef, value: Any) -> str | None:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise TypeMismatch(fdef, value)
    if text == "":
        return None  # Salesforce stores an empty string as null
    if fdef.length and len(text) > fdef.length:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise bad_request(
            "STRING_TOO_LONG", f"{_label(fdef)}: data value too large: {shown} (max length={fdef.length})", [fdef.name]
        )
    return text


def _number(fdef: FieldDef, value: Any) -> int | float:
    if isinstance(value, bool):
        raise TypeMismatch(fdef, value)
    number: float
    if isinstance(value, int | float):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError as exc:
            raise TypeMismatch(fdef, value) from exc
    else:
        raise TypeMismatch(fdef, value)
    if isinstance(number, float) and not math.isfinite(number):
        raise TypeMismatch(fdef, value)
    if fdef.type == "int":
        if number != int(number):
            raise TypeMismatch(fdef, value)
        return int(number)
    return float(number)


def _label(fdef: FieldDef) -> str:
    if fdef.type == "reference" and fdef.name.endswith("Id"):
        return fdef.name[:-2] + " ID"
    return fdef.label or fdef.name.removesuffix("__c").replace("_", " ")
