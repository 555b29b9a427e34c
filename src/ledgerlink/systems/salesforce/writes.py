"""Per-record outcomes of a batched write, the same whether it went through sObject Collections or Bulk API 2.0."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

Operation = Literal["insert", "update", "upsert", "delete"]
OPERATIONS: tuple[str, ...] = ("insert", "update", "upsert", "delete")
UNPROCESSED = "UNPROCESSED"  # the call carrying this record failed as a whole or never ran: safe to retry


@dataclass(frozen=True)
class RecordError:
    code: str  # Salesforce's statusCode, e.g. REQUIRED_FIELD_MISSING
    message: str
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class WriteResult:
    """The outcome for ``records[index]``; ``created`` is True when an insert or upsert made a new record."""

    index: int
    id: str | None
    created: bool
    success: bool
    errors: tuple[RecordError, ...] = field(default=())

    @property
    def processed(self) -> bool:
        return self.success or all(e.code != UNPROCESSED for e in self.errors)


def from_collection_item(index: int, item: dict[str, Any], operation: str) -> WriteResult:
    """One element of an sObject Collections response (``statusCode`` errors, ``created`` for upserts)."""
    success = bool(item.get("success"))
    errors = tuple(
        RecordError(
            str(e.get("statusCode") or e.get("errorCode") or ""),
            str(e.get("message") or ""),
            tuple(e.get("fields") or ()),
        )
        for e in item.get("errors") or []
        if isinstance(e, dict)
    )
    created = bool(item.get("created")) if operation == "upsert" else (operation == "insert" and success)
    return WriteResult(index, item.get("id") or None, created and success, success, errors)


def unprocessed(index: int, reason: str, code: str | None = None) -> WriteResult:
    detail = f"{code}: {reason}" if code else reason
    return WriteResult(index, None, False, False, (RecordError(UNPROCESSED, detail),))


def parse_bulk_error(text: str) -> RecordError:
    """``sf__Error`` as Salesforce writes it: ``CODE:message:field1,field2 --``."""
    text = text.strip().removesuffix("--").strip()
    code, _, rest = text.partition(":")
    message, sep, fields = rest.rpartition(":")
    if not sep:
        message, fields = rest, ""
    return RecordError(code.strip(), message.strip(), tuple(f for f in fields.strip().split(",") if f))


def csv_cell(value: Any) -> str:
    """A JSON-ish value as a Bulk API CSV cell, with REST's meaning: None and "" clear the field (``#N/A``)."""
    if value is None or value == "":
        return "#N/A"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"
    if isinstance(value, dt.date | Decimal | int | float):
        return str(value) if not isinstance(value, dt.date) else value.isoformat()
    return str(value)
