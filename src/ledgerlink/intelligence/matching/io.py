"""Customers from JSON Lines (one canonical ``Customer`` a line, plus an ``id``), bounded in size, with errors that
name the file, the line and the field."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ledgerlink.model import Customer

MAX_FILE_BYTES = 1 << 30  # 1 GiB: ~2 million customers
MAX_LINE_BYTES = 1 << 20
MAX_RECORDS = 2_000_000


class CustomerFileError(ValueError):
    def __init__(self, path: Path, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class IdentifiedCustomer:
    id: str
    customer: Customer


def _field_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(record)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"field {field!r}: {first['msg']}{more}"


def read_customers(path: Path) -> list[IdentifiedCustomer]:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CustomerFileError(path, None, f"cannot read: {exc.strerror or exc}") from exc
    if size > MAX_FILE_BYTES:
        raise CustomerFileError(path, None, f"{size:,} bytes is over the {MAX_FILE_BYTES:,} byte limit")
    out: list[IdentifiedCustomer] = []
    seen: set[str] = set()
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if len(raw) > MAX_LINE_BYTES:
                raise CustomerFileError(path, number, f"line is over {MAX_LINE_BYTES:,} bytes")
            if not raw.strip():
                continue
            if len(out) >= MAX_RECORDS:
                raise CustomerFileError(path, number, f"more than {MAX_RECORDS:,} records")
            out.append(_parse_line(path, number, raw, seen))
    return out


def _parse_line(path: Path, number: int, raw: bytes, seen: set[str]) -> IdentifiedCustomer:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CustomerFileError(path, number, f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CustomerFileError(path, number, "each line must be a JSON object (a customer with an 'id')")
    record_id = data.pop("id", None)
    if isinstance(record_id, bool) or not isinstance(record_id, str | int) or str(record_id) == "":
        raise CustomerFileError(path, number, "field 'id': a non-empty string or integer is required")
    record_id = str(record_id)
    if len(record_id) > 255:
        raise CustomerFileError(path, number, "field 'id': longer than 255 characters")
    if record_id in seen:
        raise CustomerFileError(path, number, f"field 'id': {record_id!r} appears twice")
    seen.add(record_id)
    try:
        customer = Customer.model_validate(data)
    except ValidationError as exc:
        raise CustomerFileError(path, number, f"id {record_id!r}: {_field_error(exc)}") from exc
    return IdentifiedCustomer(record_id, customer)
