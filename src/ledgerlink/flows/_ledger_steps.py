"""The ledger-only steps every flow takes: move a watermark, fail a record, close a failed record.

One definition each, so DBOS registers each step once (it recovers a step by its name) and no flow keeps a copy.
"""

from __future__ import annotations

from typing import Any

from dbos import DBOS

from ledgerlink.engine.retry import ledger_step
from ledgerlink.engine.runtime import current


@ledger_step
def save_watermark(name: str, position: str) -> None:
    current().ledger.set_watermark(name, position)


@ledger_step
def fail(
    flow: str,
    source: tuple[str, str, str],
    message: str,
    field: str | None,
    attempts: list[str],
    data: dict[str, Any] | None = None,
) -> None:
    """The failed record (each retried attempt, then the verdict) and its audit entry."""
    current().ledger.fail_record(
        flow=flow,
        source=(source[0], source[1], source[2]),
        message=message,
        field=field,
        attempts=attempts,
        input_data=data if data is not None else {"Id": source[2]},
        run_id=DBOS.workflow_id,
    )


@ledger_step
def resolve_failure(flow: str, source_id: str) -> None:
    """A run that succeeded closes the record's open failure, if it had one."""
    current().ledger.resolve_failure(flow, source_id)
