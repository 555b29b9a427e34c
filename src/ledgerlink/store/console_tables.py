"""The console's tables: users, API tokens, sign-in sessions, connections (secrets sealed by the vault),
alert rules and events, metric samples and inbound webhook receipts. Migration 0002 creates exactly these."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ledgerlink.store.tables import Base, utcnow


class User(Base):
    __tablename__ = "ll_user"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, never the password
    role: Mapped[str] = mapped_column(String(16), default="viewer")  # viewer | admin
    disabled: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiToken(Base):
    __tablename__ = "ll_api_token"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("ll_user.pk", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of a 256-bit random token
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists so a user can tell tokens apart
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WebSession(Base):
    """A signed-in browser. The cookie carries a signed random id; only its hash is stored."""

    __tablename__ = "ll_web_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("ll_user.pk", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Connection(Base):
    """A configured system. ``secrets_sealed`` and ``webhook_secret_sealed`` are vault ciphertexts, never clear text."""

    __tablename__ = "ll_connection"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    system: Mapped[str] = mapped_column(String(32))
    base_url: Mapped[str] = mapped_column(String(500))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret_names: Mapped[list[str]] = mapped_column(JSON, default=list)  # which secrets are set, for the page
    secrets_sealed: Mapped[str] = mapped_column(Text)
    webhook_secret_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rotated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_test_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_test_ok: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_test_message: Mapped[str | None] = mapped_column(Text, nullable=True)


class AlertRule(Base):
    __tablename__ = "ll_alert_rule"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))  # failure_rate | dead_letters | api_budget | stalled_trigger
    threshold: Mapped[float] = mapped_column(Float)
    window_minutes: Mapped[int] = mapped_column(Integer, default=60)
    subject: Mapped[str | None] = mapped_column(String(200), nullable=True)  # flow, connection or watermark name
    webhook_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    email_to: Mapped[str | None] = mapped_column(String(500), nullable=True)
    cooldown_minutes: Mapped[int] = mapped_column(Integer, default=60)
    enabled: Mapped[int] = mapped_column(Integer, default=1)
    last_fired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AlertEvent(Base):
    __tablename__ = "ll_alert_event"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_pk: Mapped[int] = mapped_column(ForeignKey("ll_alert_rule.pk", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    message: Mapped[str] = mapped_column(Text)
    value: Mapped[float] = mapped_column(Float)
    deliveries: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # channel -> "sent" | error text


class MetricSample(Base):
    """A measurement over time, e.g. a connection's API budget used/limit, for the overview's charts."""

    __tablename__ = "ll_metric_sample"
    __table_args__ = (Index("ix_metric_series", "subject", "name", "at"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    subject: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)


class WebhookReceipt(Base):
    """An accepted inbound webhook; the unique signature hash refuses a replay of the same request."""

    __tablename__ = "ll_webhook_receipt"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str] = mapped_column(String(64), index=True)
    signature_hash: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    event_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
