"""What every sync step needs: the retrying step decorator, the mapping context, and failed-record bookkeeping."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from ledgerlink.connectors.errors import PermanentError
from ledgerlink.engine.retry import durable_step
from ledgerlink.engine.runtime import current
from ledgerlink.flows._errors import RecordRejected, describe
from ledgerlink.mapping import MappingError, TransformContext

sync_step = durable_step

# One record's problem: recorded as a failed record, the rest of its page goes on. Transient errors are not
# here: they fail the attempt, which the step retries with backoff (every write in a page is idempotent, so a
# retry redoes only what is left).
RECORD_ERRORS = (PermanentError, MappingError, ValidationError, RecordRejected)


def transform_context() -> TransformContext:
    rt = current()
    ledger, flows = rt.ledger, rt.settings.flows
    return TransformContext(
        lookup_xref=lambda system, obj, rid, other: ledger.lookup(system, obj, rid, other),
        source_system="salesforce",
        default_nominal_code=flows.default_nominal_code,
        default_currency=flows.default_currency,
        default_tax_rate=Decimal(flows.default_tax_rate),
        payment_terms_days=flows.payment_terms_days,
    )


def fail(
    flow: str, source: tuple[str, str, str], exc: BaseException, run_id: str, data: dict[str, Any] | None = None
) -> str:
    """Record one record's failure (message names record and field) and its audit entry; returns the message."""
    rt = current()
    message, field, attempts = describe(exc, record=f"{source[1]} {source[2]}")
    rt.ledger.record_failure(
        flow=flow,
        source=source,
        error=message,
        field=field,
        input_data=data or {},
        attempts=[*({"error": a, "field": field} for a in attempts), {"error": message, "field": field}],
    )
    rt.ledger.audit(
        flow=flow,
        system=source[0],
        obj=source[1],
        record_id=source[2],
        action="failed",
        run_id=run_id,
        source_id=source[2],
        detail={"error": message, "field": field},
    )
    return message
