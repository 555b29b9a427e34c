"""The ids every log line carries while LedgerLink works on a record: set by flows' steps and by request handlers,
read by the JSON log formatter (``ledgerlink.logs``). Kept apart so that neither layer imports the other."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType

_NONE: Mapping[str, str] = MappingProxyType({})  # an immutable default: every change sets a new dict

log_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar("ledgerlink_log_context", default=_NONE)


@contextmanager
def logging_ids(**ids: str | None) -> Iterator[None]:
    """Add ``ids`` (flow, run_id, record_id, …) to every log line written inside the block."""
    token = log_context.set({**log_context.get(), **{k: v for k, v in ids.items() if v}})
    try:
        yield
    finally:
        log_context.reset(token)
