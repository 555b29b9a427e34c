"""The ledger-only steps every flow takes: move a watermark, fail a record, close a failed record.

One definition each, so DBOS registers each step once (it recovers a step by its name) and no flow keeps a copy.
"""

from __future__ import annotations

from typing import Any

from dbos import DBOS

from ledgerlink.engine.retry import ledger_step
from ledgerlink.flows.deps import Deps


@ledger_step
def save_watermark(deps: Deps, name: str, position: str) -> None:
    deps.ledger.set_watermark(name, position)


@ledger_step
def fail(
    deps: Deps,
    flow: str,
    source: tuple[str, str, str],
    message: str,
    field: str | None,
    attempts: list[str],
    data: dict[str, Any] | None = None,
) -> None:
    """The failed record (each retried attempt, then the verdict) and its audit entry."""
    deps.ledger.fail_record(
        flow=flow,
        source=(source[0], source[1], source[2]),
        message=message,
        field=field,
        attempts=attempts,
        input_data=data if data is not None else {"Id": source[2]},
        run_id=DBOS.workflow_id,
    )


@ledger_step
def resolve_failure(deps: Deps, flow: str, source_id: str) -> None:
    """A run that succeeded closes the record's open failure, if it had one."""
    deps.ledger.resolve_failure(flow, source_id)
