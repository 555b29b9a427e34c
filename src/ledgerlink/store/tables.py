"""Table definitions. Alembic's migrations in ``migrations/versions`` create exactly these."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class CrossReference(Base):
    """One record in system A is the same thing as one record in system B."""

    __tablename__ = "ll_xref"
    __table_args__ = (
        UniqueConstraint("system_a", "object_a", "id_a", "system_b", "object_b", name="uq_xref_a"),
        UniqueConstraint("system_b", "object_b", "id_b", "system_a", "object_a", name="uq_xref_b"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    system_a: Mapped[str] = mapped_column(String(32))
    object_a: Mapped[str] = mapped_column(String(64))
    id_a: Mapped[str] = mapped_column(String(128))
    system_b: Mapped[str] = mapped_column(String(32))
    object_b: Mapped[str] = mapped_column(String(64))
    id_b: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Watermark(Base):
    """How far a trigger has read a source: opaque text (e.g. "2024-01-01T00:00:00.000Z|006…")."""

    __tablename__ = "ll_watermark"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class TriggerCheck(Base):
    """When the trigger keeping watermark ``name`` last read its source successfully, changes or none: what the
    stalled-trigger alert rules read, beside the watermark's own ``updated_at`` (a watermark moves only when there is
    something new, so a quiet source leaves it still). Written at most once a minute per trigger (``Ledger.
    trigger_checked``). A table of its own, not a column of ``ll_watermark``: a trigger may have checked with no
    watermark row yet (a source quiet since it started, a trigger that keeps none), and a watermark's value stays
    required."""

    __tablename__ = "ll_trigger_check"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class RecordVersion(Base):
    """The last version of a record LedgerLink wrote or saw: echo suppression and conflict rules read it."""

    __tablename__ = "ll_record_version"

    system: Mapped[str] = mapped_column(String(32), primary_key=True)
    object: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    written_by_us: Mapped[int] = mapped_column(Integer, default=0)
    modified_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class AuditLog(Base):
    """What was written where, when, by which flow run."""

    __tablename__ = "ll_audit_log"
    __table_args__ = (
        Index("ix_audit_record", "system", "object", "record_id"),
        Index("ix_audit_source", "source_id"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    flow: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    source_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    system: Mapped[str] = mapped_column(String(32))
    object: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class FailedRecord(Base):
    """A record a flow could not process: its input, every attempt's error, and whether it was replayed."""

    __tablename__ = "ll_failed_record"
    __table_args__ = (UniqueConstraint("flow", "source_id", name="uq_failed_flow_source"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow: Mapped[str] = mapped_column(String(64), index=True)
    source_system: Mapped[str] = mapped_column(String(32))
    source_object: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(128))
    target_ids: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    input: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class CreateIntent(Base):
    """A create LedgerLink was about to make in another system for a source record (an invoice, a file), written
    before the create. A later attempt for a record with no cross-reference but an intent looks in the target
    system first, as the earlier one may have made it and died before its link; a record with neither is created
    without that look (one API call fewer per record)."""

    __tablename__ = "ll_create_intent"

    flow: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_system: Mapped[str] = mapped_column(String(32), primary_key=True)
    source_object: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    run_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CreateClaim(Base):
    """A create about to be made in another system under a key that system keeps (a customer code), claimed so
    that of two workers making the same new record at the same instant only one sends the create; the other waits
    for its outcome (``store.claims``). ``scope`` names the books (system, account, URL), ``state`` is pending |
    made (``target_id`` set) | unknown (the create may or may not have happened: the next claimer looks first)."""

    __tablename__ = "ll_create_claim"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    object: Mapped[str] = mapped_column(String(64), primary_key=True)
    code: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    at: Mapped[float] = mapped_column(Float)  # time.time() of the claim or of its outcome


class RateBucket(Base):
    """A token bucket per connection, shared by every worker process through the database."""

    __tablename__ = "ll_rate_bucket"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)  # time.time() of the last refill
