"""The ledger's first tables.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ll_xref",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("system_a", sa.String(32), nullable=False),
        sa.Column("object_a", sa.String(64), nullable=False),
        sa.Column("id_a", sa.String(128), nullable=False),
        sa.Column("system_b", sa.String(32), nullable=False),
        sa.Column("object_b", sa.String(64), nullable=False),
        sa.Column("id_b", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("system_a", "object_a", "id_a", "system_b", "object_b", name="uq_xref_a"),
        sa.UniqueConstraint("system_b", "object_b", "id_b", "system_a", "object_a", name="uq_xref_b"),
    )
    op.create_table(
        "ll_watermark",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ll_record_version",
        sa.Column("system", sa.String(32), primary_key=True),
        sa.Column("object", sa.String(64), primary_key=True),
        sa.Column("record_id", sa.String(128), primary_key=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("written_by_us", sa.Integer, nullable=False),
        sa.Column("modified_at", sa.String(40), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ll_audit_log",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(200), nullable=True),
        sa.Column("source_id", sa.String(128), nullable=True),
        sa.Column("system", sa.String(32), nullable=False),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(128), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_ll_audit_log_at", "ll_audit_log", ["at"])
    op.create_index("ix_audit_record", "ll_audit_log", ["system", "object", "record_id"])
    op.create_index("ix_audit_source", "ll_audit_log", ["source_id"])
    op.create_table(
        "ll_failed_record",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("source_system", sa.String(32), nullable=False),
        sa.Column("source_object", sa.String(64), nullable=False),
        sa.Column("source_id", sa.String(128), nullable=False),
        sa.Column("target_ids", sa.JSON, nullable=False),
        sa.Column("input", sa.JSON, nullable=False),
        sa.Column("errors", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("flow", "source_id", name="uq_failed_flow_source"),
    )
    op.create_index("ix_ll_failed_record_flow", "ll_failed_record", ["flow"])
    op.create_index("ix_ll_failed_record_status", "ll_failed_record", ["status"])
    op.create_table(
        "ll_rate_bucket",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in ("ll_rate_bucket", "ll_failed_record", "ll_audit_log", "ll_record_version", "ll_watermark", "ll_xref"):
        op.drop_table(table)
