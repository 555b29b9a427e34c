"""The console's tables: users, API tokens, sessions, connections, alerts, metric samples, webhook receipts.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "ll_user",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("disabled", sa.Integer, nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "ll_api_token",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_pk", sa.Integer, sa.ForeignKey("ll_user.pk", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        _ts("created_at"),
        _ts("last_used_at", True),
        _ts("revoked_at", True),
    )
    op.create_index("ix_ll_api_token_user_pk", "ll_api_token", ["user_pk"])
    op.create_table(
        "ll_web_session",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user_pk", sa.Integer, sa.ForeignKey("ll_user.pk", ondelete="CASCADE"), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
    )
    op.create_index("ix_ll_web_session_user_pk", "ll_web_session", ["user_pk"])
    op.create_table(
        "ll_connection",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("system", sa.String(32), nullable=False),
        sa.Column("base_url", sa.String(500), nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("secret_names", sa.JSON, nullable=False),
        sa.Column("secrets_sealed", sa.Text, nullable=False),
        sa.Column("webhook_secret_sealed", sa.Text, nullable=True),
        _ts("created_at"),
        _ts("rotated_at", True),
        _ts("last_test_at", True),
        sa.Column("last_test_ok", sa.Integer, nullable=True),
        sa.Column("last_test_message", sa.Text, nullable=True),
    )
    op.create_table(
        "ll_alert_rule",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("window_minutes", sa.Integer, nullable=False),
        sa.Column("subject", sa.String(200), nullable=True),
        sa.Column("webhook_url", sa.String(500), nullable=True),
        sa.Column("email_to", sa.String(500), nullable=True),
        sa.Column("cooldown_minutes", sa.Integer, nullable=False),
        sa.Column("enabled", sa.Integer, nullable=False),
        _ts("last_fired_at", True),
        _ts("created_at"),
    )
    op.create_table(
        "ll_alert_event",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rule_pk", sa.Integer, sa.ForeignKey("ll_alert_rule.pk", ondelete="CASCADE"), nullable=False),
        _ts("at"),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("deliveries", sa.JSON, nullable=False),
    )
    op.create_index("ix_ll_alert_event_rule_pk", "ll_alert_event", ["rule_pk"])
    op.create_index("ix_ll_alert_event_at", "ll_alert_event", ["at"])
    op.create_table(
        "ll_metric_sample",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        _ts("at"),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
    )
    op.create_index("ix_metric_series", "ll_metric_sample", ["subject", "name", "at"])
    op.create_table(
        "ll_webhook_receipt",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("connection", sa.String(64), nullable=False),
        sa.Column("signature_hash", sa.String(64), nullable=False, unique=True),
        _ts("received_at"),
        sa.Column("event_type", sa.String(100), nullable=True),
        sa.Column("body", sa.JSON, nullable=False),
    )
    op.create_index("ix_ll_webhook_receipt_connection", "ll_webhook_receipt", ["connection"])


def downgrade() -> None:
    for table in (
        "ll_webhook_receipt",
        "ll_metric_sample",
        "ll_alert_event",
        "ll_alert_rule",
        "ll_connection",
        "ll_web_session",
        "ll_api_token",
        "ll_user",
    ):
        op.drop_table(table)
