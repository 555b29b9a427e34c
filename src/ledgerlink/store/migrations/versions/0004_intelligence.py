"""Intelligence: the golden-record review queue, schema snapshots for drift, findings (anomalies, drift).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ll_match_review",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("source_system", sa.String(32), nullable=False),
        sa.Column("source_object", sa.String(64), nullable=False),
        sa.Column("source_id", sa.String(128), nullable=False),
        sa.Column("target_system", sa.String(32), nullable=False),
        sa.Column("target_object", sa.String(64), nullable=False),
        sa.Column("target_id", sa.String(128), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("why", sa.JSON, nullable=False),
        sa.Column("source_record", sa.JSON, nullable=False),
        sa.Column("target_record", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("source_system", "source_object", "source_id", "target_id", name="uq_match_review_pair"),
    )
    op.create_index("ix_match_review_status", "ll_match_review", ["status"])
    op.create_table(
        "ll_schema_snapshot",
        sa.Column("system", sa.String(32), primary_key=True),
        sa.Column("object", sa.String(64), primary_key=True),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ll_finding",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_finding_kind_status", "ll_finding", ["kind", "status"])
    op.create_index("ix_ll_finding_at", "ll_finding", ["at"])


def downgrade() -> None:
    op.drop_table("ll_finding")
    op.drop_table("ll_schema_snapshot")
    op.drop_index("ix_match_review_status", "ll_match_review")
    op.drop_table("ll_match_review")
