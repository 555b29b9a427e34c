"""The intelligence's tables: the golden-record review queue, schema snapshots (for drift) and findings (anomalies
and drift, which the alerts read). Migration 0004_intelligence creates exactly these."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledgerlink.store.tables import Base, utcnow


class MatchReview(Base):
    """A pair golden-record matching was unsure of: a person links them (approve) or keeps them apart (reject)."""

    __tablename__ = "ll_match_review"
    __table_args__ = (
        UniqueConstraint("source_system", "source_object", "source_id", "target_id", name="uq_match_review_pair"),
        Index("ix_match_review_status", "status"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow: Mapped[str] = mapped_column(String(64))
    source_system: Mapped[str] = mapped_column(String(32))
    source_object: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(128))
    target_system: Mapped[str] = mapped_column(String(32))
    target_object: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str] = mapped_column(String(128))
    score: Mapped[float] = mapped_column(Float)
    why: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # comparison name -> level
    source_record: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # canonical customer, for the page
    target_record: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | approved | rejected
    # What the approval writes: merge | update | skip; none: the direction's duplicate policy in the settings.
    action: Mapped[str | None] = mapped_column(String(16), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SchemaSnapshot(Base):
    """The fields of one object as a system last described them: drift is a difference from this."""

    __tablename__ = "ll_schema_snapshot"

    system: Mapped[str] = mapped_column(String(32), primary_key=True)
    object: Mapped[str] = mapped_column(String(64), primary_key=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # name -> {"type": ..., "required": bool}
    taken_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Finding(Base):
    """Something the intelligence noticed (an anomaly, a schema drift), explained; open until dismissed.
    ``key`` makes noticing the same thing twice one finding."""

    __tablename__ = "ll_finding"
    __table_args__ = (Index("ix_finding_kind_status", "kind", "status"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # anomaly | schema_drift
    rule: Mapped[str] = mapped_column(String(64))  # e.g. amount_outlier, volume_spike, field_removed
    subject: Mapped[str] = mapped_column(String(200))  # a record, a flow, a mapping
    message: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | dismissed
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
