"""Turning whatever went wrong into one message that names the record and the field."""

from __future__ import annotations

from typing import Any

from dbos._error import DBOSMaxStepRetriesExceeded
from pydantic import ValidationError

from ledgerlink.engine.retry import RetriesExhausted
from ledgerlink.mapping import MappingError
from ledgerlink.systems.errors import ConnectorError


class RecordRejected(Exception):
    """A flow's own check failed for this record (e.g. it lacks an Account)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self), self.field))


FLOW_ERRORS = (
    ConnectorError,
    MappingError,
    ValidationError,
    RecordRejected,
    RetriesExhausted,
    DBOSMaxStepRetriesExceeded,
)


def describe(exc: BaseException, *, record: str) -> tuple[str, str | None, list[str]]:
    """(message, field, attempts): attempts lists each retried error when retries ran out."""
    attempts: list[str] = []
    if isinstance(exc, RetriesExhausted):
        message, field, _ = describe(exc.last, record=record)
        return f"gave up after {len(exc.errors)} attempts: {message}", field, list(exc.errors)
    if isinstance(exc, DBOSMaxStepRetriesExceeded):
        attempts = [str(e) for e in exc.errors]
        last = exc.errors[-1] if exc.errors else exc
        message, field, _ = describe(last, record=record)
        return f"gave up after {len(exc.errors)} attempts: {message}", field, attempts
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        return f"{record}: field {field}: {first['msg']} (got {first.get('input')!r})", field, attempts
    if isinstance(exc, MappingError):
        return f"{record}: {exc}", getattr(exc, "field", None), attempts
    if isinstance(exc, ConnectorError):
        return f"{record}: {exc}", exc.field, attempts
    if isinstance(exc, RecordRejected):
        return f"{record}: {exc}", exc.field, attempts
    return f"{record}: {type(exc).__name__}: {exc}", None, attempts


def error_result(exc: BaseException, *, record: str) -> dict[str, Any]:
    """``describe`` as the result a batch step returns for one record that failed (``error``, ``field``,
    ``attempts``): the workflow turns it into the failed record."""
    message, field, attempts = describe(exc, record=record)
    return {"error": message, "field": field, "attempts": attempts}
