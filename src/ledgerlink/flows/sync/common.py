"""What every sync step needs: the retrying step decorator, the mapping context, and failed-record bookkeeping."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from ledgerlink.engine.retry import RetriesExhausted, durable_step
from ledgerlink.flows._errors import RecordRejected, describe
from ledgerlink.flows.deps import Deps
from ledgerlink.mapping import LookupXref, MappingError, TransformContext, load_mapping
from ledgerlink.mapping.reads import mapping_reads
from ledgerlink.systems.errors import PermanentError
from ledgerlink.systems.salesforce import reads as sf_reads
from ledgerlink.systems.salesforce.incremental import Position, incremental_soql, soql_datetime, upper_bound

sync_step = durable_step

# One record's problem: recorded as a failed record, the rest of its page goes on. Transient errors are not
# here: a record's own reads and writes are retried where they are made (``retried``, the engine's policy), and
# one that still fails becomes a failed record (RetriesExhausted); what fails outside them fails the attempt, which
# the step retries with backoff (every write in a page is idempotent, so a retry redoes only what is left).
RECORD_ERRORS = (PermanentError, MappingError, ValidationError, RecordRejected, RetriesExhausted)


def transform_context(
    deps: Deps, source_system: str = "salesforce", lookup_xref: LookupXref | None = None
) -> TransformContext:
    """What every flow's mappings read: the project's settings, and lookups through the cross-reference ledger."""
    ledger, flows, books = deps.ledger, deps.settings, deps.books
    return TransformContext(
        lookup_xref=lookup_xref or (lambda system, obj, rid, other: ledger.lookup(system, obj, rid, other)),
        source_system=source_system,
        object_names={
            "Customer": books.customer_object,
            "Invoice": books.invoice_object,
            "Product": books.product_object,
        },
        default_nominal_code=flows.default_nominal_code,
        default_currency=flows.default_currency,
        default_tax_rate=Decimal(flows.default_tax_rate),
        payment_terms_days=flows.payment_terms_days,
        tax_rules=tuple(flows.tax_rules),
    )


def mapped_columns(deps: Deps, sobject: str, template: str, fixed: list[str]) -> list[str]:
    """The columns a sync flow reads: its own (``fixed``) plus any field the mapping in use (a user's copy of
    ``template``) reads beyond them, so a custom field mapped there is read without code."""
    return sf_reads.extra_columns(deps.crm, sobject, mapping_reads(load_mapping(template)), fixed)


def fail(
    deps: Deps,
    flow: str,
    source: tuple[str, str, str],
    exc: BaseException,
    run_id: str,
    data: dict[str, Any] | None = None,
) -> str:
    """Record one record's failure (message names record and field) and its audit entry; returns the message."""
    message, field, attempts = describe(exc, record=f"{source[1]} {source[2]}")
    deps.ledger.fail_record(
        flow=flow, source=source, message=message, field=field, attempts=attempts, input_data=data, run_id=run_id
    )
    return message


def read_changed(
    deps: Deps,
    sobject: str,
    watermark: str,
    columns: list[str],
    where: str | None,
    lag: float,
    *,
    limit: int | None = None,
    include_deleted: bool = True,
) -> list[Any]:
    """The next page of ``sobject`` rows changed (deleted ones too, unless told not) after the saved watermark,
    oldest first: ``limit`` rows, a sync page unless told."""
    position = deps.ledger.get_watermark(watermark)
    return read_changed_after(
        deps, sobject, position, columns, where, lag, limit=limit, include_deleted=include_deleted
    )


def read_changed_after(
    deps: Deps,
    sobject: str,
    position: str | None,
    columns: list[str],
    where: str | None,
    lag: float,
    *,
    limit: int | None = None,
    include_deleted: bool = True,
) -> list[Any]:
    """``read_changed`` from a given watermark position."""
    since = Position.decode(position)
    soql = incremental_soql(sobject, columns, where, since, upper_bound(lag))
    rows = limit or deps.settings.sync_page_size
    return list(deps.crm.query(f"{soql} LIMIT {rows}", include_deleted=include_deleted))


def position_after(rows: list[dict[str, Any]]) -> str | None:
    """The watermark just past the last row of a page (None for an empty page: the watermark stays)."""
    return Position(soql_datetime(rows[-1]["SystemModstamp"]), rows[-1]["Id"]).encode() if rows else None
