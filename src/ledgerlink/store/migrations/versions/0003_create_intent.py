"""Create intents: a create about to be made for a source record, so a later attempt knows to look first.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ll_create_intent",
        sa.Column("flow", sa.String(64), primary_key=True),
        sa.Column("source_system", sa.String(32), primary_key=True),
        sa.Column("source_object", sa.String(64), primary_key=True),
        sa.Column("source_id", sa.String(128), primary_key=True),
        sa.Column("run_id", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ll_create_intent")
