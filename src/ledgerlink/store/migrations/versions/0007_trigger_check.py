"""Trigger checks: when each trigger last read its source successfully, changes or none (stalled-trigger alerts).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ll_trigger_check",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ll_trigger_check")
